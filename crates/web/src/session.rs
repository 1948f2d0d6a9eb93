//! Authentication of requests: the session cookie (with its CSRF check) or an API key, as
//! one extractor, [`CurrentUser`], so no handler repeats the checks.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use variosync_domain::{ApiKeyId, ApiScope, ErrorKind, Role, SessionId, User};
use variosync_store::Quota;

use crate::error::ApiError;
use crate::state::AppState;

/// The cookie that carries the session's secret.
pub const SESSION_COOKIE: &str = "vs_session";
/// The header a browser sends the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token of a session, derived from its secret: a page can embed it, an attacker's
/// page cannot read it (same-origin policy), and the server needs to store nothing.
pub fn csrf_token(session_secret: &str) -> String {
    let digest =
        Sha256::new().chain_update(b"variosync csrf v1:").chain_update(session_secret).finalize();
    URL_SAFE_NO_PAD.encode(digest)
}

/// The value of one cookie in a request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value for the session: HttpOnly, SameSite=Lax, Secure unless the service
/// is reached over plain HTTP (a local install), and a max-age of the session's lifetime.
pub fn session_cookie(secret: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    )
}

/// The `Set-Cookie` value for a fresh sign-in: the session's secret, living as long as the
/// session may.
pub fn cookie_for(signed: &variosync_auth::SignedIn, secure: bool) -> String {
    let max_age = (signed.session.expires_at - chrono::Utc::now()).num_seconds().max(0);
    session_cookie(signed.token.expose(), max_age, secure)
}

/// A `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A browser session.
    Session {
        /// The session.
        id: SessionId,
    },
    /// A personal API key.
    ApiKey {
        /// The key.
        id: ApiKeyId,
        /// What it may do.
        scope: ApiScope,
    },
    /// A short-lived access token minted from a key or a session.
    AccessToken {
        /// What it may do.
        scope: ApiScope,
        /// The key or session it was minted from.
        origin: variosync_auth::Origin,
    },
    /// A bearer token from the configured external issuer; it may read and write.
    External,
}

/// The signed-in user of a request. Extracting it authenticates the request, checks CSRF for
/// cookie-authenticated changes, checks an API key's scope against the method, and applies
/// the per-user API rate limit.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The account.
    pub user: User,
    /// How it signed in.
    pub credential: Credential,
    /// When the credential ends by itself (a session's or a token's expiry).
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl CurrentUser {
    /// The session id, when signed in by cookie.
    pub fn session_id(&self) -> Option<SessionId> {
        match self.credential {
            Credential::Session { id } => Some(id),
            Credential::ApiKey { .. } | Credential::AccessToken { .. } | Credential::External => {
                None
            }
        }
    }

    /// What the credential may do (a session may do everything its user may).
    pub fn scope(&self) -> ApiScope {
        match self.credential {
            Credential::Session { .. } => ApiScope::Admin,
            Credential::External => ApiScope::Write,
            Credential::ApiKey { scope, .. } | Credential::AccessToken { scope, .. } => scope,
        }
    }

    /// Refuses unless the user is an admin (and, for a key, the key has admin scope).
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.user.role == Role::Admin && self.scope().allows(ApiScope::Admin) {
            Ok(())
        } else {
            Err(ApiError::new(ErrorKind::Forbidden, "admin_only", "this needs an admin account"))
        }
    }
}

impl CurrentUser {
    /// Whether the credential still holds: not expired, not revoked or signed out, and its
    /// account still active. An open event stream asks every [`RECHECK_EVERY`].
    pub async fn still_valid(&self, state: &AppState) -> Result<bool, ApiError> {
        if self.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
            return Ok(false);
        }
        let live = match &self.credential {
            Credential::Session { id } => state.backends.sessions().is_live(*id).await?,
            Credential::ApiKey { id, .. } => state.backends.api_keys().is_live(*id).await?,
            Credential::AccessToken { origin, .. } => {
                variosync_auth::AccessTokens::origin_is_live(&state.backends, *origin).await?
            }
            Credential::External => true,
        };
        if !live {
            return Ok(false);
        }
        let id = self.user.id;
        let user =
            state.backends.users().find_by_id(variosync_store::Access::person(id), id).await?;
        Ok(user.is_some_and(|user| user.is_active()))
    }
}

/// How often a long-lived answer (an event stream) checks that its credential still holds.
pub const RECHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

