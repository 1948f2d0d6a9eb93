//! Server-generated identifiers.
//!
//! Ids are UUIDv7: unique without coordination between replicas, and ordered by creation
//! time so that indexes stay compact. Only the server mints them; text from a user becomes an
//! id only through [`std::str::FromStr`], which accepts nothing but a UUID. That is what makes
//! it safe to build object keys from ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            utoipa::ToSchema,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Mints a new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps a UUID read back from storage.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Always the hyphenated lower-case form: it is what object keys contain.
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

define_id!(
    /// Identifies a user account.
    UserId
);
define_id!(
    /// Identifies a workspace: the owner of datasets, uploads, jobs, forecasts and an hour
    /// balance. Every account has a personal workspace whose id is the account's own.
    WorkspaceId
);
define_id!(
    /// Identifies a dataset (all of its versions).
    DatasetId
);
define_id!(
    /// Identifies a staged upload before it becomes a dataset.
    UploadId
);
define_id!(
    /// Identifies a background job.
    JobId
);
define_id!(
    /// Identifies an export file.
    ExportId
);
define_id!(
    /// Identifies a forecast result.
    ForecastId
);

define_id!(
    /// Identifies a signed-in browser session (not its secret token).
    SessionId
);
define_id!(
    /// Identifies a personal API key (not its secret).
    ApiKeyId
);
define_id!(
    /// Identifies a one-time e-mail token (verification, reset, magic link).
    AuthTokenId
);
define_id!(
    /// Identifies one row of the hour ledger.
    LedgerEntryId
);
define_id!(
    /// Identifies one row of the audit log.
    AuditEntryId
);

impl WorkspaceId {
    /// The personal workspace of `user`: it shares the account's id, so an account's rows
    /// from before workspaces existed belong to it unchanged.
    pub fn personal(user: UserId) -> Self {
        Self(user.as_uuid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = UserId::new();
        let parsed: UserId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
    }

    #[test]
    fn ids_reject_anything_but_a_uuid() {
        assert!("../../etc/passwd".parse::<DatasetId>().is_err());
        assert!("".parse::<DatasetId>().is_err());
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let first = UserId::new();
        let second = UserId::new();
        assert!(first < second);
    }
}
