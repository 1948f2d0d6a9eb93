//! The `users` repository: accounts and their sign-in identity.

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;
use variosync_domain::{Email, NewUser, Role, User, UserId};

use crate::db::Database;
use crate::dispatch;
use crate::error::{Error, Result};

/// The columns every query returns, matching [`UserRow`].
macro_rules! columns {
    () => {
        "id, email, role, email_verified_at, disabled_at, created_at, updated_at"
    };
}

/// Reads and writes accounts.
#[derive(Debug, Clone)]
pub struct UserRepository {
    db: Database,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    role: String,
    email_verified_at: Option<DateTime<Utc>>,
    disabled_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = Error;

    fn try_from(row: UserRow) -> Result<Self> {
        Ok(User {
            id: UserId::from_uuid(row.id),
            email: Email::parse(&row.email)
                .map_err(|e| Error::Corrupt(format!("user {}: {e}", row.id)))?,
            role: row
                .role
                .parse::<Role>()
                .map_err(|e| Error::Corrupt(format!("user {}: {e}", row.id)))?,
            email_verified_at: row.email_verified_at,
            disabled_at: row.disabled_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The current time at the precision both databases keep (microseconds), so that what is
/// returned after a write equals what a later read returns.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl UserRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Creates an account. Fails with [`Error::EmailTaken`] if the address is in use.
    #[tracing::instrument(skip_all, err)]
    pub async fn create(&self, new: &NewUser) -> Result<User> {
        let id = UserId::new();
        let at = now();
        const SQL: &str = concat!(
            "INSERT INTO users \
             (id, email, password_hash, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             RETURNING ",
            columns!()
        );
        let row = dispatch!(&self.db, |pool| {
            sqlx::query_as::<_, UserRow>(SQL)
                .bind(id.as_uuid())
                .bind(new.email.as_str())
                .bind(new.password_hash.as_deref())
                .bind(new.role.as_str())
                .bind(at)
                .fetch_one(pool)
                .await
        })
        .map_err(|error| match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::EmailTaken,
            _ => Error::from(error),
        })?;
        row.try_into()
    }

    /// The account with this id, if it exists.
    #[tracing::instrument(skip_all, fields(user_id = %id), err)]
    pub async fn find_by_id(&self, id: UserId) -> Result<Option<User>> {
        const SQL: &str = concat!("SELECT ", columns!(), " FROM users WHERE id = $1");
        let row = dispatch!(&self.db, |pool| {
            sqlx::query_as::<_, UserRow>(SQL)
                .bind(id.as_uuid())
                .fetch_optional(pool)
                .await
        })?;
        row.map(User::try_from).transpose()
    }

    /// The account signed in by this address, if any.
    #[tracing::instrument(skip_all, err)]
    pub async fn find_by_email(&self, email: &Email) -> Result<Option<User>> {
        const SQL: &str = concat!("SELECT ", columns!(), " FROM users WHERE email = $1");
        let row = dispatch!(&self.db, |pool| {
            sqlx::query_as::<_, UserRow>(SQL)
                .bind(email.as_str())
                .fetch_optional(pool)
                .await
        })?;
        row.map(User::try_from).transpose()
    }

    /// One page of accounts in creation order, starting after `after` (keyset pagination:
    /// stable while accounts are added, and as fast on the last page as on the first).
    #[tracing::instrument(skip_all, err)]
    pub async fn list(&self, after: Option<UserId>, limit: u32) -> Result<Vec<User>> {
        const FIRST: &str = concat!("SELECT ", columns!(), " FROM users ORDER BY id LIMIT $1");
        const NEXT: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM users WHERE id > $2 ORDER BY id LIMIT $1"
        );
        let limit = i64::from(limit);
        let rows = dispatch!(&self.db, |pool| match after {
            None =>
                sqlx::query_as::<_, UserRow>(FIRST)
                    .bind(limit)
                    .fetch_all(pool)
                    .await,
            Some(after) => {
                sqlx::query_as::<_, UserRow>(NEXT)
                    .bind(limit)
                    .bind(after.as_uuid())
                    .fetch_all(pool)
                    .await
            }
        })?;
        rows.into_iter().map(User::try_from).collect()
    }

    /// How many accounts exist.
    #[tracing::instrument(skip_all, err)]
    pub async fn count(&self) -> Result<u64> {
        let count: i64 = dispatch!(&self.db, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM users")
                .fetch_one(pool)
                .await
        })?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// Disables or re-enables an account; returns the updated account, or `None` if there is
    /// no such account.
    #[tracing::instrument(skip_all, fields(user_id = %id, disabled), err)]
    pub async fn set_disabled(&self, id: UserId, disabled: bool) -> Result<Option<User>> {
        // Disabling an already disabled account keeps the original time.
        const SQL: &str = concat!(
            "UPDATE users SET \
             disabled_at = CASE WHEN $2 THEN COALESCE(disabled_at, $3) ELSE NULL END, \
             updated_at = $3 WHERE id = $1 \
             RETURNING ",
            columns!()
        );
        let row = dispatch!(&self.db, |pool| {
            sqlx::query_as::<_, UserRow>(SQL)
                .bind(id.as_uuid())
                .bind(disabled)
                .bind(now())
                .fetch_optional(pool)
                .await
        })?;
        row.map(User::try_from).transpose()
    }

    /// Deletes an account; returns whether it existed.
    #[tracing::instrument(skip_all, fields(user_id = %id), err)]
    pub async fn delete(&self, id: UserId) -> Result<bool> {
        let result = dispatch!(&self.db, |pool| {
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(id.as_uuid())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(result > 0)
    }
}
