//! Protection of the endpoints that take credentials or tokens before anyone is signed in:
//! a per-address rate limit on the shared limiter, and a same-origin check against login
//! CSRF. Used by the API and by the HTML forms.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use variosync_domain::ErrorKind;
use variosync_store::Quota;

use crate::client::client_ip;
use crate::error::ApiError;
use crate::state::AppState;

/// Throttles the credential endpoints per client address, on the shared limiter.
pub(crate) async fn limit_by_ip(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let ip = client_ip(&parts, &state.trusted_proxies)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    if let Some(quota) =
        Quota::new(state.rate_limits.auth_per_minute, std::time::Duration::from_secs(60))
    {
        match state.backends.limiter.check(&format!("auth:{ip}"), quota).await {
            Ok(decision) if !decision.allowed => {
                return ApiError::rate_limited(decision.retry_after).into_response();
            }
            Ok(_) => {}
            // Failing closed: without the limiter, credential guessing would be unbounded.
            Err(error) => return ApiError::from(error).into_response(),
        }
    }
    if let Err(error) = check_origin(&parts.headers) {
        return error.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Refuses a cross-site form post to the credential endpoints (login CSRF): when a browser
/// sends `Origin`, its host must be the one the request is addressed to.
pub(crate) fn check_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|value| value.to_str().ok()) else {
        return Ok(());
    };
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or_default();
    if origin_host.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::Forbidden,
            "cross_origin",
            "requests from another site are refused",
        ))
    }
}
