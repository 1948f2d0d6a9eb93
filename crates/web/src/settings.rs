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
        Self {
            body_limit_bytes: 2 * 1024 * 1024,
            request_timeout_secs: 30,
            public_url: None,
        }
    }
}

impl HttpSettings {
    /// Whether the public address is HTTPS.
    pub fn is_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}
