//! The one error type of the HTTP layer and the one JSON shape errors take.

use axum::Json;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use variosync_domain::ErrorKind;

/// An error on its way to the client: a kind (which fixes the status), a stable
/// machine-readable code and a human message. Internal causes are logged where the error is
/// made and never put in the message.
#[derive(Debug, Clone)]
pub struct ApiError {
    kind: ErrorKind,
    code: &'static str,
    message: String,
    retry_after: Option<std::time::Duration>,
}

/// An error: a stable code for programs and a message for people.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
struct ErrorBody<'a> {
    /// Stable and machine-readable, such as `dataset_not_found`.
    #[schema(example = "dataset_not_found")]
    code: &'a str,
    /// What went wrong, in words.
    #[schema(example = "there is no such dataset")]
    message: &'a str,
}

/// Described to API clients as the JSON it answers with.
impl utoipa::PartialSchema for ApiError {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <ErrorBody<'static> as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for ApiError {
    fn name() -> std::borrow::Cow<'static, str> {
        <ErrorBody<'static> as utoipa::ToSchema>::name()
    }
}

impl ApiError {
    /// An error of `kind` with a stable `code` such as `dataset_not_found`.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self { kind, code, message: message.into(), retry_after: None }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Too many requests; the client may retry after `wait` (sent as `Retry-After`).
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let seconds = retry_after_secs(wait);
        Self {
            kind: ErrorKind::RateLimited,
            code: "rate_limited",
            message: format!("too many requests; try again in {seconds} s"),
            retry_after: Some(wait),
        }
    }

    /// The HTTP status for the error's kind; the only place that decides it.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Gone => StatusCode::GONE,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::PaymentRequired => StatusCode::PAYMENT_REQUIRED,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The human message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl ApiError {
    /// The answer for a failure of `kind` with `code`: its own message when it is the
    /// client's to fix, a fixed one (the cause logged here, once) when it is ours.
    fn from_failure(kind: ErrorKind, code: &'static str, error: &dyn std::error::Error) -> Self {
        match kind {
            ErrorKind::Internal => {
                tracing::error!(error = %variosync_domain::error_chain(error), "internal failure");
                Self::new(kind, "internal", "something went wrong on our side; it has been logged")
            }
            ErrorKind::Unavailable => {
                tracing::error!(error = %variosync_domain::error_chain(error), "a backing service failed");
                Self::new(
                    kind,
                    "unavailable",
                    "a backing service is unavailable; try again shortly",
                )
            }
            _ => Self::new(kind, code, error.to_string()),
        }
    }
}

impl From<variosync_store::Error> for ApiError {
    fn from(error: variosync_store::Error) -> Self {
        Self::from_failure(error.kind(), error.code(), &error)
    }
}

impl From<variosync_app::Error> for ApiError {
    fn from(error: variosync_app::Error) -> Self {
        if let variosync_app::Error::TooLarge { limit } = error {
            return crate::middleware::too_large(limit);
        }
        if let variosync_app::Error::Unavailable { .. } = &error {
            // Its message names the service and says to try again; the cause is logged.
            tracing::error!(error = %variosync_domain::error_chain(&error), "a service did not answer");
            return Self::new(ErrorKind::Unavailable, "unavailable", error.to_string());
        }
        Self::from_failure(error.kind(), error.code(), &error)
    }
}

impl From<variosync_auth::Error> for ApiError {
    fn from(error: variosync_auth::Error) -> Self {
        if let variosync_auth::Error::TooManyAttempts(wait) = error {
            let mut answer = Self::rate_limited(wait);
            answer.message =
                format!("too many failed sign-ins for this account; {}", answer.message);
            return answer;
        }
        Self::from_failure(error.kind(), error.code(), &error)
    }
}

/// Whole seconds to wait, rounded up and at least one.
fn retry_after_secs(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { code: self.code, message: &self.message };
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after_secs(wait)));
        }
        response
    }
}

/// The fallback for unknown routes: a JSON error for programs, a small page for browsers.
pub(crate) async fn not_found(
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    let wants_html = !uri.path().starts_with("/api/")
        && headers
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        let page = crate::pages::not_found_page(uri.path());
        return (StatusCode::NOT_FOUND, Html(page)).into_response();
    }
    ApiError::new(
        ErrorKind::NotFound,
        "route_not_found",
        format!("there is no route for {method} {}", uri.path()),
    )
    .into_response()
}
