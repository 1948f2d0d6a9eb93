//! The `users` repository: accounts and their sign-in identity.

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;
use variosync_domain::{Email, NewUser, Role, User, UserId};

use crate::db::{Access, Database};
use crate::error::{Error, Result};
use crate::transaction;

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
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn unique_email(error: sqlx::Error) -> Error {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::EmailTaken,
        _ => Error::from(error),
    }
}

impl UserRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Creates an account. Fails with [`Error::EmailTaken`] if the address is in use. Runs as
    /// the new account itself, so it needs no system access.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn create(&self, new: &NewUser) -> Result<User> {
        let id = UserId::new();
        let at = now();
        const SQL: &str = concat!(
            "INSERT INTO users (id, email, password_hash, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
            columns!()
        );
        // Signing up is the server's own work: it makes the account, its personal workspace
        // and the membership that makes the account that workspace's admin, all at once.
        let row = transaction!(&self.db, Access::System, write, |conn| {
            let row = sqlx::query_as::<_, UserRow>(SQL)
                .bind(id.as_uuid())
                .bind(new.email.as_str())
                .bind(new.password_hash.as_deref())
                .bind(new.role.as_str())
                .bind(at)
                .fetch_one(&mut *conn)
                .await
                .map_err(unique_email)?;
            crate::workspaces::insert_personal!(conn, id, at);
            row
        });
        row.try_into()
    }

    /// The account with this id, if `access` may see it.
    #[tracing::instrument(skip_all, fields(user_id = %id), err(level = "warn"))]
    pub async fn find_by_id(&self, access: Access, id: UserId) -> Result<Option<User>> {
        const SQL: &str =
            concat!("SELECT ", columns!(), " FROM users WHERE id = $1 AND ($2 IS NULL OR id = $2)");
        let row = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, UserRow>(SQL)
                .bind(id.as_uuid())
                .bind(access.scope())
                .fetch_optional(&mut *conn)
                .await?
        });
        row.map(User::try_from).transpose()
    }

    /// The account signed in by this address. A sign-in look-up happens before anyone is
    /// known, so callers pass [`Access::System`].
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn find_by_email(&self, access: Access, email: &Email) -> Result<Option<User>> {
        const SQL: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM users WHERE email = $1 AND ($2 IS NULL OR id = $2)"
        );
        let row = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, UserRow>(SQL)
                .bind(email.as_str())
                .bind(access.scope())
                .fetch_optional(&mut *conn)
                .await?
        });
        row.map(User::try_from).transpose()
    }

    /// The account's password hash (PHC string), if it has a password.
    #[tracing::instrument(skip_all, fields(user_id = %id), err(level = "warn"))]
    pub async fn password_hash(&self, access: Access, id: UserId) -> Result<Option<String>> {
        let hash: Option<Option<String>> = transaction!(&self.db, access, read, |conn| {
            sqlx::query_scalar(
                "SELECT password_hash FROM users WHERE id = $1 AND ($2 IS NULL OR id = $2)",
            )
            .bind(id.as_uuid())
            .bind(access.scope())
            .fetch_optional(&mut *conn)
            .await?
        });
        Ok(hash.flatten())
    }

    /// One page of accounts in creation order, starting after `after` (keyset pagination:
    /// stable while accounts are added, and as fast on the last page as on the first).
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn list(
        &self,
        access: Access,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>> {
        const SQL: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM users WHERE ($2 IS NULL OR id > $2) AND ($3 IS NULL OR id = $3) \
             ORDER BY id LIMIT $1"
        );
        let rows = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, UserRow>(SQL)
                .bind(i64::from(limit))
                .bind(after.map(|id| id.as_uuid()))
                .bind(access.scope())
                .fetch_all(&mut *conn)
                .await?
        });
        rows.into_iter().map(User::try_from).collect()
    }

    /// How many accounts `access` can see.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn count(&self, access: Access) -> Result<u64> {
        let count: i64 = transaction!(&self.db, access, read, |conn| {
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE ($1 IS NULL OR id = $1)")
                .bind(access.scope())
                .fetch_one(&mut *conn)
                .await?
        });
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// Disables or re-enables an account; returns the updated account, or `None` if there is
    /// no such account.
    #[tracing::instrument(skip_all, fields(user_id = %id, disabled), err(level = "warn"))]
    pub async fn set_disabled(
        &self,
        access: Access,
        id: UserId,
        disabled: bool,
    ) -> Result<Option<User>> {
        // Disabling an already disabled account keeps the original time.
        const SQL: &str = concat!(
            "UPDATE users SET \
             disabled_at = CASE WHEN $3 THEN COALESCE(disabled_at, $4) ELSE NULL END, \
             updated_at = $4 WHERE id = $1 AND ($2 IS NULL OR id = $2) RETURNING ",
            columns!()
        );
        self.update_one(access, SQL, id, vec![Param::Bool(disabled), Param::Time(now())]).await
    }

    /// Changes an account's role.
    #[tracing::instrument(skip_all, fields(user_id = %id, role = %role), err(level = "warn"))]
    pub async fn set_role(&self, access: Access, id: UserId, role: Role) -> Result<Option<User>> {
        const SQL: &str = concat!(
            "UPDATE users SET role = $3, updated_at = $4 WHERE id = $1 AND ($2 IS NULL OR id = $2) RETURNING ",
            columns!()
        );
        self.update_one(
            access,
            SQL,
            id,
            vec![Param::Text(role.as_str().into()), Param::Time(now())],
        )
        .await
    }

    /// Marks the account's address as confirmed (keeping the first confirmation time).
    #[tracing::instrument(skip_all, fields(user_id = %id), err(level = "warn"))]
    pub async fn mark_email_verified(&self, access: Access, id: UserId) -> Result<Option<User>> {
        const SQL: &str = concat!(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $3), updated_at = $3 \
             WHERE id = $1 AND ($2 IS NULL OR id = $2) RETURNING ",
            columns!()
        );
        self.update_one(access, SQL, id, vec![Param::Time(now())]).await
    }

    /// Replaces the sign-in address with one whose ownership was just confirmed.
    #[tracing::instrument(skip_all, fields(user_id = %id), err(level = "warn"))]
    pub async fn set_email(
        &self,
        access: Access,
        id: UserId,
        email: &Email,
    ) -> Result<Option<User>> {
        const SQL: &str = concat!(
            "UPDATE users SET email = $3, email_verified_at = $4, updated_at = $4 \
             WHERE id = $1 AND ($2 IS NULL OR id = $2) RETURNING ",
            columns!()
        );
        self.update_one(
            access,
            SQL,
            id,
            vec![Param::Text(email.as_str().into()), Param::Time(now())],
        )
        .await
        .map_err(|error| match error {
            Error::Database(db) => unique_email(db),
            other => other,
        })
    }

    /// Stores a new password hash; returns whether the account exists.
    #[tracing::instrument(skip_all, fields(user_id = %id), err(level = "warn"))]
    pub async fn set_password_hash(&self, access: Access, id: UserId, hash: &str) -> Result<bool> {
        const SQL: &str = concat!(
            "UPDATE users SET password_hash = $3, updated_at = $4 WHERE id = $1 AND ($2 IS NULL OR id = $2) RETURNING ",
            columns!()
        );
        let params = vec![Param::Text(hash.to_owned()), Param::Time(now())];
        Ok(self.update_one(access, SQL, id, params).await?.is_some())
    }

    /// Deletes an account (its sessions, keys and tokens go with it; ledger and audit rows
    /// stay, anonymised); returns whether it existed.
    #[tracing::instrument(skip_all, fields(user_id = %id), err(level = "warn"))]
    pub async fn delete(&self, access: Access, id: UserId) -> Result<bool> {
        let deleted = transaction!(&self.db, access, write, |conn| {
            sqlx::query("DELETE FROM users WHERE id = $1 AND ($2 IS NULL OR id = $2)")
                .bind(id.as_uuid())
                .bind(access.scope())
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        Ok(deleted > 0)
    }

    /// Runs an `UPDATE ... WHERE id = $1 AND ($2 IS NULL OR id = $2) RETURNING` statement
    /// (`$2` is the acting user, or NULL for system access) with `params` bound as `$3`,
    /// `$4`, ..., and returns the updated account.
    async fn update_one(
        &self,
        access: Access,
        sql: &'static str,
        id: UserId,
        params: Vec<Param>,
    ) -> Result<Option<User>> {
        let row = transaction!(&self.db, access, write, |conn| {
            let mut query =
                sqlx::query_as::<_, UserRow>(sql).bind(id.as_uuid()).bind(access.scope());
            for param in params {
                query = match param {
                    Param::Text(text) => query.bind(text),
                    Param::Bool(flag) => query.bind(flag),
                    Param::Time(at) => query.bind(at),
                };
            }
            query.fetch_optional(&mut *conn).await?
        });
        row.map(User::try_from).transpose()
    }
}

/// A parameter of [`UserRepository::update_one`].
enum Param {
    Text(String),
    Bool(bool),
    Time(DateTime<Utc>),
}
