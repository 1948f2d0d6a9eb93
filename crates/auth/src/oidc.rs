//! Sign-in with an OpenID Connect provider: the authorization-code flow with PKCE (S256),
//! `state` bound to the browser by a cookie and `nonce` bound to the ID token, the ID token
//! checked against the provider's published keys, issuer, audience and expiry. A new identity
//! joins an existing account only through an address the provider verified.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::accounts::{Accounts, ClientInfo, SignedIn};
use crate::error::{Error, Result};
use crate::external::{ExternalJwt, ExternalJwtSettings};
use crate::pending::Pending;

/// Settings of the OpenID Connect provider.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcSettings {
    /// The provider's issuer URL; its discovery document is at
    /// `{issuer}/.well-known/openid-configuration`. Unset turns the button off.
    pub issuer: Option<String>,
    /// The client id registered at the provider.
    pub client_id: Option<String>,
    /// The client secret.
    pub client_secret: Option<SecretString>,
    /// The button's label, e.g. `Google` or `Keycloak`.
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: String,
    #[serde(default)]
    access_token: Option<String>,
}

/// A configured provider.
pub struct Oidc {
    settings: OidcSettings,
    client: reqwest::Client,
    discovered: OnceCell<(Discovery, Arc<ExternalJwt>)>,
}

impl fmt::Debug for Oidc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Oidc").field("issuer", &self.settings.issuer).finish_non_exhaustive()
    }
}

/// Where to send the browser to start, and the value to bind the sign-in to it.
#[derive(Debug)]
pub struct Started {
    /// The provider's authorization URL.
    pub url: String,
    /// The `state`, to keep in a short-lived cookie and compare on the way back.
    pub state: String,
}

fn fail(what: &str) -> Error {
    Error::Oidc(what.to_owned())
}

impl Oidc {
    /// The provider the settings describe, or `None` when none is configured.
    pub fn from_settings(settings: &OidcSettings) -> Result<Option<Self>> {
        let Some(_) = &settings.issuer else { return Ok(None) };
        if settings.client_id.is_none() || settings.client_secret.is_none() {
            return Err(Error::ExternalConfig(
                "VARIOSYNC_OIDC_CLIENT_ID and VARIOSYNC_OIDC_CLIENT_SECRET are required with VARIOSYNC_OIDC_ISSUER",
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| Error::ExternalConfig("cannot build an HTTP client"))?;
        Ok(Some(Self { settings: settings.clone(), client, discovered: OnceCell::new() }))
    }

    /// The button's label.
    pub fn name(&self) -> &str {
        if self.settings.name.is_empty() { "your identity provider" } else { &self.settings.name }
    }

    async fn discovery(&self) -> Result<&(Discovery, Arc<ExternalJwt>)> {
        self.discovered
            .get_or_try_init(|| async {
                let issuer =
                    self.settings.issuer.as_deref().unwrap_or_default().trim_end_matches('/');
                let url = format!("{issuer}/.well-known/openid-configuration");
                let discovery: Discovery = self
                    .client
                    .get(&url)
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|e| Error::Oidc(format!("discovery failed: {e}")))?
                    .json()
                    .await
                    .map_err(|e| Error::Oidc(format!("discovery document unreadable: {e}")))?;
                if discovery.issuer.trim_end_matches('/') != issuer {
                    return Err(fail("the discovery document names another issuer"));
                }
                let verifier = ExternalJwt::from_settings(&ExternalJwtSettings {
                    issuer: Some(discovery.issuer.clone()),
                    audience: self.settings.client_id.clone(),
                    jwks_url: Some(discovery.jwks_uri.clone()),
                    hs256_secret: None,
                    trust_email: false,
                })?
                .ok_or_else(|| fail("no issuer"))?;
                Ok((discovery, Arc::new(verifier)))
            })
            .await
    }

    /// Starts a sign-in: remembers the PKCE verifier and nonce under a fresh `state` in the
    /// shared cache (any replica may receive the callback) and returns the provider's URL.
    pub async fn start(&self, accounts: &Accounts, redirect_uri: &str) -> Result<Started> {
        let (discovery, _) = self.discovery().await?;
        let begun = Pending::begin(accounts.backends.cache.as_ref(), "oidc", redirect_uri).await?;
        let mut url = reqwest::Url::parse(&discovery.authorization_endpoint)
            .map_err(|_| fail("the authorization endpoint is not a URL"))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", self.settings.client_id.as_deref().unwrap_or_default())
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid email")
            .append_pair("state", &begun.state)
            .append_pair("nonce", &begun.pending.nonce)
            .append_pair("code_challenge", &begun.challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(Started { url: url.into(), state: begun.state })
    }

    /// Finishes a sign-in from the provider's redirect. `cookie_state` is the state the
    /// browser kept; it must match the one that came back, and is usable once.
    pub async fn finish(
        &self,
        accounts: &Accounts,
        code: &str,
        state: &str,
        cookie_state: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Option<SignedIn>> {
        let pending =
            Pending::take(accounts.backends.cache.as_ref(), "oidc", state, cookie_state).await?;
        let (discovery, verifier) = self.discovery().await?;
        let tokens: TokenResponse = self
            .client
            .post(&discovery.token_endpoint)
            .basic_auth(
                self.settings.client_id.as_deref().unwrap_or_default(),
                self.settings.client_secret.as_ref().map(|s| s.expose_secret().to_owned()),
            )
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &pending.redirect_uri),
                ("code_verifier", &pending.verifier),
            ])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| Error::Oidc(format!("the code exchange failed: {e}")))?
            .json()
            .await
            .map_err(|e| Error::Oidc(format!("the token response is unreadable: {e}")))?;
        let Some(mut claims) = verifier.verify(&tokens.id_token).await? else {
            return Err(fail("the ID token failed its checks"));
        };
        if claims.nonce.as_deref() != Some(pending.nonce.as_str()) {
            return Err(fail("the ID token belongs to another sign-in"));
        }
        // Providers that keep the ID token small serve the address from the userinfo
        // endpoint instead.
        if claims.email.is_none()
            && let (Some(endpoint), Some(access_token)) =
                (&discovery.userinfo_endpoint, &tokens.access_token)
        {
            let info: crate::external::ExternalClaims = self
                .client
                .get(endpoint)
                .bearer_auth(access_token)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| Error::Oidc(format!("the userinfo request failed: {e}")))?
                .json()
                .await
                .map_err(|e| Error::Oidc(format!("the userinfo response is unreadable: {e}")))?;
            if info.sub != claims.sub {
                return Err(fail("the userinfo response is about someone else"));
            }
            claims.email = info.email;
            claims.email_verified = info.email_verified;
        }
        let verified = claims.email_verified.unwrap_or(false);
        let Some(user) =
            accounts.user_for_identity(&discovery.issuer, &claims, verified, "oidc").await?
        else {
            return Ok(None);
        };
        Ok(Some(accounts.sign_in_verified(user, "oidc", client).await?))
    }
}
