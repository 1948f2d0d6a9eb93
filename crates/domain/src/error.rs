//! The shared classification of failures.

use std::fmt;

/// What kind of failure an error is, independent of the layer that raised it.
///
/// Each library crate's error reports one of these; the web layer maps it to an HTTP status
/// in exactly one place, so a missing resource is a 404 whether a repository or a parser
/// noticed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The caller sent something malformed or out of bounds.
    InvalidInput,
    /// The resource does not exist, or belongs to someone else.
    NotFound,
    /// The resource existed but has expired (a download link past its time).
    Gone,
    /// The request conflicts with the current state (a duplicate, a stale version).
    Conflict,
    /// The caller is not signed in or the credentials are invalid.
    Unauthenticated,
    /// The caller is signed in but may not do this.
    Forbidden,
    /// The caller sent too many requests; try again later.
    RateLimited,
    /// The request body or file is larger than allowed.
    TooLarge,
    /// The caller's hour balance does not cover the work.
    PaymentRequired,
    /// A backing service (database, object store, Redis) is unreachable or overloaded.
    Unavailable,
    /// A bug or an unexpected state on our side.
    Internal,
}

impl ErrorKind {
    /// A stable snake_case name, used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::NotFound => "not_found",
            Self::Gone => "gone",
            Self::Conflict => "conflict",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate_limited",
            Self::TooLarge => "too_large",
            Self::PaymentRequired => "payment_required",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error and its causes on one line (`outer: cause: root cause`), for logs and for
/// people. A cause whose words the line already holds (an error that shows its source in
/// its own message) is not repeated.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod chain_tests {
    use super::error_chain;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("reading the file failed: {0}")]
        Shows(#[source] std::io::Error),
        #[error("reading the file failed")]
        Hides(#[source] std::io::Error),
    }

    #[test]
    fn a_cause_already_shown_is_not_repeated() {
        let cause = || std::io::Error::other("incomplete deflate stream");
        assert_eq!(
            error_chain(&Outer::Shows(cause())),
            "reading the file failed: incomplete deflate stream"
        );
        assert_eq!(
            error_chain(&Outer::Hides(cause())),
            "reading the file failed: incomplete deflate stream"
        );
    }
}
