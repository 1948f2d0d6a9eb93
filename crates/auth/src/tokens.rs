//! Short-lived JWT access tokens for API clients that prefer them to sending their API key
//! on every request: minted from an API key or a session, signed HS256 with a key every
//! replica shares (generated once and kept in the database), and refused as soon as the
//! credential they came from is revoked.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
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
    /// Not before: the same as `iat` (tokens minted before it was written have none).
    #[serde(default)]
    nbf: i64,
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
            nbf: now,
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

    /// The claims of a token we signed, within its times; `None` for any other.
    fn decode(&self, token: &str) -> Option<Claims> {
        let mut validation = crate::jwt_validation(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok().map(|d| d.claims)
    }

    /// A valid token whose origin is still live, and its account's; `None` otherwise.
    pub async fn verify(&self, backends: &Backends, token: &str) -> Result<Option<Verified>> {
        let Some(claims) = self.decode(token) else { return Ok(None) };
        if !Self::origin_is_live(backends, claims.origin).await? {
            return Ok(None);
        }
        let user = backends.users().find_by_id(Access::person(claims.sub), claims.sub).await?;
        Ok(user.filter(User::is_active).map(|user| Verified {
            user,
            scope: claims.scope,
            origin: claims.origin,
            expires_at: chrono::DateTime::from_timestamp(claims.exp, 0),
        }))
    }

    /// Whether the key or session a token was minted from is still live (not revoked,
    /// signed out or expired).
    pub async fn origin_is_live(backends: &Backends, origin: Origin) -> Result<bool> {
        Ok(match origin {
            Origin::ApiKey(id) => backends.api_keys().is_live(id).await?,
            Origin::Session(id) => backends.sessions().is_live(id).await?,
        })
    }
}

/// A checked access token.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Whose.
    pub user: User,
    /// What it may do.
    pub scope: ApiScope,
    /// The key or session it was minted from.
    pub origin: Origin,
    /// When it expires.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CLOCK_LEEWAY_SECS;

    fn tokens() -> AccessTokens {
        let secret = "a test signing key of thirty-two bytes";
        AccessTokens {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        }
    }

    /// A token signed with our key whose times are `nbf` and `exp` seconds from now.
    fn signed(tokens: &AccessTokens, nbf: i64, exp: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: UserId::new(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            nbf: now + nbf,
            exp: now + exp,
            jti: "t".to_owned(),
            scope: ApiScope::Read,
            origin: Origin::ApiKey(ApiKeyId::new()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &tokens.encoding).unwrap()
    }

    #[test]
    fn a_token_is_refused_before_its_nbf_and_after_its_exp_beyond_the_leeway() {
        let tokens = tokens();
        let leeway = CLOCK_LEEWAY_SECS as i64;
        let minted = tokens.mint(UserId::new(), ApiScope::Read, Origin::ApiKey(ApiKeyId::new()));
        assert!(tokens.decode(&minted.unwrap().access_token).is_some(), "a fresh token");
        assert!(tokens.decode(&signed(&tokens, 0, 600)).is_some());
        assert!(tokens.decode(&signed(&tokens, 3600, 7200)).is_none(), "not valid for an hour");
        assert!(tokens.decode(&signed(&tokens, leeway + 30, 600)).is_none());
        assert!(tokens.decode(&signed(&tokens, leeway / 2, 600)).is_some(), "within the leeway");
        assert!(tokens.decode(&signed(&tokens, -7200, -3600)).is_none(), "expired an hour ago");
        assert!(tokens.decode(&signed(&tokens, -7200, -leeway - 30)).is_none());
        assert!(tokens.decode(&signed(&tokens, -7200, -leeway / 2)).is_some(), "within the leeway");
    }
}
