//! The REST API under `/api/v1`. One resource per module, each with its own router, built
//! from the OpenAPI description of its handlers; the description of the whole API is served
//! as JSON at `/api/v1/openapi.json` and browsable with Swagger UI at `/api/docs`.

mod account;
pub(crate) mod admin;
mod api_keys;
mod audit;
mod auth;
pub(crate) mod billing;
pub(crate) mod datasets;
mod exports;
pub(crate) mod forecasts;
mod hours;
pub(crate) mod jobs;
mod json;
mod openapi;
mod preview;
mod sessions;
mod uploads;

pub(crate) use json::Json;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// A stream of server-sent events.
type Events = axum::response::sse::Sse<
    axum::response::sse::KeepAliveStream<
        futures::stream::BoxStream<
            'static,
            Result<axum::response::sse::Event, std::convert::Infallible>,
        >,
    >,
>;

/// Server-sent events of `event`, one per message of `subscription`, with its JSON as data,
/// for as long as the credential of `current` holds: the stream ends within
/// [`crate::session::RECHECK_EVERY`] of its revocation, expiry or sign-out (or of a failed
/// check, after which the client reconnects and is asked to authenticate again).
fn event_stream(
    state: AppState,
    current: crate::session::CurrentUser,
    subscription: variosync_store::Subscription,
    event: &'static str,
) -> Events {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use futures::StreamExt;
    let ended = async move {
        loop {
            tokio::time::sleep(crate::session::RECHECK_EVERY).await;
            match current.still_valid(&state).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    tracing::warn!(
                        error = error.message(),
                        "an event stream's credential check failed"
                    );
                    break;
                }
            }
        }
    };
    let stream = subscription
        .map(move |payload| {
            Ok(Event::default().event(event).data(String::from_utf8_lossy(&payload)))
        })
        .take_until(Box::pin(ended));
    Sse::new(stream.boxed()).keep_alive(KeepAlive::default())
}

/// A CSV download: `body` as `text/csv`, saved as `file_name` (made from our own ids).
fn csv_attachment(body: impl IntoResponse, file_name: &str) -> axum::response::Response {
    use axum::http::HeaderValue;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// A query value, where one was given: an empty one (as a form sends for a field left
/// blank) means the default, as an absent one does.
pub(super) fn given(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.trim().is_empty())
}

/// Where the OpenAPI document is served.
pub(crate) const OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// Where Swagger UI is served.
pub(crate) const DOCS_PATH: &str = "/api/docs";

/// The API's routes and their OpenAPI description, made from the same annotations.
pub(crate) fn router(state: &AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::default()
        .merge(auth::router(state))
        .merge(account::router())
        .merge(sessions::router())
        .merge(api_keys::router())
        .merge(audit::router())
        .merge(hours::router())
        .merge(datasets::router())
        .merge(preview::router())
        .merge(uploads::router())
        .merge(forecasts::router())
        .merge(exports::router())
        .merge(jobs::router())
        .merge(billing::router())
        .merge(admin::router());
    let (router, mut document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest("/api/v1", v1)
        .split_for_parts();
    openapi::describe_common_answers(&mut document);
    let missing = openapi::state_rules(&mut document, state.http.upload_limit_bytes);
    debug_assert!(missing.is_empty(), "rules without their place: {missing:?}");
    for place in missing {
        tracing::error!(%place, "the OpenAPI document lacks the place of a rule it should state");
    }
    (router, document)
}

/// The OpenAPI document as JSON, and Swagger UI to browse and try it (its files are built
/// into the binary: nothing is fetched from elsewhere).
pub(crate) fn docs(spec: &utoipa::openapi::OpenApi) -> Router<AppState> {
    // Serialised once: the document does not change while the service runs.
    let json = bytes::Bytes::from(spec.to_json().unwrap_or_else(|error| {
        tracing::error!(%error, "the OpenAPI document cannot be serialised");
        "{}".to_owned()
    }));
    let serve = move || {
        let json = json.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], json).into_response() }
    };
    let config = utoipa_swagger_ui::Config::new([OPENAPI_PATH])
        // Without the top bar, whose logo needs an inline style the CSP refuses.
        .use_base_layout()
        // Never send the document's address to the public validator.
        .validator_url("none");
    Router::new()
        .route(OPENAPI_PATH, axum::routing::get(serve))
        .merge(utoipa_swagger_ui::SwaggerUi::new(DOCS_PATH).config(config))
}

/// Parses an id from a path segment; anything that is not one of our ids is simply not
/// found.
fn parse_id<T: std::str::FromStr>(text: &str, what: &'static str) -> Result<T, crate::ApiError> {
    text.parse().map_err(|_| {
        crate::ApiError::new(
            variosync_domain::ErrorKind::NotFound,
            what,
            format!("there is no such {}", what.trim_end_matches("_not_found").replace('_', " ")),
        )
    })
}
