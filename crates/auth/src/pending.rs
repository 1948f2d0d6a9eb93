//! A browser sign-in in flight at an external provider: its `state`, PKCE verifier and
//! nonce, kept in the shared cache (any replica may receive the callback) for ten minutes
//! and usable once.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use variosync_store::Cache;

use crate::error::{Error, Result};
use crate::secrets::SessionToken;

/// How long a started sign-in may take to come back.
const LIFETIME: Duration = Duration::from_secs(10 * 60);

/// What the callback needs to finish a sign-in.
#[derive(Serialize, Deserialize)]
pub(crate) struct Pending {
    /// The PKCE code verifier.
    pub verifier: String,
    /// The nonce the ID token must carry (OpenID Connect).
    pub nonce: String,
    /// The redirect URI the authorization request named.
    pub redirect_uri: String,
}

/// A new sign-in: its `state` (also kept in a browser cookie), its secrets and the PKCE
/// challenge (S256) to send to the provider.
pub(crate) struct Begun {
    pub state: String,
    pub pending: Pending,
    pub challenge: String,
}

fn fail(what: &str) -> Error {
    Error::Oidc(what.to_owned())
}

impl Pending {
    /// Starts a sign-in that will come back to `redirect_uri`, and remembers it.
    pub(crate) async fn begin(
        cache: &dyn Cache,
        provider: &str,
        redirect_uri: &str,
    ) -> Result<Begun> {
        let state = SessionToken::generate().expose().to_owned();
        let verifier = SessionToken::generate().expose().to_owned();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let pending = Pending {
            verifier,
            nonce: SessionToken::generate().expose().to_owned(),
            redirect_uri: redirect_uri.to_owned(),
        };
        let bytes = Bytes::from(serde_json::to_vec(&pending).unwrap_or_default());
        cache.set(&format!("signin:{provider}:{state}"), bytes, LIFETIME).await?;
        Ok(Begun { state, pending, challenge })
    }

    /// Takes the sign-in that `state` names, once. `cookie_state` is what the browser kept:
    /// a callback that did not start in this browser is refused.
    pub(crate) async fn take(
        cache: &dyn Cache,
        provider: &str,
        state: &str,
        cookie_state: Option<&str>,
    ) -> Result<Self> {
        if cookie_state != Some(state) {
            return Err(fail("the sign-in did not start in this browser"));
        }
        let key = format!("signin:{provider}:{state}");
        let bytes =
            cache.get(&key).await?.ok_or_else(|| fail("the sign-in expired; start again"))?;
        cache.delete(&key).await?;
        serde_json::from_slice(&bytes).map_err(|_| fail("corrupt pending sign-in"))
    }
}
