//! The one error type of the storage layer.

use std::time::Duration;

use variosync_domain::ErrorKind;

/// Shorthand for results of storage operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while storing or loading.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The metadata database refused or failed a query.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("applying database migrations failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The object store refused or failed an operation.
    #[error("object storage error")]
    ObjectStore(#[source] object_store::Error),
    /// Redis refused or failed a command.
    #[error("redis error")]
    Redis(#[from] redis::RedisError),
    /// An account with this address already exists.
    #[error("an account with this e-mail address already exists")]
    EmailTaken,
    /// The balance does not cover the charge.
    #[error("the hour balance does not cover this")]
    InsufficientHours,
    /// A name (of a dataset or a tag) breaks the rule for names.
    #[error(transparent)]
    InvalidName(#[from] variosync_domain::names::NameError),
    /// More tags than allowed.
    #[error("a dataset may have at most 32 tags")]
    InvalidTags,
    /// The dataset changed since the version this change was made from.
    #[error("the dataset has a newer version; reload it and try again")]
    StaleVersion,
    /// A ledger reason is empty or too long.
    #[error("a reason of 1 to 500 characters is required")]
    InvalidReason,
    /// A chunk of an upload does not start where the received bytes end.
    #[error("the upload has received {received} of {size} bytes: send the chunk at that offset")]
    UploadOffset {
        /// Bytes received so far.
        received: u64,
        /// The upload's size.
        size: u64,
    },
    /// The record does not exist or belongs to someone else.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The acting person may read this workspace's rows but not change them.
    #[error("your role in this workspace may read but not change")]
    ReadOnly,
    /// A row that records who made it was to be made with the server's own access.
    #[error("a row of a workspace is made by a person, not by the server")]
    PersonRequired,
    /// Work only the server itself may do was asked for with a person's access.
    #[error("this is the server's own work")]
    SystemOnly,
    /// The object does not exist.
    #[error("object {0} not found")]
    ObjectNotFound(String),
    /// A setting cannot be used to reach a backend.
    #[error("invalid {key}: {message}")]
    Config {
        /// The setting's name, e.g. `VARIOSYNC_DATABASE_URL`.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A row read back from the database does not satisfy the domain's rules.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A backend did not answer in time.
    #[error("{what} did not answer within {after:?}")]
    Timeout {
        /// Which backend or operation.
        what: &'static str,
        /// How long we waited.
        after: Duration,
    },
    /// Preparing local storage on disk failed.
    #[error("cannot prepare {path}")]
    Io {
        /// The path that could not be created or read.
        path: String,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// How the layers above should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::EmailTaken => ErrorKind::Conflict,
            Self::InsufficientHours => ErrorKind::PaymentRequired,
            Self::InvalidReason | Self::InvalidName(_) | Self::InvalidTags => {
                ErrorKind::InvalidInput
            }
            Self::StaleVersion | Self::UploadOffset { .. } => ErrorKind::Conflict,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::SystemOnly | Self::ReadOnly => ErrorKind::Forbidden,
            Self::ObjectNotFound(_) => ErrorKind::NotFound,
            Self::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_))
            | Self::Redis(_)
            | Self::Timeout { .. } => ErrorKind::Unavailable,
            Self::ObjectStore(_) => ErrorKind::Unavailable,
            Self::Database(_)
            | Self::Migrate(_)
            | Self::Config { .. }
            | Self::PersonRequired
            | Self::Corrupt(_)
            | Self::Io { .. } => ErrorKind::Internal,
        }
    }
}

impl Error {
    /// A stable, machine-readable code for the failure, such as `insufficient_hours`; a
    /// failure with no code of its own answers its kind's name.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmailTaken => "email_taken",
            Self::InsufficientHours => "insufficient_hours",
            Self::InvalidReason => "invalid_reason",
            Self::InvalidName(_) => "invalid_name",
            Self::InvalidTags => "invalid_tags",
            Self::StaleVersion => "stale_version",
            Self::UploadOffset { .. } => "offset_mismatch",
            Self::NotFound("user") => "user_not_found",
            Self::ReadOnly => "read_only",
            other => other.kind().as_str(),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}

impl From<object_store::Error> for Error {
    fn from(error: object_store::Error) -> Self {
        match error {
            object_store::Error::NotFound { path, .. } => Self::ObjectNotFound(path),
            other => Self::ObjectStore(other),
        }
    }
}
