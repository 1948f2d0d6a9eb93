//! The REST API under `/api/v1`. One resource per module, each with its own router.

mod account;
mod admin;
mod api_keys;
mod audit;
mod auth;
mod datasets;
mod hours;
mod sessions;
mod uploads;

use axum::Router;

use crate::state::AppState;

pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let v1 = Router::new()
        .merge(auth::router(state))
        .merge(account::router())
        .merge(sessions::router())
        .merge(api_keys::router())
        .merge(audit::router())
        .merge(hours::router())
        .merge(datasets::router())
        .merge(uploads::router())
        .merge(admin::router());
    Router::new().nest("/api/v1", v1)
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
