//! Short-lived JWT access tokens for API clients that prefer them to sending their API key
//! on every request: minted from an API key or a session, signed HS256 with a key every
//! replica shares (generated once and kept in the database), and refused as soon as the
//! credential they came from is revoked.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use variosync_domain::{ApiKeyId, ApiScope, SessionId, User, UserId};
use variosync_store::{Access, Backends};

use crate::error::Result;

/// How long an access token works.
pub const LIFETIME_SECS: i64 = 15 * 60;
const ISSUER: &str = "variosync";
const AUDIENCE: &str = "variosync-api";
const SECRET_NAME: &str = "access_token_signing_key";

/// The credential a token was minted from; the token dies with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Origin {
    /// An API key.
    ApiKey(ApiKeyId),
    /// A browser session.
    Session(SessionId),
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: UserId,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    jti: String,
    scope: ApiScope,
    origin: Origin,
}

/// Signs and checks access tokens.
#[derive(Clone)]
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessTokens([key redacted])")
    }
}

/// A minted token and how long it lives.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccessToken {
    /// The JWT.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// What it may do.
    pub scope: ApiScope,
}

impl AccessTokens {
    /// Loads the shared signing key, creating it on first use.
    pub async fn load(backends: &Backends) -> Result<Self> {
        let secret = backends
            .server_secrets()
            .get_or_create(SECRET_NAME, || {
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                URL_SAFE_NO_PAD.encode(bytes)
            })
            .await?;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        })
    }

    /// Mints a token for `user` with `scope`, tied to `origin`.
    pub fn mint(&self, user: UserId, scope: ApiScope, origin: Origin) -> Result<AccessToken> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now + LIFETIME_SECS,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            scope,
            origin,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| crate::Error::Hashing)?;
        Ok(AccessToken {
            access_token: token,
            token_type: "Bearer",
            expires_in: LIFETIME_SECS,
            scope,
        })
    }

    /// The user and scope of a valid token whose origin is still live; `None` otherwise.
    pub async fn verify(
        &self,
        backends: &Backends,
        token: &str,
    ) -> Result<Option<(User, ApiScope)>> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 5;
        let Ok(data) = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation) else {
            return Ok(None);
        };
        let claims = data.claims;
        let live = match claims.origin {
            Origin::ApiKey(id) => backends.api_keys().is_live(id).await?,
            Origin::Session(id) => backends.sessions().is_live(id).await?,
        };
        if !live {
            return Ok(None);
        }
        let user = backends.users().find_by_id(Access::person(claims.sub), claims.sub).await?;
        Ok(user.filter(User::is_active).map(|user| (user, claims.scope)))
    }
}
