//! The signed-in user's API keys: list, create (the secret is shown once), revoke.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use variosync_domain::{ApiKeyId, ApiScope, ErrorKind};
use variosync_store::ApiKey;

use crate::client::Client;
use crate::error::ApiError;
use crate::session::CurrentUser;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api-keys", get(list).post(create)).route("/api-keys/{id}", delete(revoke))
}

async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    Ok(Json(state.accounts.api_keys(current.user.id).await?))
}

#[derive(Deserialize)]
struct NewKey {
    name: String,
    scope: ApiScope,
}

#[derive(Serialize)]
struct Created {
    key: ApiKey,
    /// The whole key. It is shown this once and cannot be recovered.
    secret: String,
}

#[tracing::instrument(skip_all, err)]
async fn create(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Json(new): Json<NewKey>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    // A key can never do more than the key that made it.
    if !current.scope().allows(new.scope) {
        return Err(ApiError::new(
            ErrorKind::Forbidden,
            "insufficient_scope",
            "a key cannot create a wider key",
        ));
    }
    let (key, secret) =
        state.accounts.create_api_key(current.user.id, &new.name, new.scope, &client).await?;
    Ok((StatusCode::CREATED, Json(Created { key, secret: secret.expose() })))
}

#[tracing::instrument(skip_all, err)]
async fn revoke(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: ApiKeyId = super::parse_id(&id, "api_key_not_found")?;
    if state.accounts.revoke_api_key(current.user.id, id, &client).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            ErrorKind::NotFound,
            "api_key_not_found",
            "there is no such live API key",
        ))
    }
}
