//! The one error type of the use cases: a kind (which the web layer turns into a status), a
//! stable code for programs and a message for people. Internal causes are kept for the log
//! and never shown.

use variosync_domain::ErrorKind;

/// `Result` with the use cases' error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a use case did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not valid: `code` says which rule it broke, `message` how.
    #[error("{message}")]
    Invalid {
        /// Such as `invalid_mapping`.
        code: &'static str,
        /// What is wrong, in words.
        message: String,
    },
    /// Nothing of that kind is visible to the caller (another workspace's things included).
    #[error("{message}")]
    NotFound {
        /// Such as `dataset_not_found`.
        code: &'static str,
        /// What was not found.
        message: String,
    },
    /// The request contradicts the state of what it acts on.
    #[error("{message}")]
    Conflict {
        /// Such as `upload_incomplete`.
        code: &'static str,
        /// What is in the way.
        message: String,
    },
    /// It existed, and its time is over (an expired download link).
    #[error("{message}")]
    Gone {
        /// Such as `export_expired`.
        code: &'static str,
        /// What expired, and when.
        message: String,
    },
    /// The caller may not do this.
    #[error("{message}")]
    Forbidden {
        /// Such as `admin_only`.
        code: &'static str,
        /// Why not.
        message: String,
    },
    /// The hour balance cannot cover the work.
    #[error("{message}")]
    InsufficientHours {
        /// What is needed and what is there.
        message: String,
    },
    /// More bytes than allowed.
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// A service we depend on (not ours to fix) did not answer.
    #[error("{what} did not answer; try again shortly")]
    Unavailable {
        /// The service.
        what: &'static str,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Storage failed (or refused: its own kind and code say how).
    #[error(transparent)]
    Store(#[from] variosync_store::Error),
    /// Something on our side failed; `what` names the step, the source the cause.
    #[error("{what}")]
    Internal {
        /// The step that failed.
        what: &'static str,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// An invalid input.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { code, message: message.into() }
    }

    /// An id in a path or query that is not an id at all (ids are UUIDs): a malformed
    /// request, not a missing thing.
    pub fn malformed_id(what: &str, text: &str) -> Self {
        let shown: String = text.chars().take(64).collect();
        Self::invalid("invalid_id", format!("{shown:?} is not a {what} id: ids are UUIDs"))
    }

    /// `value` (or `default` where none was given) when it lies within `min..=max`; a
    /// value outside is refused, never silently moved into bounds.
    pub fn bounded(
        name: &str,
        value: Option<u32>,
        default: u32,
        min: u32,
        max: u32,
    ) -> Result<u32> {
        match value.unwrap_or(default) {
            value if (min..=max).contains(&value) => Ok(value),
            value => Err(Self::invalid(
                "invalid_query",
                format!("{name} must be {min} to {max}, not {value}"),
            )),
        }
    }

    /// Something not found.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound { code, message: message.into() }
    }

    /// A conflict with the current state.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }

    /// A failure on our side at step `what`.
    pub fn internal(
        what: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Internal { what, source: source.into() }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid { .. } => ErrorKind::InvalidInput,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Conflict { .. } => ErrorKind::Conflict,
            Self::Forbidden { .. } => ErrorKind::Forbidden,
            Self::Gone { .. } => ErrorKind::Gone,
            Self::InsufficientHours { .. } => ErrorKind::PaymentRequired,
            Self::TooLarge { .. } => ErrorKind::TooLarge,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::Store(error) => error.kind(),
            Self::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Gone { code, .. } => code,
            Self::InsufficientHours { .. } => "insufficient_hours",
            Self::TooLarge { .. } => "too_large",
            Self::Unavailable { .. } => "unavailable",
            Self::Store(error) => error.code(),
            Self::Internal { .. } => "internal",
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Self::internal("the working folder failed", error)
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::internal("a background task stopped", error)
    }
}
