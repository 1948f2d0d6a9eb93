//! Secrets the server generates for itself and every replica must share, such as the key
//! that signs access tokens. The first replica to need one creates it; the others read it.

use crate::db::{Access, Database};
use crate::error::Result;
use crate::transaction;
use crate::users::now;

/// Reads and creates server secrets.
#[derive(Debug, Clone)]
pub struct ServerSecrets {
    db: Database,
}

impl ServerSecrets {
    /// Secrets in `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The secret called `name`, created with `generate()` if it does not exist yet. Two
    /// replicas racing to create it agree on whichever was stored first.
    pub async fn get_or_create(
        &self,
        name: &str,
        generate: impl FnOnce() -> String,
    ) -> Result<String> {
        let candidate = generate();
        let value: String = transaction!(&self.db, Access::System, write, |conn| {
            sqlx::query(
                "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(&candidate)
            .bind(now())
            .execute(&mut *conn)
            .await?;
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(&mut *conn)
                .await?
        });
        Ok(value)
    }
}
