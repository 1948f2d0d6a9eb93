//! What every handler can reach.

use metrics_exporter_prometheus::PrometheusHandle;
use variosync_store::Backends;

use crate::client::IpRange;
use crate::settings::{HttpSettings, RateLimitSettings};

/// The version and revision of the running build.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    /// The crate version, e.g. `0.1.0`.
    pub version: &'static str,
}

/// Shared, cheaply cloned state of the web layer.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Databases, object storage, cache, limiter, pub/sub.
    pub backends: Backends,
    /// Renders the Prometheus exposition.
    pub metrics: PrometheusHandle,
    /// The HTTP layer's settings.
    pub http: HttpSettings,
    /// What build is running.
    pub build: BuildInfo,
    /// Accounts: sign-up, sign-in, sessions, keys.
    pub accounts: variosync_auth::Accounts,
    /// Proxies whose forwarding headers are believed.
    pub trusted_proxies: std::sync::Arc<[IpRange]>,
    /// Request quotas.
    pub rate_limits: RateLimitSettings,
    /// Signs and checks short-lived access tokens.
    pub tokens: variosync_auth::AccessTokens,
    /// Checks bearer tokens from an external issuer, when one is configured.
    pub external_jwt: Option<std::sync::Arc<variosync_auth::ExternalJwt>>,
    /// The OpenID Connect provider people may sign in with, when one is configured.
    pub oidc: Option<std::sync::Arc<variosync_auth::Oidc>>,
    /// The GitHub OAuth app people may sign in with, when one is configured.
    pub github: Option<std::sync::Arc<variosync_auth::Github>>,
    /// The use cases: every handler that does more than accounts calls them.
    pub app: variosync_app::App,
}
