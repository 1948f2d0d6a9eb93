//! The databases each conformance body runs against.

use tempfile::TempDir;
use variosync_store::settings::DatabaseSettings;
use variosync_store::{Database, testing};

/// A migrated SQLite database in a fresh folder (kept as long as the folder lives).
pub async fn sqlite() -> (TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&DatabaseSettings::default(), dir.path()).await.unwrap();
    db.migrate().await.unwrap();
    (dir, db)
}

/// A migrated fresh PostgreSQL database, when `VARIOSYNC_TEST_POSTGRES_URL` is set.
pub async fn postgres() -> Option<Database> {
    let settings = testing::fresh_postgres().await?;
    let db = Database::connect(&settings, std::path::Path::new(".")).await.unwrap();
    db.migrate().await.unwrap();
    Some(db)
}

/// Creates an account with this address and returns its id.
pub async fn user(db: &Database, email: &str) -> variosync_domain::UserId {
    let new = variosync_domain::NewUser {
        email: variosync_domain::Email::parse(email).unwrap(),
        password_hash: None,
        role: variosync_domain::Role::User,
    };
    variosync_store::UserRepository::new(db.clone()).create(&new).await.unwrap().id
}

/// Generates the per-backend test functions for a conformance body.
#[macro_export]
macro_rules! on_each_database {
    ($body:ident, $sqlite:ident, $postgres:ident) => {
        #[tokio::test]
        async fn $sqlite() {
            let (_dir, db) = $crate::backends::sqlite().await;
            $body(db).await;
        }

        #[tokio::test]
        async fn $postgres() {
            let Some(db) = $crate::backends::postgres().await else {
                return;
            };
            $body(db).await;
        }
    };
}

/// Runs one statement with system access (every row visible), as a bug or an intruder
/// with the application's connection would; returns the rows it changed.
pub async fn execute_as_system(db: &Database, sql: &'static str) -> variosync_store::Result<u64> {
    Ok(variosync_store::transaction!(db, variosync_store::Access::System, write, |conn| {
        sqlx::query(sql).execute(&mut *conn).await?.rows_affected()
    }))
}
