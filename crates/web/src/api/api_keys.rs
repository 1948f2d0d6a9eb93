//! The signed-in user's API keys: list, create (the secret is shown once), revoke.

use super::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use variosync_domain::{ApiKeyId, ApiScope, ErrorKind};
use variosync_store::ApiKey;

use super::openapi::{Changing, Reading};
use crate::client::Client;
use crate::error::ApiError;
use crate::session::CurrentUser;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(list, create)).routes(routes!(revoke))
}

/// List API keys
///
/// Every key of the signed-in user, revoked ones included; never their secrets.
#[utoipa::path(
    get,
    path = "/api-keys",
    tag = "api-keys",
    operation_id = "list_api_keys",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The keys", body = Vec<ApiKey>), Reading)
)]
async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    Ok(Json(state.accounts.api_keys(current.user.id).await?))
}

/// A key to make.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewApiKey)]
struct NewKey {
    /// The owner's name for it, 1 to 100 visible characters.
    name: String,
    scope: ApiScope,
}

/// A new key and its secret.
#[derive(Serialize, ToSchema)]
#[schema(as = CreatedApiKey)]
struct Created {
    key: ApiKey,
    /// The whole key. It is shown this once and cannot be recovered.
    secret: String,
}

/// Create an API key
///
/// The answer holds the whole key (`secret`) this once; it cannot be recovered later.
#[utoipa::path(
    post,
    path = "/api-keys",
    tag = "api-keys",
    operation_id = "create_api_key",
    security(("bearer" = []), ("session" = [])),
    request_body = NewKey,
    responses(
        (status = 201, description = "The key and its secret", body = Created),
        Changing,
        (
            status = 400,
            description = "The name is empty or too long (`invalid_key_name`)",
            body = ApiError
        ),
        (
            status = 403,
            description = "The credential may not make changes, or the new key would be wider \
                than the key making it (`insufficient_scope`); a session request without its CSRF \
                token (`csrf_failed`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
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

/// Revoke an API key
#[utoipa::path(
    delete,
    path = "/api-keys/{id}",
    tag = "api-keys",
    operation_id = "revoke_api_key",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
        Changing,
        (
            status = 404,
            description = "There is no such live key (`api_key_not_found`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
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
