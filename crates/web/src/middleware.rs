//! The middleware every route runs through, outermost first: panic catching, request ids,
//! the request log and metrics, compression, security headers, the timeout and the body limit.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tracing::Instrument;
use variosync_domain::ErrorKind;

use crate::error::ApiError;
use crate::settings::HttpSettings;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Pages may load only our own scripts, styles and images; nothing may frame them.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub(crate) fn apply(router: Router<AppState>, settings: &HttpSettings) -> Router<AppState> {
    let body_limit = usize::try_from(settings.body_limit_bytes).unwrap_or(usize::MAX);
    let limits = Limits {
        body_bytes: settings.body_limit_bytes,
        timeout: Duration::from_secs(settings.request_timeout_secs),
        upload_bytes: settings.upload_limit_bytes,
        upload_timeout: Duration::from_secs(settings.upload_timeout_secs),
    };
    let mut router = router
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(limits, limit))
        .layer(axum::middleware::from_fn(api_error_shape));
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=()"),
        // Answers hold a person's data or a secret unless they say otherwise (the static
        // assets do): no cache, shared or private, may keep them.
        (header::CACHE_CONTROL, "no-store"),
    ] {
        router = router
            .layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    if settings.is_https() {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    router
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn(observe))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(CatchPanicLayer::custom(|_panic| {
            // The panic message went to the log through the panic hook; the client learns
            // only that it was our fault.
            ApiError::new(ErrorKind::Internal, "internal", "something went wrong on our side")
                .into_response()
        }))
}

/// The size and time limits of requests: file uploads have their own.
#[derive(Debug, Clone, Copy)]
struct Limits {
    body_bytes: u64,
    timeout: Duration,
    upload_bytes: u64,
    upload_timeout: Duration,
}

/// Whether a request uploads a file (its handler counts the bytes itself, so the file can
/// stream to disk).
pub(crate) fn is_upload(method: &axum::http::Method, path: &str) -> bool {
    (method == axum::http::Method::POST && path == "/api/v1/datasets")
        || (method == axum::http::Method::PATCH && path.starts_with("/api/v1/uploads/"))
}

/// The error for a body over `limit` bytes.
pub(crate) fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorKind::TooLarge,
        "too_large",
        format!("the request body is larger than the limit of {limit} bytes"),
    )
}

async fn limit(
    axum::extract::State(limits): axum::extract::State<Limits>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let upload = is_upload(request.method(), request.uri().path());
    let (bytes, timeout) = if upload {
        (limits.upload_bytes, limits.upload_timeout)
    } else {
        (limits.body_bytes, limits.timeout)
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > bytes) {
        return too_large(bytes).into_response();
    }
    let request = if upload {
        request
    } else {
        let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
        request.map(|body| Body::new(http_body_util::Limited::new(body, bytes)))
    };
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// The longest body of a framework answer that is turned into the error shape.
const REJECTION_BYTES: usize = 16 * 1024;

/// Gives the API's answers that the framework writes itself (a body that is not the JSON
/// expected, an unreadable query, a wrong content type or method, a timeout) the same
/// `{code, message}` shape as every other error, keeping their status and their message.
async fn api_error_shape(request: Request<Body>, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let is_text = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !api
        && is_text
        && matches!(
            status,
            StatusCode::BAD_REQUEST
                | StatusCode::UNPROCESSABLE_ENTITY
                | StatusCode::UNSUPPORTED_MEDIA_TYPE
        )
    {
        // A page's form that an extractor refused (a missing CSRF field, a malformed value):
        // the product's page saying so, not the extractor's bare text.
        let (parts, body) = response.into_parts();
        let text = match axum::body::to_bytes(body, REJECTION_BYTES).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(_) => String::new(),
        };
        let reason = text.trim().trim_end_matches('.');
        let page =
            crate::pages::refused_page(if reason.is_empty() { "it is malformed" } else { reason });
        let mut shaped = (StatusCode::BAD_REQUEST, axum::response::Html(page)).into_response();
        if let Some(value) = parts.headers.get(header::ALLOW) {
            shaped.headers_mut().insert(header::ALLOW, value.clone());
        }
        return shaped;
    }
    if !api || !status.is_client_error() || is_json {
        return response;
    }
    let code = match status {
        StatusCode::BAD_REQUEST => "invalid_request",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        StatusCode::LENGTH_REQUIRED => "length_required",
        _ => return response,
    };
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, REJECTION_BYTES).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).into_owned(),
        _ => status.canonical_reason().unwrap_or("the request was refused").to_lowercase(),
    };
    let body = serde_json::json!({ "code": code, "message": text });
    let mut shaped = (status, axum::Json(body)).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            shaped.headers_mut().insert(name, value.clone());
        }
    }
    shaped
}

/// Routes that are polled by machines: their requests log at DEBUG to keep the log readable.
fn is_probe(route: &str) -> bool {
    matches!(route, "/healthz" | "/readyz" | "/metrics")
}

/// One span per request (method, route template, request id), one log line when it ends,
/// and the request counter and latency histogram labelled by route template, never by the raw
/// path, so that ids in paths cannot explode the metric's cardinality.
async fn observe(request: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "<unmatched>".to_owned(), |path| path.as_str().to_owned());
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let span = tracing::info_span!("http", %method, route = %route, request_id = %request_id);
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let _entered = span.enter();
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    // The client's mistakes are worth a line, ours an alert.
    if response.status().is_server_error() {
        tracing::error!(status, latency_ms, "request failed");
    } else if is_probe(&route) {
        tracing::debug!(status, latency_ms, "request finished");
    } else {
        tracing::info!(status, latency_ms, "request finished");
    }
    let labels = [("method", method.to_string()), ("route", route), ("status", status.to_string())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels[..2])
        .record(elapsed.as_secs_f64());
    response
}
