//! Buying hours: the packages on sale, a Stripe Checkout session for one of them, the
//! caller's payments, and the webhook Stripe calls when a payment completes (verified by its
//! signature, credited once per checkout whatever the number of deliveries).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use variosync_auth::Package;
use variosync_auth::billing::WebhookError;
use variosync_domain::{AuditAction, ErrorKind};
use variosync_store::{Access, NewAuditEntry, NewPayment, Payment};

use super::openapi::{Changing, Reading};
use crate::client::Client;
use crate::error::ApiError;
use crate::session::CurrentUser;
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
    Json(Catalogue { buying: state.stripe.is_some(), packages: state.packages.to_vec() })
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
    let (payment, url) = start_checkout(&state, &client, &current.user, &buy.package, "/").await?;
    Ok(Json(CheckoutView { payment, url }))
}

/// Starts a Stripe Checkout of `package` for `user` and records the pending payment; answers
/// it with the page to send the buyer to. Stripe sends them back to `back` (a path).
pub(crate) async fn start_checkout(
    state: &AppState,
    client: &variosync_auth::ClientInfo,
    user: &variosync_domain::User,
    package: &str,
    back: &str,
) -> Result<(Payment, String), ApiError> {
    let Some(stripe) = &state.stripe else {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            "buying_disabled",
            "hours cannot be bought on this server; ask an admin for a grant",
        ));
    };
    let Some(package) = state.packages.iter().find(|p| p.id == package) else {
        let ids: Vec<&str> = state.packages.iter().map(|p| p.id.as_str()).collect();
        return Err(ApiError::new(
            ErrorKind::InvalidInput,
            "unknown_package",
            format!("there is no package {:?}; there are {}", package, ids.join(", ")),
        ));
    };
    let buyer = user;
    let user = user.id;
    let base = state.accounts.base_url();
    let started = stripe
        .checkout(
            user,
            buyer.email.as_str(),
            package,
            &format!("{base}{back}?checkout=paid"),
            &format!("{base}{back}?checkout=cancelled"),
        )
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "a checkout could not start");
            ApiError::new(
                ErrorKind::Unavailable,
                "unavailable",
                "the payment provider did not answer; try again shortly",
            )
        })?;
    let new = NewPayment {
        provider: "stripe".to_owned(),
        checkout_id: started.id,
        package: package.id.clone(),
        hours: package.hours,
        amount_cents: package.price_cents,
        currency: package.currency.clone(),
    };
    let payment = state.backends.payments().create(user, &new).await?;
    let detail = json!({ "payment_id": payment.id, "package": payment.package });
    let entry = variosync_store::NewAuditEntry {
        user_id: Some(user),
        actor_id: None,
        action: AuditAction::CheckoutStarted,
        detail,
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    state.backends.audit().record(variosync_store::Access::User(user), entry).await?;
    Ok((payment, started.url))
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
    current: CurrentUser,
) -> Result<Json<Vec<Payment>>, ApiError> {
    Ok(Json(state.backends.payments().list(current.user.id, 200).await?))
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
    let Some(stripe) = &state.stripe else {
        return Err(ApiError::new(ErrorKind::Conflict, "buying_disabled", "buying is off"));
    };
    let signature =
        headers.get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let verified = stripe.verify(signature, &body, chrono::Utc::now().timestamp());
    let completed = match verified {
        Ok(completed) => completed,
        Err(error) => {
            tracing::warn!(error = %error, "a webhook delivery was refused");
            let code =
                if error == WebhookError::Stale { "stale_signature" } else { "invalid_signature" };
            return Err(ApiError::new(ErrorKind::InvalidInput, code, error.to_string()));
        }
    };
    let Some(completed) = completed else {
        return Ok(Json(json!({ "received": true })));
    };
    let paid =
        state.backends.payments().mark_paid(&completed.checkout_id, &completed.event_id).await?;
    if let Some(payment) = &paid
        && let Some(user) = payment.user_id
    {
        tracing::info!(payment_id = %payment.id, "a payment was credited");
        let entry = NewAuditEntry {
            user_id: Some(user),
            actor_id: None,
            action: AuditAction::HoursPurchased,
            detail: json!({
                "payment_id": payment.id,
                "package": payment.package,
                "hours": payment.hours,
                "event_id": completed.event_id,
            }),
            ip: None,
            user_agent: None,
        };
        state.backends.audit().record(Access::User(user), entry).await?;
    }
    Ok(Json(json!({ "received": true, "credited": paid.is_some() })))
}
