//! Buying hours: the packages on sale, a Stripe Checkout for one of them (recorded as a
//! pending payment), the person's payments, and Stripe's webhook, which credits each
//! payment once however often it is delivered.

use std::sync::Arc;

use serde_json::json;
use variosync_auth::billing::WebhookError;
use variosync_auth::{Package, Stripe};
use variosync_domain::AuditAction;
use variosync_store::{Access, NewAuditEntry, NewPayment, Payment};

use crate::error::{Error, Result};
use crate::{App, Principal};

/// What is on sale, and the account that sells it (`None`: buying is off and admins grant
/// hours).
#[derive(Debug, Clone, Default)]
pub struct Billing {
    /// The packages.
    pub packages: Arc<[Package]>,
    /// The Stripe account.
    pub stripe: Option<Arc<Stripe>>,
}

/// A checkout started: the pending payment and the page to send the buyer to.
#[derive(Debug, Clone)]
pub struct Checkout {
    /// The payment, pending until Stripe confirms it.
    pub payment: Payment,
    /// Stripe's checkout page.
    pub url: String,
}

fn buying_disabled() -> Error {
    Error::conflict(
        "buying_disabled",
        "hours cannot be bought on this server; ask an admin for a grant",
    )
}

impl App {
    /// The packages on sale.
    pub fn packages(&self) -> &[Package] {
        &self.billing.packages
    }

    /// Whether hours can be bought here.
    pub fn buying(&self) -> bool {
        self.billing.stripe.is_some()
    }

    /// Starts a Stripe Checkout of `package` for the principal (whose address Stripe shows)
    /// and records the pending payment; Stripe sends the buyer back to `paid` or `cancelled`.
    #[tracing::instrument(skip_all, fields(package), err(level = "warn"))]
    pub async fn start_checkout(
        &self,
        principal: &Principal,
        email: &str,
        package: &str,
        (paid, cancelled): (&str, &str),
    ) -> Result<Checkout> {
        let stripe = self.billing.stripe.as_ref().ok_or_else(buying_disabled)?;
        let Some(package) = self.billing.packages.iter().find(|p| p.id == package) else {
            let ids: Vec<&str> = self.billing.packages.iter().map(|p| p.id.as_str()).collect();
            return Err(Error::invalid(
                "unknown_package",
                format!("there is no package {:?}; there are {}", package, ids.join(", ")),
            ));
        };
        let user = principal.user;
        let started = stripe
            .checkout(user, email, package, paid, cancelled)
            .await
            .map_err(|e| Error::Unavailable { what: "the payment provider", source: e.into() })?;
        let new = NewPayment {
            provider: "stripe".to_owned(),
            checkout_id: started.id,
            package: package.id.clone(),
            hours: package.hours,
            amount_cents: package.price_cents,
            currency: package.currency.clone(),
        };
        let payment = self.backends.payments().create(user, &new).await?;
        let detail = json!({ "payment_id": payment.id, "package": payment.package });
        self.audit(principal, user, AuditAction::CheckoutStarted, detail).await?;
        Ok(Checkout { payment, url: started.url })
    }

    /// The principal's payments, newest first.
    pub async fn payments(&self, principal: &Principal, limit: u32) -> Result<Vec<Payment>> {
        Ok(self.backends.payments().list(principal.user, limit).await?)
    }

    /// Takes a delivery of Stripe's webhook: checks its signature (and that it is at most
    /// five minutes old), then credits a completed checkout's payment once. Answers whether
    /// this delivery credited it, or `None` for an event that completes no checkout.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn stripe_webhook(&self, signature: &str, body: &[u8]) -> Result<Option<bool>> {
        // An unsigned delivery is malformed whether or not buying is on.
        if signature.trim().is_empty() {
            return Err(Error::invalid(
                "missing_signature",
                "a webhook delivery must carry its Stripe-Signature header",
            ));
        }
        let stripe = self.billing.stripe.as_ref().ok_or_else(buying_disabled)?;
        let completed = match stripe.verify(signature, body, chrono::Utc::now().timestamp()) {
            Ok(completed) => completed,
            Err(error) => {
                tracing::warn!(error = %error, "a webhook delivery was refused");
                let code = if error == WebhookError::Stale {
                    "stale_signature"
                } else {
                    "invalid_signature"
                };
                return Err(Error::invalid(code, error.to_string()));
            }
        };
        let Some(completed) = completed else { return Ok(None) };
        let payments = self.backends.payments();
        let paid = payments.mark_paid(&completed.checkout_id, &completed.event_id).await?;
        let Some(payment) = paid else { return Ok(Some(false)) };
        if let Some(user) = payment.user_id {
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
            self.backends.audit().record(Access::person(user), entry).await?;
        }
        Ok(Some(true))
    }
}
