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
    /// The largest file accepted by an upload, in bytes.
    pub upload_limit_bytes: u64,
    /// How long an upload (receiving and converting the file) may take, in seconds.
    pub upload_timeout_secs: u64,
    /// The address people reach the service at, e.g. `https://data.example.com`. When it is
    /// HTTPS, responses carry `Strict-Transport-Security`.
    pub public_url: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_limit_bytes: 2 * 1024 * 1024,
            request_timeout_secs: 30,
            upload_limit_bytes: 4 * 1024 * 1024 * 1024,
            upload_timeout_secs: 3600,
            public_url: None,
        }
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

    /// Whether cookies must be `Secure`: whenever the service is reached anywhere but on this
    /// machine (a public address that is HTTPS, or any host other than localhost).
    pub fn secure_cookies(&self) -> bool {
        let Some(url) = self.public_url.as_deref() else { return false };
        let authority =
            url.split("://").nth(1).unwrap_or_default().split('/').next().unwrap_or_default();
        let local = authority.starts_with("[::1]")
            || authority.split(':').next() == Some("localhost")
            || authority.starts_with("127.");
        self.is_https() || !local
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(url: &str) -> HttpSettings {
        HttpSettings { public_url: Some(url.to_owned()), ..HttpSettings::default() }
    }

    #[test]
    fn cookies_are_secure_everywhere_but_on_this_machine() {
        assert!(!HttpSettings::default().secure_cookies());
        assert!(!at("http://localhost:8080").secure_cookies());
        assert!(!at("http://127.0.0.1:8080").secure_cookies());
        assert!(at("https://data.example.com").secure_cookies());
        assert!(at("http://data.example.com").secure_cookies());
        assert!(at("https://localhost").secure_cookies());
        assert!(!at("http://[::1]:8080").secure_cookies());
        assert!(at("http://[2001:db8::1]:8080").secure_cookies());
    }
}
