//! Links between accounts and their identities at external issuers.

use uuid::Uuid;
use variosync_domain::{Email, UserId};

use crate::db::{Access, Database};
use crate::error::Result;
use crate::transaction;
use crate::users::now;

/// Reads and records external identities.
#[derive(Debug, Clone)]
pub struct IdentityRepository {
    db: Database,
}

impl IdentityRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The account linked to `subject` at `issuer`. A look-up by identity happens before the
    /// user is known: system access.
    pub async fn find_user(&self, issuer: &str, subject: &str) -> Result<Option<UserId>> {
        let user: Option<Uuid> = transaction!(&self.db, Access::System, read, |conn| {
            sqlx::query_scalar(
                "SELECT user_id FROM external_identities WHERE issuer = $1 AND subject = $2",
            )
            .bind(issuer)
            .bind(subject)
            .fetch_optional(&mut *conn)
            .await?
        });
        Ok(user.map(UserId::from_uuid))
    }

    /// Links `subject` at `issuer` to `user` (nothing happens if it is linked already).
    pub async fn link(
        &self,
        user: UserId,
        issuer: &str,
        subject: &str,
        email: Option<&Email>,
    ) -> Result<()> {
        transaction!(&self.db, Access::person(user), write, |conn| {
            sqlx::query(
                "INSERT INTO external_identities (id, user_id, issuer, subject, email, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (issuer, subject) DO NOTHING",
            )
            .bind(Uuid::now_v7())
            .bind(user.as_uuid())
            .bind(issuer)
            .bind(subject)
            .bind(email.map(Email::as_str))
            .bind(now())
            .execute(&mut *conn)
            .await
            .map(|_| ())?
        });
        Ok(())
    }
}
