//! One-time tokens sent by e-mail: address verification, password reset, magic-link sign-in,
//! change of address and the confirmation of a sign-up (which carries the hash of the
//! password chosen, until the link is used). Only the SHA-256 of a token is stored; a token is consumed by one
//! atomic update, so it works once and never again, and not after it expires.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use variosync_domain::{AuthTokenId, Email, TokenPurpose, UserId};

use crate::db::{Access, Database};
use crate::error::{Error, Result};
use crate::transaction;
use crate::users::now;

/// A token's record (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthToken {
    /// The record's id.
    pub id: AuthTokenId,
    /// The account it acts on, if the address has one.
    pub user_id: Option<UserId>,
    /// What it is for.
    pub purpose: TokenPurpose,
    /// The address it was sent to.
    pub email: Email,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// For a sign-up: the hash of the password chosen (handed over once, when the token is
    /// used, and then erased).
    pub password_hash: Option<PasswordHash>,
}

/// A PHC-format password hash, never shown in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

/// What is needed to issue a token.
#[derive(Debug, Clone)]
pub struct NewAuthToken {
    /// The account it acts on, if any.
    pub user_id: Option<UserId>,
    /// What it is for.
    pub purpose: TokenPurpose,
    /// SHA-256 of the token.
    pub token_hash: [u8; 32],
    /// The address it is sent to.
    pub email: Email,
    /// How long it works.
    pub lifetime: Duration,
    /// For a sign-up: the hash of the password chosen.
    pub password_hash: Option<PasswordHash>,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: Uuid,
    user_id: Option<Uuid>,
    purpose: String,
    email: String,
    expires_at: DateTime<Utc>,
    password_hash: Option<String>,
}

impl TryFrom<TokenRow> for AuthToken {
    type Error = Error;

    fn try_from(row: TokenRow) -> Result<Self> {
        let corrupt = |e: String| Error::Corrupt(format!("auth token {}: {e}", row.id));
        Ok(Self {
            id: AuthTokenId::from_uuid(row.id),
            user_id: row.user_id.map(UserId::from_uuid),
            purpose: row
                .purpose
                .parse()
                .map_err(|e: variosync_domain::UnknownName| corrupt(e.to_string()))?,
            email: Email::parse(&row.email).map_err(|e| corrupt(e.to_string()))?,
            expires_at: row.expires_at,
            password_hash: row.password_hash.map(PasswordHash),
        })
    }
}

/// Issues and consumes one-time tokens.
#[derive(Debug, Clone)]
pub struct AuthTokenRepository {
    db: Database,
}

impl AuthTokenRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Stores a new token. Tokens for an address without an account (a magic link that will
    /// create one) are issued with system access.
    #[tracing::instrument(skip_all, fields(purpose = %new.purpose), err(level = "warn"))]
    pub async fn issue(&self, new: NewAuthToken) -> Result<AuthToken> {
        let at = now();
        let access = new.user_id.map_or(Access::System, Access::person);
        let row = transaction!(&self.db, access, write, |conn| {
            sqlx::query_as::<_, TokenRow>(
                "INSERT INTO auth_tokens \
                 (id, user_id, purpose, token_hash, email, created_at, expires_at, password_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 RETURNING id, user_id, purpose, email, expires_at, password_hash",
            )
            .bind(AuthTokenId::new().as_uuid())
            .bind(new.user_id.map(|id| id.as_uuid()))
            .bind(new.purpose.as_str())
            .bind(&new.token_hash[..])
            .bind(new.email.as_str())
            .bind(at)
            .bind(at + new.lifetime)
            .bind(new.password_hash.as_ref().map(|hash| hash.0.as_str()))
            .fetch_one(&mut *conn)
            .await?
        });
        row.try_into()
    }

    /// Uses up the unexpired, unused token of this purpose whose hash is `token_hash`, and
    /// returns it; `None` if there is none (wrong, used, expired or for another purpose).
    /// Runs with system access: the token is what identifies the user.
    #[tracing::instrument(skip_all, fields(purpose = %purpose), err(level = "warn"))]
    pub async fn consume(
        &self,
        purpose: TokenPurpose,
        token_hash: &[u8; 32],
    ) -> Result<Option<AuthToken>> {
        let row = transaction!(&self.db, Access::System, write, |conn| {
            let row = sqlx::query_as::<_, TokenRow>(
                "UPDATE auth_tokens SET used_at = $3 WHERE token_hash = $1 AND purpose = $2 \
                 AND used_at IS NULL AND expires_at > $3 \
                 RETURNING id, user_id, purpose, email, expires_at, password_hash",
            )
            .bind(&token_hash[..])
            .bind(purpose.as_str())
            .bind(now())
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(row) = row.as_ref().filter(|row| row.password_hash.is_some()) {
                // Handed over once: the used token keeps no hash.
                sqlx::query("UPDATE auth_tokens SET password_hash = NULL WHERE id = $1")
                    .bind(row.id)
                    .execute(&mut *conn)
                    .await?;
            }
            row
        });
        row.map(AuthToken::try_from).transpose()
    }
}
