//! Sign-in with GitHub (OAuth2, which has no ID token): the authorization-code flow with
//! `state` and PKCE, then the account's id from `GET /user` and its verified primary address
//! from `GET /user/emails`. The base URLs are settings so that GitHub Enterprise Server works
//! (and the tests can run a server that speaks the same API).

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::accounts::{Accounts, ClientInfo, SignedIn};
use crate::error::{Error, Result};
use crate::external::ExternalClaims;
use crate::oidc::Started;
use crate::pending::Pending;

/// The identity issuer recorded for GitHub accounts.
const ISSUER: &str = "https://github.com";

/// GitHub OAuth app settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GithubSettings {
    /// The OAuth app's client id; unset turns the button off.
    pub client_id: Option<String>,
    /// The OAuth app's client secret.
    pub client_secret: Option<SecretString>,
    /// Where people authorize (`https://github.com`, or a GitHub Enterprise Server).
    pub web_url: String,
    /// The REST API (`https://api.github.com`, or `https://HOST/api/v3`).
    pub api_url: String,
}

impl Default for GithubSettings {
    fn default() -> Self {
        Self {
            client_id: None,
            client_secret: None,
            web_url: "https://github.com".to_owned(),
            api_url: "https://api.github.com".to_owned(),
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct GithubUser {
    id: u64,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// A configured GitHub OAuth app.
pub struct Github {
    settings: GithubSettings,
    client: reqwest::Client,
}

impl fmt::Debug for Github {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Github").field("web_url", &self.settings.web_url).finish_non_exhaustive()
    }
}

fn fail(what: String) -> Error {
    Error::Oidc(what)
}

impl Github {
    /// The app the settings describe, or `None` when none is configured.
    pub fn from_settings(settings: &GithubSettings) -> Result<Option<Self>> {
        let Some(_) = &settings.client_id else { return Ok(None) };
        if settings.client_secret.is_none() {
            return Err(Error::ExternalConfig(
                "VARIOSYNC_GITHUB_CLIENT_SECRET is required with VARIOSYNC_GITHUB_CLIENT_ID",
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            // GitHub's API refuses requests without a user agent.
            .user_agent(concat!("variosync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| Error::ExternalConfig("cannot build an HTTP client"))?;
        Ok(Some(Self { settings: settings.clone(), client }))
    }

    /// Starts a sign-in and returns GitHub's authorization URL.
    pub async fn start(&self, accounts: &Accounts, redirect_uri: &str) -> Result<Started> {
        let begun =
            Pending::begin(accounts.backends.cache.as_ref(), "github", redirect_uri).await?;
        let base = self.settings.web_url.trim_end_matches('/');
        let mut url = reqwest::Url::parse(&format!("{base}/login/oauth/authorize"))
            .map_err(|_| Error::ExternalConfig("VARIOSYNC_GITHUB_WEB_URL is not a URL"))?;
        url.query_pairs_mut()
            .append_pair("client_id", self.settings.client_id.as_deref().unwrap_or_default())
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "read:user user:email")
            .append_pair("state", &begun.state)
            .append_pair("code_challenge", &begun.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("allow_signup", "false");
        Ok(Started { url: url.into(), state: begun.state })
    }

    /// Finishes a sign-in from GitHub's redirect.
    pub async fn finish(
        &self,
        accounts: &Accounts,
        code: &str,
        state: &str,
        cookie_state: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Option<SignedIn>> {
        let pending =
            Pending::take(accounts.backends.cache.as_ref(), "github", state, cookie_state).await?;
        let web = self.settings.web_url.trim_end_matches('/');
        let api = self.settings.api_url.trim_end_matches('/');
        let token: TokenResponse = self
            .client
            .post(format!("{web}/login/oauth/access_token"))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("client_id", self.settings.client_id.as_deref().unwrap_or_default()),
                (
                    "client_secret",
                    self.settings
                        .client_secret
                        .as_ref()
                        .map(|s| s.expose_secret())
                        .unwrap_or_default(),
                ),
                ("code", code),
                ("redirect_uri", &pending.redirect_uri),
                ("code_verifier", &pending.verifier),
            ])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| fail(format!("the code exchange failed: {e}")))?
            .json()
            .await
            .map_err(|e| fail(format!("GitHub's token response is unreadable: {e}")))?;
        let access_token = token.access_token.ok_or_else(|| {
            fail(format!("GitHub refused the code: {}", token.error.unwrap_or_default()))
        })?;
        let get = |path: &str| {
            self.client
                .get(format!("{api}{path}"))
                .bearer_auth(&access_token)
                .header(reqwest::header::ACCEPT, "application/vnd.github+json")
                .send()
        };
        let user: GithubUser = get("/user")
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| fail(format!("GitHub's user request failed: {e}")))?
            .json()
            .await
            .map_err(|e| fail(format!("GitHub's user response is unreadable: {e}")))?;
        let emails: Vec<GithubEmail> = get("/user/emails")
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| fail(format!("GitHub's e-mail request failed: {e}")))?
            .json()
            .await
            .map_err(|e| fail(format!("GitHub's e-mail response is unreadable: {e}")))?;
        let primary = emails.into_iter().find(|email| email.primary && email.verified);
        let claims = ExternalClaims {
            sub: user.id.to_string(),
            email_verified: Some(primary.is_some()),
            email: primary.map(|email| email.email),
            nonce: None,
            exp: None,
        };
        let verified = claims.email_verified.unwrap_or(false);
        let Some(user) = accounts.user_for_identity(ISSUER, &claims, verified, "github").await?
        else {
            return Ok(None);
        };
        Ok(Some(accounts.sign_in_verified(user, "github", client).await?))
    }
}
