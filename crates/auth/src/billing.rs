//! Buying hours: the packages on sale, Stripe Checkout sessions, and the verification of
//! Stripe's signed webhook events (`Stripe-Signature`: HMAC-SHA256 of `timestamp.body` with
//! the endpoint's secret, within a tolerance of the timestamp). The API's base URL is a
//! setting, so a server that speaks the same API can stand in for Stripe.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use variosync_domain::{Hours, UserId};

/// How old a webhook's signature may be before it is refused (replays).
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// Packages and the Stripe account.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BillingSettings {
    /// The packages on sale: `HOURS:CENTS` pairs, comma-separated.
    pub packages: String,
    /// The currency of the prices (ISO 4217, lower case).
    pub currency: String,
    /// Stripe's secret API key; unset turns buying off (admins grant hours).
    pub stripe_secret_key: Option<SecretString>,
    /// The signing secret of the webhook endpoint (`whsec_...`).
    pub stripe_webhook_secret: Option<SecretString>,
    /// Stripe's API.
    pub stripe_api_url: String,
}

impl Default for BillingSettings {
    fn default() -> Self {
        Self {
            packages: "5:2500,10:4500,20:8000,50:18000".to_owned(),
            currency: "usd".to_owned(),
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_url: "https://api.stripe.com".to_owned(),
        }
    }
}

/// An hour package on sale.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Package {
    /// Its id, e.g. `10h`.
    pub id: String,
    /// The hours it buys.
    pub hours: Hours,
    /// Its price, in cents of `currency`.
    pub price_cents: i64,
    /// ISO 4217 code, lower case.
    pub currency: String,
}

/// Reads `HOURS:CENTS,...`.
pub fn parse_packages(text: &str, currency: &str) -> Result<Vec<Package>, String> {
    let currency = currency.trim().to_ascii_lowercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(format!("{currency:?} is not a three-letter currency code"));
    }
    text.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (hours, cents) = part
                .trim()
                .split_once(':')
                .ok_or_else(|| format!("{part:?} is not HOURS:CENTS"))?;
            let hours: f64 = hours.trim().parse().map_err(|_| format!("{hours:?} is not hours"))?;
            let price_cents: i64 =
                cents.trim().parse().map_err(|_| format!("{cents:?} is not a price in cents"))?;
            let hours = Hours::from_hours_f64(hours)
                .filter(|h| h.as_micro() > 0)
                .ok_or_else(|| format!("{part:?}: the hours must be positive"))?;
            if price_cents < 50 {
                return Err(format!("{part:?}: a price is at least 50 cents"));
            }
            let id = format!("{}h", hours.as_hours_f64());
            Ok(Package { id, hours, price_cents, currency: currency.clone() })
        })
        .collect()
}

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No usable `Stripe-Signature` header.
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    /// No signature matches.
    #[error("the signature does not match")]
    Mismatch,
    /// The signature is too old (or from the future).
    #[error("the signature's timestamp is outside the tolerance of {SIGNATURE_TOLERANCE_SECS} s")]
    Stale,
}

/// Why talking to Stripe failed.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// The request failed or the answer was not understood.
    #[error("Stripe did not answer as expected: {0}")]
    Unavailable(String),
}

/// A Stripe account able to sell hours.
#[derive(Clone)]
pub struct Stripe {
    client: reqwest::Client,
    api_url: String,
    secret_key: SecretString,
    webhook_secret: SecretString,
}

impl fmt::Debug for Stripe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stripe").field("api_url", &self.api_url).finish_non_exhaustive()
    }
}

/// A started checkout.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Checkout {
    /// The session's id (`cs_...`).
    pub id: String,
    /// Where to send the buyer.
    pub url: String,
}

/// A completed checkout, from a verified event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// The event's id (`evt_...`).
    pub event_id: String,
    /// The checkout session's id.
    pub checkout_id: String,
}

impl Stripe {
    /// The account the settings name; `None` without keys (buying is off).
    pub fn from_settings(settings: &BillingSettings) -> Result<Option<Self>, String> {
        match (&settings.stripe_secret_key, &settings.stripe_webhook_secret) {
            (None, None) => Ok(None),
            (Some(secret_key), Some(webhook_secret)) => {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()
                    .map_err(|e| e.to_string())?;
                Ok(Some(Self {
                    client,
                    api_url: settings.stripe_api_url.trim_end_matches('/').to_owned(),
                    secret_key: secret_key.clone(),
                    webhook_secret: webhook_secret.clone(),
                }))
            }
            _ => Err("set both the Stripe secret key and the webhook secret, or neither".into()),
        }
    }

