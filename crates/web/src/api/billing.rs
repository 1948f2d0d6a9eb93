//! Buying hours: the packages on sale, a Stripe Checkout session for one of them, the
//! caller's payments, and the webhook Stripe calls when a payment completes (verified by its
//! signature, credited once per checkout whatever the number of deliveries).

use super::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use variosync_auth::Package;
use variosync_store::Payment;

use super::openapi::{Changing, Reading};
use crate::client::Client;
use crate::error::ApiError;
use crate::session::{Actor, CurrentUser};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(packages))
        .routes(routes!(checkout))
        .routes(routes!(payments))
        .routes(routes!(webhook))
}

/// What is on sale.
#[derive(Debug, Serialize, ToSchema)]
struct Catalogue {
    /// Whether hours can be bought here (otherwise an admin grants them).
    buying: bool,
    /// The packages.
    packages: Vec<Package>,
}

/// List the hour packages
#[utoipa::path(
    get,
    path = "/billing/packages",
    tag = "billing",
    operation_id = "list_packages",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The packages, and whether buying is on", body = Catalogue), Reading)
)]
async fn packages(State(state): State<AppState>, _current: CurrentUser) -> Json<Catalogue> {
    Json(Catalogue { buying: state.app.buying(), packages: state.app.packages().to_vec() })
}

/// The package to buy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Buy {
    /// A package's id, e.g. `10h`.
    package: String,
}

/// Where to pay.
#[derive(Debug, Serialize, ToSchema)]
struct CheckoutView {
    /// The payment, pending until Stripe confirms it.
    payment: Payment,
    /// The Stripe Checkout page to send the buyer to.
    url: String,
}

/// Buy an hour package
///
/// Starts a Stripe Checkout session; the hours are credited when Stripe confirms the payment
/// to the webhook.
#[utoipa::path(
    post,
    path = "/billing/checkout",
    tag = "billing",
    operation_id = "start_checkout",
    security(("bearer" = []), ("session" = [])),
    request_body = Buy,
    responses(
        (status = 200, description = "The pending payment and the Checkout page", body = CheckoutView),
        Changing,
        (status = 400, description = "No such package (`unknown_package`)", body = ApiError),
        (status = 409, description = "Buying is off on this server (`buying_disabled`)", body = ApiError),
        (status = 503, description = "Stripe did not answer (`unavailable`)", body = ApiError),
    )
)]
async fn checkout(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Json(buy): Json<Buy>,
) -> Result<Json<CheckoutView>, ApiError> {
    let principal = current.principal(&client);
    let (payment, url) =
        start_checkout(&state, &principal, &current.user, &buy.package, "/").await?;
    Ok(Json(CheckoutView { payment, url }))
}

/// Starts a Stripe Checkout of `package` for `user` and records the pending payment; answers
/// it with the page to send the buyer to. Stripe sends them back to `back` (a path).
pub(crate) async fn start_checkout(
    state: &AppState,
    principal: &variosync_app::Principal,
    user: &variosync_domain::User,
    package: &str,
    back: &str,
) -> Result<(Payment, String), ApiError> {
    let base = state.accounts.base_url();
    let paid = format!("{base}{back}?checkout=paid");
    let cancelled = format!("{base}{back}?checkout=cancelled");
    let email = user.email.as_str();
    let started = state.app.start_checkout(principal, email, package, (&paid, &cancelled)).await?;
    Ok((started.payment, started.url))
}

/// List payments
#[utoipa::path(
    get,
    path = "/billing/payments",
    tag = "billing",
    operation_id = "list_payments",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The caller's payments, newest first", body = Vec<Payment>), Reading)
)]
async fn payments(
    State(state): State<AppState>,
    Actor(principal): Actor,
) -> Result<Json<Vec<Payment>>, ApiError> {
    Ok(Json(state.app.payments(&principal, 200).await?))
}

/// Receive a Stripe event
///
/// Stripe's webhook: verified by its `Stripe-Signature` (HMAC-SHA256, at most five minutes
/// old). `checkout.session.completed` with `payment_status: paid` credits the package's
/// hours, once per checkout however many times it is delivered; other events are
/// acknowledged and ignored.
#[utoipa::path(
    post,
    path = "/billing/webhook",
    tag = "billing",
    operation_id = "stripe_webhook",
    request_body(content = String, content_type = "application/json", description = "The Stripe event, as sent"),
    params(("Stripe-Signature" = String, Header, description = "t=TIMESTAMP,v1=HMAC")),
    responses(
        (status = 200, description = "Received (and credited, when it completes a payment)"),
        (status = 400, description = "The signature is missing or malformed (`invalid_signature`), does not match (`invalid_signature`) or is too old (`stale_signature`)", body = ApiError),
        (status = 409, description = "Buying is off on this server (`buying_disabled`)", body = ApiError),
    )
)]
async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let signature =
        headers.get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    Ok(Json(match state.app.stripe_webhook(signature, &body).await? {
        Some(credited) => json!({ "received": true, "credited": credited }),
        None => json!({ "received": true }),
    }))
}
