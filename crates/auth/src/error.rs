//! The one error type of the accounts layer.

use variosync_domain::ErrorKind;

/// Shorthand for results of account operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in an account operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The password does not meet the strength rule.
    #[error("{0}")]
    WeakPassword(&'static str),
    /// The e-mail address is not acceptable.
    #[error(transparent)]
    InvalidEmail(#[from] variosync_domain::EmailError),
    /// Wrong address or password; deliberately does not say which.
    #[error("the e-mail address or password is wrong")]
    WrongCredentials,
    /// Too many failed sign-ins for this account: wait before trying again.
    #[error("too many failed sign-ins for this account; try again in {} s", .0.as_secs().max(1))]
    TooManyAttempts(std::time::Duration),
    /// The account has been disabled by an admin.
    #[error("this account is disabled")]
    Disabled,
    /// A key name is empty or too long.
    #[error("a key name of 1 to 100 visible characters is required")]
    InvalidKeyName,
    /// A mail setting cannot be used.
    #[error("invalid mail setting: {0}")]
    MailConfig(&'static str),
    /// A message could not be delivered to the SMTP server or the outbox.
    #[error("sending mail failed: {0}")]
    MailSend(String),
    /// The token is wrong, used or expired.
    #[error("this link is invalid or has expired; ask for a new one")]
    InvalidToken,
    /// An admin tried to disable or demote their own account.
    #[error("an admin cannot disable or demote their own account")]
    SelfLockout,
    /// The external-JWT settings cannot be used.
    #[error("invalid external JWT settings: {0}")]
    ExternalConfig(&'static str),
    /// The external issuer's published keys could not be fetched.
    #[error("cannot fetch the external issuer's keys: {0}")]
    ExternalKeys(String),
    /// An OpenID Connect sign-in could not complete.
    #[error("the sign-in with the identity provider failed: {0}")]
    Oidc(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] variosync_store::Error),
    /// A blocking task (password hashing) could not finish.
    #[error("a background task failed")]
    Task(#[from] tokio::task::JoinError),
    /// Hashing failed in a way that signals a bug or a corrupt stored hash.
    #[error("password hashing failed")]
    Hashing,
}

impl Error {
    /// How the layers above should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::WeakPassword(_) | Self::InvalidEmail(_) | Self::InvalidKeyName => {
                ErrorKind::InvalidInput
            }
            Self::WrongCredentials => ErrorKind::Unauthenticated,
            Self::Disabled => ErrorKind::Forbidden,
            Self::TooManyAttempts(_) => ErrorKind::RateLimited,
            Self::Oidc(_) => ErrorKind::Unauthenticated,
            Self::SelfLockout => ErrorKind::Conflict,
            Self::Store(error) => error.kind(),
            Self::InvalidToken => ErrorKind::Unauthenticated,
            Self::MailSend(_) | Self::ExternalKeys(_) => ErrorKind::Unavailable,
            Self::ExternalConfig(_) => ErrorKind::Internal,
            Self::Task(_) | Self::Hashing | Self::MailConfig(_) => ErrorKind::Internal,
        }
    }
}

impl Error {
    /// A stable, machine-readable code for the failure, such as `weak_password`; a failure
    /// of storage answers the store's code, and one with no code of its own its kind's name.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(store) => store.code(),
            Self::WeakPassword(_) => "weak_password",
            Self::InvalidEmail(_) => "invalid_email",
            Self::WrongCredentials => "wrong_credentials",
            Self::Disabled => "account_disabled",
            Self::InvalidKeyName => "invalid_key_name",
            Self::InvalidToken => "invalid_token",
            Self::SelfLockout => "self_lockout",
            Self::TooManyAttempts(_) => "rate_limited",
            other if other.kind() == ErrorKind::Internal => "internal",
            other => other.kind().as_str(),
        }
    }
}
