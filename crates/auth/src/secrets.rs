//! Random secrets handed to clients (session cookies, e-mailed tokens, API keys): generated
//! from the OS's random source, stored only as SHA-256, compared in constant time.
//!
//! SHA-256 without salt is right here, unlike for passwords: each secret is 256 random bits,
//! so there is nothing to guess and nothing to precompute.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The SHA-256 of a secret, as stored.
pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether two digests are equal, in time independent of where they differ.
pub fn digests_match(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

fn random_text(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// A session cookie's secret, or an e-mailed one-time token: 32 random bytes, base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

impl SessionToken {
    /// A new random token.
    pub fn generate() -> Self {
        Self(random_text(32))
    }

    /// A token received from a client. Anything that cannot be one of ours is refused
    /// before it reaches the database.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 43
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| Self(text.to_owned()))
    }

    /// The text to hand to the client (once).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest to store and look up.
    pub fn digest(&self) -> [u8; 32] {
        digest(&self.0)
    }
}

/// The fixed start of every API key, so that secret scanners and people recognise them.
const KEY_MARK: &str = "vsk_";
/// Length of a key's visible prefix, in characters of lower-case hex.
const PREFIX_LEN: usize = 12;

/// A personal API key: `vsk_{prefix}_{secret}`. The prefix identifies the key and may be
/// shown; the secret is 32 random bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret {
    prefix: String,
    secret: String,
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({KEY_MARK}{}_[redacted])", self.prefix)
    }
}

impl ApiKeySecret {
    /// A new random key.
    pub fn generate() -> Self {
        let mut prefix = [0u8; PREFIX_LEN / 2];
        rand::rng().fill_bytes(&mut prefix);
        let prefix = prefix.iter().map(|b| format!("{b:02x}")).collect();
        Self { prefix, secret: random_text(32) }
    }

    /// A key received from a client; `None` if it cannot be one of ours.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(KEY_MARK)?;
        let (prefix, secret) = rest.split_at_checked(PREFIX_LEN)?;
        let secret = secret.strip_prefix('_')?;
        let prefix_ok = prefix.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let secret_ok = SessionToken::parse(secret).is_some();
        (prefix_ok && secret_ok)
            .then(|| Self { prefix: prefix.to_owned(), secret: secret.to_owned() })
    }

    /// The visible prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The whole key, to show to its owner once.
    pub fn expose(&self) -> String {
        format!("{KEY_MARK}{}_{}", self.prefix, self.secret)
    }

    /// The digest of the secret part, as stored.
    pub fn digest(&self) -> [u8; 32] {
        digest(&self.secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_url_safe_and_recognised() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_ne!(a, b);
        assert_eq!(SessionToken::parse(a.expose()), Some(a.clone()));
        assert!(SessionToken::parse("short").is_none());
        assert!(SessionToken::parse(&format!("{}!", "a".repeat(42))).is_none());
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn api_keys_round_trip_and_show_only_their_prefix() {
        let key = ApiKeySecret::generate();
        let text = key.expose();
        assert!(text.starts_with("vsk_"));
        assert_eq!(ApiKeySecret::parse(&text), Some(key.clone()));
        assert_eq!(key.prefix().len(), 12);
        let shown = format!("{key:?}");
        assert!(shown.contains(key.prefix()) && !shown.contains(&text[17..]));
        assert!(ApiKeySecret::parse("vsk_nothex!!!!!!_abc").is_none());
        assert!(ApiKeySecret::parse(&text.replace("vsk_", "xyz_")).is_none());
    }

    #[test]
    fn digests_compare_by_value() {
        assert!(digests_match(&digest("a"), &digest("a")));
        assert!(!digests_match(&digest("a"), &digest("b")));
        assert!(!digests_match(&digest("a"), &[0u8; 31]));
    }
}
