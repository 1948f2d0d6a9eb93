//! Settings of the HTTP layer.

use serde::Deserialize;

/// Limits and behaviour of the HTTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// The largest request body accepted, in bytes (uploads have their own limit).
    pub body_limit_bytes: u64,
    /// How long a request may take to produce its response, in seconds.
    pub request_timeout_secs: u64,
    /// The address people reach the service at, e.g. `https://data.example.com`. When it is
    /// HTTPS, responses carry `Strict-Transport-Security`.
    pub public_url: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self { body_limit_bytes: 2 * 1024 * 1024, request_timeout_secs: 30, public_url: None }
    }
}

/// Request quotas, enforced on the shared rate limiter (so replicas share them).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Requests per minute one client address may make to the sign-in and sign-up endpoints.
    pub auth_per_minute: u32,
    /// Requests per minute one user may make to the API.
    pub api_per_minute: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self { auth_per_minute: 10, api_per_minute: 600 }
    }
}

impl HttpSettings {
    /// Whether the public address is HTTPS.
    pub fn is_https(&self) -> bool {
        self.public_url.as_deref().is_some_and(|url| url.starts_with("https://"))
    }
}
