//! User accounts as the rest of the product sees them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Email, UserId};

/// What a user may do beyond their own data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An ordinary account: sees and changes only its own data.
    User,
    /// An operator: may manage users, jobs and balances.
    Admin,
}

impl Role {
    /// The name stored in the database and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a known role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected \"user\" or \"admin\"")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Self::User),
            "admin" => Ok(Self::Admin),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// An account as stored. The password hash is deliberately not part of it, so that a `User`
/// can be logged or serialised without leaking credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(description = "A user account.")]
pub struct User {
    /// The account's id.
    pub id: UserId,
    /// The sign-in address, canonical form.
    pub email: Email,
    /// What the account may do.
    pub role: Role,
    /// When the address was confirmed, if it has been.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// When an admin disabled the account, if they did.
    pub disabled_at: Option<DateTime<Utc>>,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the account last changed.
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// Whether the account may sign in at all.
    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none()
    }
}

/// What is needed to create an account.
#[derive(Clone)]
pub struct NewUser {
    /// The sign-in address.
    pub email: Email,
    /// A PHC-format password hash, or `None` for accounts that sign in by link or OAuth only.
    pub password_hash: Option<String>,
    /// The account's role.
    pub role: Role,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "[redacted]"))
            .field("role", &self.role)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_stored_names() {
        for role in [Role::User, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn a_new_user_never_prints_its_password_hash() {
        let new = NewUser {
            email: Email::parse("ada@example.com").unwrap(),
            password_hash: Some("$argon2id$secret".into()),
            role: Role::User,
        };
        assert!(!format!("{new:?}").contains("secret"));
    }
}
