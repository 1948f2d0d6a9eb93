//! Accounts logic that is not HTTP: password rules and hashing, secret tokens and API keys,
//! sign-up, sign-in, sessions and keys, each step recorded in the audit log.
//!
//! It sits on `store` and knows nothing of cookies, headers or CSRF, which belong to `web`.
//! Secrets (passwords, tokens, keys) pass through here and are never logged: they are
//! hashed before storage, compared in constant time, and their types redact themselves in
//! `Debug`.

pub mod accounts;
mod admin;
mod backoff;
pub mod billing;
pub mod error;
pub mod external;
pub mod github;
pub mod mail;
pub mod oidc;
pub mod password;
mod pending;
pub mod secrets;
pub mod tokens;

/// The clock difference allowed when a token's times are checked, in seconds: every token
/// accepted (our access tokens, external JWTs, OpenID Connect ID tokens) is refused before
/// its `nbf` and after its `exp`, give or take this much.
pub const CLOCK_LEEWAY_SECS: u64 = 30;

/// How every JSON Web Token accepted is checked: signed with `algorithm`, within its `nbf`
/// and `exp` (with [`CLOCK_LEEWAY_SECS`]); issuer and audience are set by the caller.
pub(crate) fn jwt_validation(algorithm: jsonwebtoken::Algorithm) -> jsonwebtoken::Validation {
    let mut validation = jsonwebtoken::Validation::new(algorithm);
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.leeway = CLOCK_LEEWAY_SECS;
    validation
}

pub use accounts::{Accounts, AccountsSettings, ClientInfo, SignedIn};
pub use billing::{BillingSettings, Package, Stripe};
pub use error::{Error, Result};
pub use external::{ExternalJwt, ExternalJwtSettings};
pub use github::{Github, GithubSettings};
pub use mail::{Mail, MailSettings, Mailer};
pub use oidc::{Oidc, OidcSettings, Started};
pub use password::Password;
pub use secrets::{ApiKeySecret, SessionToken};
pub use tokens::{AccessToken, AccessTokens, Origin, Verified};