impl CurrentUser {
    /// The acting principal for the use cases: this user in their personal workspace, from
    /// `client`.
    pub fn principal(&self, client: &variosync_auth::ClientInfo) -> variosync_app::Principal {
        let principal = variosync_app::Principal::person(
            self.user.id,
            self.user.role,
            client.ip.clone(),
            client.user_agent.clone(),
        );
        variosync_app::Principal { admin_scope: self.scope().allows(ApiScope::Admin), ..principal }
    }
}

/// The acting principal of an authenticated request: [`CurrentUser`] (with every check it
/// makes) and the client it came from, as the use cases take it.
#[derive(Debug, Clone)]
pub struct Actor(pub variosync_app::Principal);

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let current = CurrentUser::from_request_parts(parts, state).await?;
        let crate::client::Client(client) = crate::client::Client::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|e| match e {});
        Ok(Self(current.principal(&client)))
    }
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(ErrorKind::Unauthenticated, "unauthenticated", message)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let current = authenticate(parts, state).await?;
        let quota =
            Quota::new(state.rate_limits.api_per_minute, std::time::Duration::from_secs(60));
        if let Some(quota) = quota {
            let decision =
                state.backends.limiter.check(&format!("api:{}", current.user.id), quota).await?;
            if !decision.allowed {
                return Err(ApiError::rate_limited(decision.retry_after));
            }
        }
        Ok(current)
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<CurrentUser, ApiError> {
    let Some(authorization) = parts.headers.get(header::AUTHORIZATION) else {
        return session_user(parts, state).await;
    };
    let bearer = authorization
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            unauthenticated("the Authorization header must be `Bearer <API key or access token>`")
        })?;
    let current = bearer_user(state, bearer).await?;
    // Minting an access token changes nothing: any key may, and the token keeps its scope.
    // (Inside the nested `/api/v1` router the path arrives without its prefix.)
    let mints_token = parts.uri.path() == "/auth/token";
    let needed =
        if is_safe(&parts.method) || mints_token { ApiScope::Read } else { ApiScope::Write };
    if !current.scope().allows(needed) {
        return Err(ApiError::new(
            ErrorKind::Forbidden,
            "insufficient_scope",
            format!(
                "this credential has the {} scope; this request needs {needed}",
                current.scope()
            ),
        ));
    }
    Ok(current)
}

/// The user of a bearer credential: an API key, an access token, or an external issuer's
/// token.
async fn bearer_user(state: &AppState, bearer: &str) -> Result<CurrentUser, ApiError> {
    if bearer.starts_with("vsk_") {
        let (user, key) = state
            .accounts
            .authenticate_api_key(bearer)
            .await?
            .ok_or_else(|| unauthenticated("the API key is invalid or revoked"))?;
        let credential = Credential::ApiKey { id: key.id, scope: key.scope };
        return Ok(CurrentUser { user, credential, expires_at: None });
    }
    if let Some(token) = state.tokens.verify(&state.backends, bearer).await? {
        let credential = Credential::AccessToken { scope: token.scope, origin: token.origin };
        return Ok(CurrentUser { user: token.user, credential, expires_at: token.expires_at });
    }
    let external = match &state.external_jwt {
        Some(verifier) => state.accounts.authenticate_external(verifier, bearer).await?,
        None => None,
    };
    let (user, expires_at) = external
        .ok_or_else(|| unauthenticated("the access token is invalid, expired or revoked"))?;
    Ok(CurrentUser { user, credential: Credential::External, expires_at })
}

/// The user of the session cookie, with the CSRF token checked for a change.
async fn session_user(parts: &Parts, state: &AppState) -> Result<CurrentUser, ApiError> {
    let secret = cookie(&parts.headers, SESSION_COOKIE)
        .ok_or_else(|| unauthenticated("sign in, or send an API key as `Authorization: Bearer`"))?;
    let (user, session) = state
        .accounts
        .authenticate_session(secret)
        .await?
        .ok_or_else(|| unauthenticated("the session has ended; sign in again"))?;
    if !is_safe(&parts.method) {
        let sent = parts.headers.get(CSRF_HEADER).map(|value| value.as_bytes()).unwrap_or_default();
        let expected = csrf_token(secret);
        if !bool::from(sent.ct_eq(expected.as_bytes())) {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                "csrf_failed",
                "the request lacks the session's CSRF token (header X-CSRF-Token)",
            ));
        }
    }
    let expires_at = Some(session.expires_at);
    Ok(CurrentUser { user, credential: Credential::Session { id: session.id }, expires_at })
}
