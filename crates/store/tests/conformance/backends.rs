//! The databases each conformance body runs against.

use tempfile::TempDir;
use variosync_store::settings::DatabaseSettings;
use variosync_store::{Database, testing};

/// A migrated SQLite database in a fresh folder (kept as long as the folder lives).
pub async fn sqlite() -> (TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&DatabaseSettings::default(), dir.path())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    (dir, db)
}

/// A migrated fresh PostgreSQL database, when `VARIOSYNC_TEST_POSTGRES_URL` is set.
pub async fn postgres() -> Option<Database> {
    let settings = testing::fresh_postgres().await?;
    let db = Database::connect(&settings, std::path::Path::new("."))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    Some(db)
}