    /// Starts a Checkout session for `package`, bought by `user`.
    pub async fn checkout(
        &self,
        user: UserId,
        email: &str,
        package: &Package,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<Checkout, StripeError> {
        let name = format!("{} compute hours", package.hours.as_hours_f64());
        let form = [
            ("mode", "payment".to_owned()),
            ("success_url", success_url.to_owned()),
            ("cancel_url", cancel_url.to_owned()),
            ("client_reference_id", user.to_string()),
            ("customer_email", email.to_owned()),
            ("metadata[package]", package.id.clone()),
            ("line_items[0][quantity]", "1".to_owned()),
            ("line_items[0][price_data][currency]", package.currency.clone()),
            ("line_items[0][price_data][unit_amount]", package.price_cents.to_string()),
            ("line_items[0][price_data][product_data][name]", name),
        ];
        let response = self
            .client
            .post(format!("{}/v1/checkout/sessions", self.api_url))
            .bearer_auth(self.secret_key.expose_secret())
            .form(&form)
            .send()
            .await
            .map_err(|e| StripeError::Unavailable(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(StripeError::Unavailable(format!("status {status}")));
        }
        response.json().await.map_err(|e| StripeError::Unavailable(e.to_string()))
    }

    /// Verifies a webhook delivery (`header` is `Stripe-Signature`) at `now` (seconds since
    /// 1970) and reads it; `Ok(None)` for a verified event that completes no payment.
    pub fn verify(
        &self,
        header: &str,
        body: &[u8],
        now: i64,
    ) -> Result<Option<Completed>, WebhookError> {
        verify_signature(self.webhook_secret.expose_secret(), header, body, now)?;
        #[derive(Deserialize)]
        struct Event {
            id: String,
            #[serde(rename = "type")]
            kind: String,
            data: Data,
        }
        #[derive(Deserialize)]
        struct Data {
            object: Session,
        }
        #[derive(Deserialize)]
        struct Session {
            id: String,
            payment_status: Option<String>,
        }
        let Ok(event) = serde_json::from_slice::<Event>(body) else {
            return Ok(None);
        };
        let paid = event.data.object.payment_status.as_deref() == Some("paid");
        let completes = matches!(
            event.kind.as_str(),
            "checkout.session.completed" | "checkout.session.async_payment_succeeded"
        );
        Ok((completes && paid)
            .then_some(Completed { event_id: event.id, checkout_id: event.data.object.id }))
    }
}

/// HMAC-SHA256 of `timestamp.body` with `secret`.
fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// The `v1` signature of `body` at `timestamp` with `secret`, as hex.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    mac(secret, timestamp, body).iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `Stripe-Signature: t=...,v1=...[,v1=...]` against `body`.
fn verify_signature(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), WebhookError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::Malformed)?;
    if signatures.is_empty() {
        return Err(WebhookError::Malformed);
    }
    let expected = mac(secret, timestamp, body);
    // Compared in constant time, as bytes.
    let matches = signatures.iter().any(|signature| {
        let bytes: Option<Vec<u8>> = (0..signature.len())
            .step_by(2)
            .map(|i| signature.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect();
        bytes.is_some_and(|bytes| {
            use subtle::ConstantTimeEq;
            bytes.len() == expected.len() && bool::from(bytes.ct_eq(&expected))
        })
    });
    if !matches {
        return Err(WebhookError::Mismatch);
    }
    if (now - timestamp).abs() > SIGNATURE_TOLERANCE_SECS {
        return Err(WebhookError::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_read_from_the_setting_and_refuse_nonsense() {
        let packages = parse_packages(&BillingSettings::default().packages, "USD").unwrap();
        let summary: Vec<(String, i64)> =
            packages.iter().map(|p| (p.id.clone(), p.price_cents)).collect();
        assert_eq!(
            summary,
            [
                ("5h".into(), 2500),
                ("10h".into(), 4500),
                ("20h".into(), 8000),
                ("50h".into(), 18000)
            ]
        );
        assert_eq!(packages[0].currency, "usd");
        for bad in ["5", "x:100", "5:abc", "0:100", "5:10"] {
            assert!(parse_packages(bad, "usd").is_err(), "{bad}");
        }
        assert!(parse_packages("5:2500", "dollars").is_err());
    }

    #[test]
    fn signatures_are_checked_in_full_and_in_time() {
        let body = br#"{"id":"evt_1"}"#;
        let good = sign("whsec_test", 1_700_000_000, body);
        let header = format!("t=1700000000,v1={good}");
        assert_eq!(verify_signature("whsec_test", &header, body, 1_700_000_100), Ok(()));
        let two = format!("t=1700000000,v1={},v1={good}", "0".repeat(64));
        assert_eq!(verify_signature("whsec_test", &two, body, 1_700_000_000), Ok(()));
        assert_eq!(
            verify_signature("whsec_other", &header, body, 1_700_000_000),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(
            verify_signature("whsec_test", &header, b"{}", 1_700_000_000),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(
            verify_signature("whsec_test", &header, body, 1_700_000_301),
            Err(WebhookError::Stale)
        );
        for malformed in ["", "v1=abc", "t=1700000000", "t=soon,v1=ab"] {
            assert_eq!(
                verify_signature("whsec_test", malformed, body, 1_700_000_000),
                Err(WebhookError::Malformed),
                "{malformed}"
            );
        }
    }
}
