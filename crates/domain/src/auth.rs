//! Vocabulary of accounts: API key scopes, one-time token purposes and audit actions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored and displayed name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(UnknownName { kind: stringify!($name), name: other.to_owned() }),
                }
            }
        }
    };
}

/// A name that is not one of a closed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {name:?}")]
pub struct UnknownName {
    /// Which set.
    pub kind: &'static str,
    /// The text given.
    pub name: String,
}

string_enum!(
    /// What an API key may do. Each scope includes the ones before it.
    ApiScope {
        /// Read the owner's data.
        Read => "read",
        /// Read and change the owner's data.
        Write => "write",
        /// Everything the owner may do, including admin actions if the owner is an admin.
        Admin => "admin",
    }
);

impl ApiScope {
    /// Whether a key of this scope may do what `needed` allows.
    pub fn allows(self, needed: ApiScope) -> bool {
        self.rank() >= needed.rank()
    }

    fn rank(self) -> u8 {
        match self {
            Self::Read => 0,
            Self::Write => 1,
            Self::Admin => 2,
        }
    }
}

string_enum!(
    /// What a one-time e-mail token is for.
    TokenPurpose {
        /// Confirms the address of a new account.
        VerifyEmail => "verify_email",
        /// Lets the owner of the address set a new password.
        ResetPassword => "reset_password",
        /// Signs in without a password.
        MagicLink => "magic_link",
        /// Confirms a new address before it replaces the old one.
        ChangeEmail => "change_email",
        /// Confirms the address of a sign-up; the account is made when it is used.
        SignUp => "sign_up",
    }
);

string_enum!(
    /// What an audit log entry records.
    AuditAction {
        /// An account was created.
        SignUp => "sign_up",
        /// Someone asked to sign up with the address of an existing account (its owner was
        /// mailed).
        SignUpExisting => "sign_up_existing",
        /// A successful sign-in.
        SignIn => "sign_in",
        /// A failed sign-in attempt.
        SignInFailed => "sign_in_failed",
        /// A sign-out.
        SignOut => "sign_out",
        /// The address of an account was confirmed.
        EmailVerified => "email_verified",
        /// The password was changed by its owner.
        PasswordChanged => "password_changed",
        /// The password was reset through an e-mailed link.
        PasswordReset => "password_reset",
        /// The sign-in address was changed.
        EmailChanged => "email_changed",
        /// An API key was created.
        ApiKeyCreated => "api_key_created",
        /// An API key was revoked.
        ApiKeyRevoked => "api_key_revoked",
        /// A session was revoked.
        SessionRevoked => "session_revoked",
        /// An account's role changed.
        RoleChanged => "role_changed",
        /// An admin disabled an account.
        UserDisabled => "user_disabled",
        /// An admin re-enabled an account.
        UserEnabled => "user_enabled",
        /// Hours were granted or adjusted.
        HoursGranted => "hours_granted",
        /// An account was deleted.
        AccountDeleted => "account_deleted",
        /// A file was imported as a new dataset.
        DatasetImported => "dataset_imported",
        /// A dataset was renamed or retagged.
        DatasetUpdated => "dataset_updated",
        /// A dataset was deleted with all its versions.
        DatasetDeleted => "dataset_deleted",
        /// A forecast was deleted with its points.
        ForecastDeleted => "forecast_deleted",
        /// An export's file was deleted before its time.
        ExportDeleted => "export_deleted",
        /// A background job was submitted.
        JobSubmitted => "job_submitted",
        /// A background job was cancelled.
        JobCancelled => "job_cancelled",
        /// An admin ran a failed or cancelled job again.
        JobRetried => "job_retried",
        /// A checkout for an hour package started.
        CheckoutStarted => "checkout_started",
        /// A payment was confirmed and its hours credited.
        HoursPurchased => "hours_purchased",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_for_every_value() {
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>().unwrap(), *action);
        }
        for purpose in TokenPurpose::ALL {
            assert_eq!(purpose.as_str().parse::<TokenPurpose>().unwrap(), *purpose);
        }
        assert!("drop_tables".parse::<AuditAction>().is_err());
    }

    #[test]
    fn wider_scopes_include_narrower_ones() {
        assert!(ApiScope::Admin.allows(ApiScope::Write));
        assert!(ApiScope::Write.allows(ApiScope::Read));
        assert!(!ApiScope::Read.allows(ApiScope::Write));
    }
}
