//! E-mail addresses, checked once at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest address SMTP can carry (RFC 5321 forward-path limit).
const MAX_LEN: usize = 254;
/// The longest local part (before the `@`) RFC 5321 allows.
const MAX_LOCAL_LEN: usize = 64;

/// An e-mail address in canonical form: trimmed and lower-cased.
///
/// Accounts are looked up by address, so two spellings that differ only in case must be the
/// same account; lower-casing the whole address is what people expect from sign-in forms even
/// though RFC 5321 lets the local part be case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(format = Email, description = "An e-mail address, trimmed and lower-cased.")]
pub struct Email(String);

/// Why a string is not an acceptable e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// The address is empty after trimming.
    #[error("the e-mail address is empty")]
    Empty,
    /// The address is longer than SMTP allows.
    #[error("the e-mail address is longer than {MAX_LEN} characters")]
    TooLong,
    /// There is not exactly one `@`, or nothing before or after it.
    #[error("the e-mail address must look like name@example.com")]
    Shape,
    /// The part before the `@` is too long.
    #[error("the part before the @ is longer than {MAX_LOCAL_LEN} characters")]
    LocalTooLong,
    /// The domain is not a dotted host name.
    #[error("the domain of the e-mail address is not a valid host name")]
    Domain,
    /// Whitespace or control characters inside the address.
    #[error("the e-mail address contains spaces or control characters")]
    Whitespace,
}

impl Email {
    /// Checks and canonicalises an address typed by a person.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().count() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::Whitespace);
        }
        let lowered = trimmed.to_lowercase();
        let (local, domain) = lowered.split_once('@').ok_or(EmailError::Shape)?;
        if local.is_empty() || domain.is_empty() || domain.contains('@') {
            return Err(EmailError::Shape);
        }
        if local.chars().count() > MAX_LOCAL_LEN {
            return Err(EmailError::LocalTooLong);
        }
        let labels_ok = domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if !labels_ok || !domain.contains('.') {
            return Err(EmailError::Domain);
        }
        Ok(Self(lowered))
    }

    /// The canonical text of the address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_trimmed_and_lower_cased() {
        let email = Email::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
    }

    #[test]
    fn addresses_without_a_proper_shape_are_rejected() {
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        assert_eq!(Email::parse("ada"), Err(EmailError::Shape));
        assert_eq!(Email::parse("@example.com"), Err(EmailError::Shape));
        assert_eq!(Email::parse("ada@"), Err(EmailError::Shape));
        assert_eq!(Email::parse("a@b@example.com"), Err(EmailError::Shape));
        assert_eq!(Email::parse("ada@localhost"), Err(EmailError::Domain));
        assert_eq!(Email::parse("ada@-bad.com"), Err(EmailError::Domain));
        assert_eq!(Email::parse("ada lovelace@example.com"), Err(EmailError::Whitespace));
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(Email::parse(&long_local), Err(EmailError::LocalTooLong));
        let long = format!("a@{}.com", "b".repeat(260));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn international_domains_are_accepted() {
        assert!(Email::parse("anna@bücher.de").is_ok());
    }
}
