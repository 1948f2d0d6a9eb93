//! Passwords: the strength rule, and argon2id hashing off the async threads.

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::{Error, Result};

/// Shortest password accepted. Length is what makes a password hard to guess; composition
/// rules mostly make it hard to remember (NIST SP 800-63B).
pub const MIN_LEN: usize = 10;
/// Longest password accepted: long enough for any passphrase, short enough that hashing it
/// cannot be used to burn CPU.
pub const MAX_LEN: usize = 256;

/// Passwords seen so often in breaches that length alone does not make them safe.
const COMMON: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "0123456789",
    "1q2w3e4r5t",
    "qwertyuiop",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "iloveyou12",
    "letmein123",
    "welcome123",
    "abc1234567",
    "qwerty1234",
    "adminadmin",
    "administrator",
    "1111111111",
    "0987654321",
    "aaaaaaaaaa",
    "asdfghjkl1",
    "zaq12wsxcde",
    "changeme123",
    "variosync1",
];

/// A password that meets the strength rule. Its `Debug` output never shows it.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    /// Checks a new password: 10 to 256 characters, not one repeated character, not a
    /// well-known password, and not the account's own address.
    pub fn parse(candidate: &str, email: &str) -> Result<Self> {
        let length = candidate.chars().count();
        if length < MIN_LEN {
            return Err(Error::WeakPassword("the password must have at least 10 characters"));
        }
        if length > MAX_LEN {
            return Err(Error::WeakPassword("the password must have at most 256 characters"));
        }
        let mut chars = candidate.chars();
        let first = chars.next();
        if chars.all(|c| Some(c) == first) {
            return Err(Error::WeakPassword("the password must not repeat a single character"));
        }
        let lowered = candidate.to_lowercase();
        if COMMON.contains(&lowered.as_str()) {
            return Err(Error::WeakPassword("this password is too common; choose another"));
        }
        let local = email.split('@').next().unwrap_or_default().to_lowercase();
        if lowered == email.to_lowercase() || (!local.is_empty() && lowered == local) {
            return Err(Error::WeakPassword("the password must not be your e-mail address"));
        }
        Ok(Self(candidate.to_owned()))
    }

    /// The password, for hashing.
    fn expose(&self) -> &str {
        &self.0
    }
}

/// Hashes a password with argon2id (PHC string), on a blocking thread so that the ~50 ms of
/// deliberate work never stalls the async runtime.
pub async fn hash(password: &Password) -> Result<String> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|_| Error::Hashing)
    })
    .await?
}

/// Checks `candidate` against a stored PHC hash, on a blocking thread. With no stored hash
/// (unknown address, or an account without a password) it still does the same work against
/// a fixed hash, so response time does not reveal which addresses have accounts.
pub async fn verify(candidate: &str, stored: Option<&str>) -> Result<bool> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let (hash, real) = match stored {
        Some(hash) => (hash.to_owned(), true),
        None => {
            let dummy = DUMMY.get_or_init(|| {
                Argon2::default()
                    .hash_password(b"no account has this password")
                    .map(|hash| hash.to_string())
                    .unwrap_or_default()
            });
            (dummy.clone(), false)
        }
    };
    let candidate = candidate.to_owned();
    let matched = tokio::task::spawn_blocking(move || {
        Argon2::default().verify_password(candidate.as_bytes(), hash.as_str()).is_ok()
    })
    .await?;
    Ok(real && matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strength_rule_explains_each_refusal() {
        let email = "ada@example.com";
        assert!(Password::parse("correct horse battery", email).is_ok());
        for (weak, reason) in [
            ("short", "at least 10"),
            ("aaaaaaaaaaaaaa", "repeat"),
            ("Password123", "too common"),
            ("ada@example.com", "e-mail"),
            ("ADA@EXAMPLE.COM", "e-mail"),
        ] {
            let error = Password::parse(weak, email).unwrap_err().to_string();
            assert!(error.contains(reason), "{weak}: {error}");
        }
        assert!(Password::parse(&"x".repeat(100).replace("xx", "xy"), email).is_ok());
        assert!(Password::parse(&"xy".repeat(200), email).is_err(), "over 256 characters");
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let password = Password::parse("correct horse battery", "a@b.co").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let password = Password::parse("correct horse battery", "a@b.co").unwrap();
        let hash = hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("horse"));
        assert!(verify("correct horse battery", Some(&hash)).await.unwrap());
        assert!(!verify("correct horse battery!", Some(&hash)).await.unwrap());
        assert!(!verify("correct horse battery", None).await.unwrap());
        assert!(!verify("anything", Some("not a hash")).await.unwrap());
    }
}
