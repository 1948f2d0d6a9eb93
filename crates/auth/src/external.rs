//! Bearer JWTs from an external issuer (Supabase Auth or any OIDC provider), so that a
//! deployment that already signs people in elsewhere keeps its users. A token is checked for
//! signature (a shared HS256 secret, or the issuer's published keys), issuer, audience and
//! expiry, then mapped to a local account through its (issuer, subject) identity; a new
//! identity is linked to an existing account only through a verified e-mail address.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::RwLock;

use crate::error::{Error, Result};

/// Settings of the external issuer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExternalJwtSettings {
    /// The `iss` every accepted token must carry, e.g. `https://<project>.supabase.co/auth/v1`.
    /// Unset turns external tokens off.
    pub issuer: Option<String>,
    /// The `aud` every accepted token must carry (Supabase: `authenticated`).
    pub audience: Option<String>,
    /// Where the issuer publishes its signing keys (JWKS).
    pub jwks_url: Option<String>,
    /// A shared HS256 secret instead of published keys (Supabase's legacy JWT secret).
    pub hs256_secret: Option<SecretString>,
    /// Treat the token's `email` as verified even without an `email_verified` claim (right
    /// for Supabase projects that confirm addresses before issuing tokens).
    pub trust_email: bool,
}

/// The claims used to find or create the account.
#[derive(Debug, Clone, Deserialize)]
pub struct ExternalClaims {
    /// The issuer's id for the person.
    pub sub: String,
    /// Their address, if the token carries one.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the issuer verified the address.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// The value the client sent to bind an ID token to its sign-in (OpenID Connect).
    #[serde(default)]
    pub nonce: Option<String>,
    /// When the token expires, seconds since 1970 (checked, and required, by `verify`).
    #[serde(default)]
    pub exp: Option<i64>,
}

enum Keys {
    Shared(DecodingKey),
    Published {
        url: String,
        client: reqwest::Client,
        cache: RwLock<Option<(Arc<JwkSet>, Instant)>>,
    },
}

/// Verifies external tokens.
pub struct ExternalJwt {
    settings: ExternalJwtSettings,
    keys: Keys,
}

impl fmt::Debug for ExternalJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalJwt").field("issuer", &self.settings.issuer).finish_non_exhaustive()
    }
}

/// Published keys are refetched at most this often when a token names an unknown key.
const REFRESH_AFTER: Duration = Duration::from_secs(60);
/// Algorithms accepted with published keys: asymmetric only.
const PUBLISHED_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

impl ExternalJwt {
    /// The verifier the settings describe, or `None` when no issuer is configured.
    pub fn from_settings(settings: &ExternalJwtSettings) -> Result<Option<Self>> {
        let Some(_) = &settings.issuer else { return Ok(None) };
        if settings.audience.is_none() {
            return Err(Error::ExternalConfig(
                "VARIOSYNC_EXTERNAL_JWT_AUDIENCE is required with an issuer",
            ));
        }
        let keys = match (&settings.hs256_secret, &settings.jwks_url) {
            (Some(secret), None) => {
                Keys::Shared(DecodingKey::from_secret(secret.expose_secret().as_bytes()))
            }
            (None, Some(url)) => Keys::Published {
                url: url.clone(),
                client: reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .map_err(|_| Error::ExternalConfig("cannot build an HTTP client"))?,
                cache: RwLock::new(None),
            },
            _ => {
                return Err(Error::ExternalConfig(
                    "set exactly one of VARIOSYNC_EXTERNAL_JWT_JWKS_URL and VARIOSYNC_EXTERNAL_JWT_HS256_SECRET",
                ));
            }
        };
        Ok(Some(Self { settings: settings.clone(), keys }))
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        self.settings.issuer.as_deref().unwrap_or_default()
    }

    /// Whether the settings vouch for addresses in tokens.
    pub fn trusts_email(&self) -> bool {
        self.settings.trust_email
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = crate::jwt_validation(algorithm);
        validation.set_issuer(&[self.issuer()]);
        validation.set_audience(&[self.settings.audience.as_deref().unwrap_or_default()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation
    }

    async fn published(
        &self,
        url: &str,
        client: &reqwest::Client,
        cache: &RwLock<Option<(Arc<JwkSet>, Instant)>>,
        refresh: bool,
    ) -> Result<Arc<JwkSet>> {
        if let Some((set, fetched)) = cache.read().await.as_ref()
            && (!refresh || fetched.elapsed() < REFRESH_AFTER)
        {
            return Ok(set.clone());
        }
        let fetched = client
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| Error::ExternalKeys(error.to_string()))?
            .json::<JwkSet>()
            .await
            .map_err(|error| Error::ExternalKeys(error.to_string()))?;
        let set = Arc::new(fetched);
        *cache.write().await = Some((set.clone(), Instant::now()));
        Ok(set)
    }

    /// The claims of a valid token; `None` for any token that fails a check.
    pub async fn verify(&self, token: &str) -> Result<Option<ExternalClaims>> {
        let Ok(header) = jsonwebtoken::decode_header(token) else { return Ok(None) };
        let key = match &self.keys {
            Keys::Shared(key) => {
                if header.alg != Algorithm::HS256 {
                    return Ok(None);
                }
                key.clone()
            }
            Keys::Published { url, client, cache } => {
                if !PUBLISHED_ALGORITHMS.contains(&header.alg) {
                    return Ok(None);
                }
                let Some(kid) = header.kid.as_deref() else { return Ok(None) };
                let mut set = self.published(url, client, cache, false).await?;
                if set.find(kid).is_none() {
                    set = self.published(url, client, cache, true).await?;
                }
                let Some(jwk) = set.find(kid) else { return Ok(None) };
                let Ok(key) = DecodingKey::from_jwk(jwk) else { return Ok(None) };
                key
            }
        };
        Ok(jsonwebtoken::decode::<ExternalClaims>(token, &key, &self.validation(header.alg))
            .ok()
            .map(|data| data.claims))
    }
}
