//! The only crate that knows HTTP: the router, middleware (request ids, request logs and
//! metrics, timeouts, body limits, security headers, compression), health and readiness
//! endpoints, Prometheus metrics, HTML pages and static assets, and the REST API under
//! `/api/v1` with its OpenAPI description (and Swagger UI at `/api/docs`).
//!
//! Handlers are thin: extract (the acting principal, `Actor`), call one use
//! case of `variosync-app`, map the answer; accounts go to `variosync-auth`. This crate
//! depends on no data crate (`engine`, `formats`, `forecast`): what it shows comes through
//! `app`. All errors leave through [`ApiError`], which owns the one mapping from
//! [`variosync_domain::ErrorKind`] to HTTP status and the one JSON error shape. Nothing here
//! opens connections or reads settings from the environment; the server hands in what it
//! needs.

mod api;
mod assets;
mod client;
mod error;
mod health;
mod metrics;
mod middleware;
mod pages;
mod session;
mod settings;
mod state;
mod throttle;

use axum::Router;

pub use client::{IpRange, parse_ranges};
pub use error::ApiError;
pub use metrics::prometheus_handle;
pub use session::{CSRF_HEADER, SESSION_COOKIE};
pub use settings::{HttpSettings, RateLimitSettings};
pub use state::{AppState, BuildInfo};

/// The whole HTTP surface of the service, with its middleware.
pub fn router(state: AppState) -> Router {
    let settings = state.http.clone();
    let (api, spec) = api::router(&state);
    let routes = Router::new()
        .merge(pages::router(&state))
        .merge(health::router())
        .merge(metrics::router())
        .merge(assets::router())
        .merge(api)
        .merge(api::docs(&spec))
        .fallback(error::not_found);
    middleware::apply(routes, &settings).with_state(state)
}
