//! Account operations: sign-up, sign-in, sessions, API keys, password changes and deletion.
//! Every operation that matters for security leaves an audit entry.

use chrono::Duration;
use serde::Deserialize;
use serde_json::json;
use variosync_domain::names::NameKind;
use variosync_domain::{
    ApiKeyId, ApiScope, AuditAction, Email, Hours, NewUser, Role, SessionId, TokenPurpose, User,
    UserId, WorkspaceId,
};
use variosync_store::{
    Access, ApiKey, Backends, NewApiKey, NewAuditEntry, NewAuthToken, NewSession, ObjectKey, Owner,
    PasswordHash, Session,
};

use crate::error::{Error, Result};
use crate::mail::{Mail, Mailer};
use crate::password::{self, Password};
use crate::secrets::{ApiKeySecret, SessionToken, digests_match};

/// Policies of the accounts layer.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsSettings {
    /// A session unused for this many minutes ends.
    pub session_idle_minutes: u64,
    /// A session ends this many hours after sign-in, however much it is used.
    pub session_lifetime_hours: u64,
    /// Hours granted to every new account.
    pub free_grant_hours: f64,
}

impl Default for AccountsSettings {
    fn default() -> Self {
        Self {
            session_idle_minutes: 7 * 24 * 60,
            session_lifetime_hours: 30 * 24,
            free_grant_hours: 1.0,
        }
    }
}

impl AccountsSettings {
    fn idle(&self) -> Duration {
        Duration::minutes(i64::try_from(self.session_idle_minutes).unwrap_or(i64::MAX / 60_000))
    }

    fn lifetime(&self) -> Duration {
        Duration::hours(i64::try_from(self.session_lifetime_hours).unwrap_or(i64::MAX / 3_600_000))
    }
}

/// Where a request came from, for sessions and the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address.
    pub ip: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
}

/// The outcome of signing up or in: the account, its new session, and the session's secret
/// for the cookie (shown to the client once).
#[derive(Debug)]
pub struct SignedIn {
    /// The account.
    pub user: User,
    /// The new session.
    pub session: Session,
    /// The cookie's secret.
    pub token: SessionToken,
}

/// How long an e-mailed link works.
fn link_lifetime(purpose: TokenPurpose) -> Duration {
    match purpose {
        TokenPurpose::MagicLink => Duration::minutes(15),
        TokenPurpose::ResetPassword => Duration::hours(1),
        TokenPurpose::VerifyEmail | TokenPurpose::ChangeEmail | TokenPurpose::SignUp => {
            Duration::days(2)
        }
    }
}

/// The accounts service.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub(crate) backends: Backends,
    settings: AccountsSettings,
    mailer: Mailer,
    /// Where links in e-mails point, e.g. `https://data.example.com` (no trailing slash).
    base_url: String,
}

impl Accounts {
    /// The service over `backends`, sending mail with `mailer` whose links start with
    /// `base_url`.
    pub fn new(
        backends: Backends,
        settings: AccountsSettings,
        mailer: Mailer,
        base_url: &str,
    ) -> Self {
        Self { backends, settings, mailer, base_url: base_url.trim_end_matches('/').to_owned() }
    }

    /// Issues a one-time token and returns the link that uses it.
    pub(crate) async fn issue_link(
        &self,
        user: Option<UserId>,
        purpose: TokenPurpose,
        to: &Email,
    ) -> Result<String> {
        self.issue_link_with(user, purpose, to, None).await
    }

    /// [`Self::issue_link`] for a token that carries a password's hash (a sign-up).
    async fn issue_link_with(
        &self,
        user: Option<UserId>,
        purpose: TokenPurpose,
        to: &Email,
        password_hash: Option<PasswordHash>,
    ) -> Result<String> {
        let token = SessionToken::generate();
        self.backends
            .auth_tokens()
            .issue(NewAuthToken {
                user_id: user,
                purpose,
                token_hash: token.digest(),
                email: to.clone(),
                lifetime: link_lifetime(purpose),
                password_hash,
            })
            .await?;
        let path = match purpose {
            TokenPurpose::VerifyEmail => "verify-email",
            TokenPurpose::ResetPassword => "reset-password",
            TokenPurpose::MagicLink => "magic-link",
            TokenPurpose::ChangeEmail => "change-email",
            TokenPurpose::SignUp => "signup/confirm",
        };
        Ok(format!("{}/{path}?token={}", self.base_url, token.expose()))
    }

    /// Issues a one-time token and e-mails its link.
    async fn send_link(
        &self,
        user: Option<UserId>,
        purpose: TokenPurpose,
        to: &Email,
        subject: &str,
        intro: &str,
    ) -> Result<()> {
        let link = self.issue_link(user, purpose, to).await?;
        let minutes = link_lifetime(purpose).num_minutes();
        let validity = if minutes < 120 {
            format!("{minutes} minutes")
        } else {
            format!("{} hours", minutes / 60)
        };
        let body = format!(
            "{intro}\n\n{link}\n\nThe link works once, for {validity}. If you did not ask for \
             this, ignore this message.\n\n-- Variosync\n"
        );
        self.mailer.send(&Mail { to: to.clone(), subject: subject.to_owned(), body, link }).await
    }

    /// Uses up a token of `purpose`; the error says only that the link is not valid.
    async fn consume(
        &self,
        purpose: TokenPurpose,
        token: &str,
    ) -> Result<variosync_store::AuthToken> {
        let token = SessionToken::parse(token).ok_or(Error::InvalidToken)?;
        self.backends
            .auth_tokens()
            .consume(purpose, &token.digest())
            .await?
            .ok_or(Error::InvalidToken)
    }

    /// Confirms the address of an account from the link sent at sign-up.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn verify_email(&self, token: &str, client: &ClientInfo) -> Result<User> {
        let token = self.consume(TokenPurpose::VerifyEmail, token).await?;
        let user_id = token.user_id.ok_or(Error::InvalidToken)?;
        let access = Access::person(user_id);
        let user =
            self.backends.users().find_by_id(access, user_id).await?.ok_or(Error::InvalidToken)?;
        if user.email != token.email {
            // The address changed since the link was sent: it proves nothing about the new one.
            return Err(Error::InvalidToken);
        }
        let user = self
            .backends
            .users()
            .mark_email_verified(access, user_id)
            .await?
            .ok_or(Error::InvalidToken)?;
        self.audit(access, Some(user_id), AuditAction::EmailVerified, client, json!({})).await?;
        Ok(user)
    }

    /// Sends a password-reset link if the address has an account. Answers the same either
    /// way, so the endpoint cannot be used to find out who has an account.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn request_password_reset(&self, email: &str) -> Result<()> {
        // A malformed address is refused: that says nothing of who has an account.
        let email = Email::parse(email)?;
        if let Some(user) = self.backends.users().find_by_email(Access::System, &email).await?
            && user.is_active()
        {
            self.send_link(
                Some(user.id),
                TokenPurpose::ResetPassword,
                &user.email,
                "Reset your Variosync password",
                "Someone asked to reset the password of your Variosync account. To choose a new \
                 password, open:",
            )
            .await?;
        }
        Ok(())
    }

    /// Sets a new password from a reset link, and ends every session of the account.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        // Check what can be checked before the link is used up, so a refused password does
        // not cost the user their link.
        Password::parse(new_password, "")?;
        let token = self.consume(TokenPurpose::ResetPassword, token).await?;
        let user_id = token.user_id.ok_or(Error::InvalidToken)?;
        let access = Access::person(user_id);
        let password = Password::parse(new_password, token.email.as_str())?;
        let hash = password::hash(&password).await?;
        if !self.backends.users().set_password_hash(access, user_id, &hash).await? {
            return Err(Error::InvalidToken);
        }
        let ended = self.backends.sessions().revoke_all(access, user_id, None).await?;
        // Following the link proves the address too.
        self.backends.users().mark_email_verified(access, user_id).await?;
        self.audit(
            access,
            Some(user_id),
            AuditAction::PasswordReset,
            client,
            json!({ "sessions_ended": ended }),
        )
        .await
    }

    /// Sends a sign-in link. For an address without an account the link creates one when
    /// followed. Answers the same either way.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn request_magic_link(&self, email: &str) -> Result<()> {
        // A malformed address is refused: that says nothing of who has an account.
        let email = Email::parse(email)?;
        let user = self.backends.users().find_by_email(Access::System, &email).await?;
        if user.as_ref().is_some_and(|user| !user.is_active()) {
            return Ok(());
        }
        self.send_link(
            user.map(|user| user.id),
            TokenPurpose::MagicLink,
            &email,
            "Your Variosync sign-in link",
            "To sign in to Variosync, open:",
        )
        .await
    }

    /// Signs in with a magic link (creating the account if the address has none), once.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn sign_in_with_link(&self, token: &str, client: &ClientInfo) -> Result<SignedIn> {
        let token = self.consume(TokenPurpose::MagicLink, token).await?;
        let users = self.backends.users();
        let existing = match token.user_id {
            Some(id) => users.find_by_id(Access::person(id), id).await?,
            None => users.find_by_email(Access::System, &token.email).await?,
        };
        let user = match existing {
            Some(user) => user,
            None => {
                let user = users
                    .create(&NewUser {
                        email: token.email.clone(),
                        password_hash: None,
                        role: Role::User,
                    })
                    .await?;
                self.welcome(&user, client, "magic_link").await?;
                user
            }
        };
        if !user.is_active() {
            return Err(Error::Disabled);
        }
        let access = Access::person(user.id);
        let user = users.mark_email_verified(access, user.id).await?.unwrap_or(user);
        self.audit(
            access,
            Some(user.id),
            AuditAction::SignIn,
            client,
            json!({ "method": "magic_link" }),
        )
        .await?;
        self.open_session(user, client).await
    }

    /// Sends a confirmation link to a new address; the address changes when it is followed.
    #[tracing::instrument(skip_all, fields(user_id = %user.id), err(level = "warn"))]
    pub async fn request_email_change(
        &self,
        user: &User,
        new_email: &str,
        password: &str,
    ) -> Result<()> {
        let stored = self.backends.users().password_hash(Access::person(user.id), user.id).await?;
        if stored.is_some() && !password::verify(password, stored.as_deref()).await? {
            return Err(Error::WrongCredentials);
        }
        let new_email = Email::parse(new_email)?;
        if self.backends.users().find_by_email(Access::System, &new_email).await?.is_some() {
            return Err(variosync_store::Error::EmailTaken.into());
        }
        self.send_link(
            Some(user.id),
            TokenPurpose::ChangeEmail,
            &new_email,
            "Confirm your new Variosync address",
            "To make this the sign-in address of your Variosync account, open:",
        )
        .await
    }

    /// Changes the address from a confirmation link.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn confirm_email_change(&self, token: &str, client: &ClientInfo) -> Result<User> {
        let token = self.consume(TokenPurpose::ChangeEmail, token).await?;
        let user_id = token.user_id.ok_or(Error::InvalidToken)?;
        let access = Access::person(user_id);
        let before =
            self.backends.users().find_by_id(access, user_id).await?.ok_or(Error::InvalidToken)?;
        let user = self
            .backends
            .users()
            .set_email(access, user_id, &token.email)
            .await?
            .ok_or(Error::InvalidToken)?;
        let detail = json!({ "from": before.email, "to": user.email });
        self.audit(access, Some(user_id), AuditAction::EmailChanged, client, detail).await?;
        Ok(user)
    }

    /// What every new account gets: the free hours and a sign-up entry.
    pub(crate) async fn welcome(
        &self,
        user: &User,
        client: &ClientInfo,
        method: &str,
    ) -> Result<()> {
        let access = Access::person(user.id);
        if let Some(grant) = Hours::from_hours_f64(self.settings.free_grant_hours)
            && grant > Hours::ZERO
        {
            self.backends
                .ledger()
                .apply(
                    access,
                    Owner::personal(user.id),
                    grant,
                    "free hours for a new account",
                    None,
                )
                .await?;
        }
        self.audit(access, Some(user.id), AuditAction::SignUp, client, json!({ "method": method }))
            .await
    }

    pub(crate) async fn audit(
        &self,
        access: Access,
        user: Option<UserId>,
        action: AuditAction,
        client: &ClientInfo,
        detail: serde_json::Value,
    ) -> Result<()> {
        let entry = NewAuditEntry {
            user_id: user,
            actor_id: None,
            action,
            detail,
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
        };
        self.backends.audit().record(access, entry).await?;
        Ok(())
    }

    async fn open_session(&self, user: User, client: &ClientInfo) -> Result<SignedIn> {
        let token = SessionToken::generate();
        let session = self
            .backends
            .sessions()
            .create(NewSession {
                user_id: user.id,
                token_hash: token.digest(),
                ip: client.ip.clone(),
                user_agent: client.user_agent.clone(),
                lifetime: self.settings.lifetime(),
            })
            .await?;
        Ok(SignedIn { user, session, token })
    }

    /// Starts a sign-up with a password. The answer is the same whether the address has an
    /// account or not, so sign-up cannot tell who has one: a new address is mailed a link
    /// that makes the account ([`Self::confirm_sign_up`]); the owner of an existing one is
    /// told someone tried, with links to sign in or reset the password.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn sign_up(&self, email: &str, password: &str, client: &ClientInfo) -> Result<()> {
        let email = Email::parse(email)?;
        let password = Password::parse(password, email.as_str())?;
        // Hashed either way, so both answers take the same time.
        let hash = password::hash(&password).await?;
        let existing = self.backends.users().find_by_email(Access::System, &email).await?;
        if let Some(user) = existing {
            let detail = json!({ "method": "password" });
            let access = Access::person(user.id);
            self.audit(access, Some(user.id), AuditAction::SignUpExisting, client, detail).await?;
            if !user.is_active() {
                return Ok(());
            }
            let body = format!(
                "Someone asked to create a Variosync account with this address, which has one \
                 already. If it was you, sign in:\n\n{base}/signin\n\nor, if you forgot your \
                 password, set a new one:\n\n{base}/forgot-password\n\nIf it was not you, \
                 ignore this message: nothing was changed.\n\n-- Variosync\n",
                base = self.base_url
            );
            let link = format!("{}/signin", self.base_url);
            let mail = Mail { to: email, subject: "Your Variosync account".to_owned(), body, link };
            return self.mailer.send(&mail).await;
        }
        let link = self
            .issue_link_with(None, TokenPurpose::SignUp, &email, Some(PasswordHash(hash)))
            .await?;
        let minutes = link_lifetime(TokenPurpose::SignUp).num_minutes();
        let body = format!(
            "Welcome to Variosync. To confirm that this address is yours and finish creating \
             your account, open:\n\n{link}\n\nThe link works once, for {} hours. If you did \
             not ask for this, ignore this message: no account is made without it.\n\n\
             -- Variosync\n",
            minutes / 60
        );
        let subject = "Confirm your address to finish signing up".to_owned();
        self.mailer.send(&Mail { to: email, subject, body, link }).await
    }

    /// Finishes a sign-up from the link mailed to its address: makes the account (its
    /// address confirmed, the password chosen at sign-up) and signs it in. If the address
    /// got an account meanwhile, the link signs that one in (it proves the address as a
    /// magic link does).
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn confirm_sign_up(&self, token: &str, client: &ClientInfo) -> Result<SignedIn> {
        let token = self.consume(TokenPurpose::SignUp, token).await?;
        let users = self.backends.users();
        let user = match users.find_by_email(Access::System, &token.email).await? {
            Some(user) => user,
            None => {
                let created = users
                    .create(&NewUser {
                        email: token.email.clone(),
                        password_hash: token.password_hash.map(|hash| hash.0),
                        role: Role::User,
                    })
                    .await;
                let user = match created {
                    Ok(user) => user,
                    // Two uses of two links for one address: the other made the account.
                    Err(variosync_store::Error::EmailTaken) => users
                        .find_by_email(Access::System, &token.email)
                        .await?
                        .ok_or(Error::InvalidToken)?,
                    Err(error) => return Err(error.into()),
                };
                self.welcome(&user, client, "password").await?;
                user
            }
        };
        if !user.is_active() {
            return Err(Error::Disabled);
        }
        let access = Access::person(user.id);
        let user = users.mark_email_verified(access, user.id).await?.unwrap_or(user);
        self.open_session(user, client).await
    }

    /// Signs in with address and password. A wrong address and a wrong password look the
    /// same to the caller, and take the same time.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<SignedIn> {
        let Ok(email) = Email::parse(email) else {
            password::verify(password, None).await?;
            return Err(Error::WrongCredentials);
        };
        let cache = self.backends.cache.as_ref();
        crate::backoff::check(cache, &email).await?;
        let users = self.backends.users();
        let user = users.find_by_email(Access::System, &email).await?;
        let stored = match &user {
            Some(user) => users.password_hash(Access::person(user.id), user.id).await?,
            None => None,
        };
        let matched = password::verify(password, stored.as_deref()).await?;
        let user_id = user.as_ref().map(|u| u.id);
        let Some(user) = user.filter(|_| matched) else {
            crate::backoff::record_failure(cache, &email).await?;
            let access = user_id.map_or(Access::System, Access::person);
            self.audit(
                access,
                user_id,
                AuditAction::SignInFailed,
                client,
                json!({ "method": "password" }),
            )
            .await?;
            return Err(Error::WrongCredentials);
        };
        if !user.is_active() {
            return Err(Error::Disabled);
        }
        crate::backoff::clear(cache, &email).await?;
        self.audit(
            Access::person(user.id),
            Some(user.id),
            AuditAction::SignIn,
            client,
            json!({ "method": "password" }),
        )
        .await?;
        self.open_session(user, client).await
    }

    /// The account and live session a cookie's secret belongs to; `None` for an unknown,
    /// revoked, expired or idle session, or a disabled account.
    pub async fn authenticate_session(&self, token: &str) -> Result<Option<(User, Session)>> {
        let Some(token) = SessionToken::parse(token) else {
            return Ok(None);
        };
        let Some(session) =
            self.backends.sessions().touch_live(&token.digest(), self.settings.idle()).await?
        else {
            return Ok(None);
        };
        let user = self
            .backends
            .users()
            .find_by_id(Access::person(session.user_id), session.user_id)
            .await?;
        Ok(user.filter(User::is_active).map(|user| (user, session)))
    }

    /// Ends the current session.
    #[tracing::instrument(skip_all, fields(user_id = %user), err(level = "warn"))]
    pub async fn sign_out(
        &self,
        user: UserId,
        session: SessionId,
        client: &ClientInfo,
    ) -> Result<()> {
        let access = Access::person(user);
        if self.backends.sessions().revoke(access, user, session).await? {
            self.audit(access, Some(user), AuditAction::SignOut, client, json!({})).await?;
        }
        Ok(())
    }

    /// The user's live sessions.
    pub async fn sessions(&self, user: UserId) -> Result<Vec<Session>> {
        Ok(self.backends.sessions().list(Access::person(user), user).await?)
    }

    /// Revokes one of the user's sessions; `false` if it is not theirs or not live.
    #[tracing::instrument(skip_all, fields(user_id = %user), err(level = "warn"))]
    pub async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        client: &ClientInfo,
    ) -> Result<bool> {
        let access = Access::person(user);
        let revoked = self.backends.sessions().revoke(access, user, session).await?;
        if revoked {
            self.audit(
                access,
                Some(user),
                AuditAction::SessionRevoked,
                client,
                json!({ "session_id": session }),
            )
            .await?;
        }
        Ok(revoked)
    }

    /// Creates an API key; the returned secret is shown to the user once and never stored.
    #[tracing::instrument(skip_all, fields(user_id = %user), err(level = "warn"))]
    pub async fn create_api_key(
        &self,
        user: UserId,
        name: &str,
        scope: ApiScope,
        client: &ClientInfo,
    ) -> Result<(ApiKey, ApiKeySecret)> {
        let Ok(name) = variosync_domain::names::check(NameKind::Key, name) else {
            return Err(Error::InvalidKeyName);
        };
        let secret = ApiKeySecret::generate();
        let key = self
            .backends
            .api_keys()
            .create(NewApiKey {
                user_id: user,
                name,
                prefix: secret.prefix().to_owned(),
                secret_hash: secret.digest(),
                scope,
            })
            .await?;
        let detail = json!({ "key_id": key.id, "prefix": key.prefix, "scope": scope });
        self.audit(Access::person(user), Some(user), AuditAction::ApiKeyCreated, client, detail)
            .await?;
        Ok((key, secret))
    }

    /// The account and key an `Authorization: Bearer` API key belongs to; `None` for a
    /// malformed, unknown, revoked or wrong key, or a disabled account.
    pub async fn authenticate_api_key(&self, text: &str) -> Result<Option<(User, ApiKey)>> {
        let Some(secret) = ApiKeySecret::parse(text) else {
            return Ok(None);
        };
        let keys = self.backends.api_keys();
        let Some((key, stored)) = keys.find_by_prefix(secret.prefix()).await? else {
            return Ok(None);
        };
        if !digests_match(&secret.digest(), &stored) {
            return Ok(None);
        }
        keys.record_use(&key, chrono::Utc::now()).await?;
        let user =
            self.backends.users().find_by_id(Access::person(key.user_id), key.user_id).await?;
        Ok(user.filter(User::is_active).map(|user| (user, key)))
    }

    /// The user's API keys.
    pub async fn api_keys(&self, user: UserId) -> Result<Vec<ApiKey>> {
        Ok(self.backends.api_keys().list(Access::person(user), user).await?)
    }

    /// Revokes one of the user's keys; `false` if it is not theirs or already revoked.
    #[tracing::instrument(skip_all, fields(user_id = %user), err(level = "warn"))]
    pub async fn revoke_api_key(
        &self,
        user: UserId,
        key: ApiKeyId,
        client: &ClientInfo,
    ) -> Result<bool> {
        let access = Access::person(user);
        let Some(key) = self.backends.api_keys().revoke(access, user, key).await? else {
            return Ok(false);
        };
        let detail = json!({ "key_id": key.id, "prefix": key.prefix });
        self.audit(access, Some(user), AuditAction::ApiKeyRevoked, client, detail).await?;
        Ok(true)
    }

    /// Changes the password after checking the current one, and ends every other session.
    #[tracing::instrument(skip_all, fields(user_id = %user.id), err(level = "warn"))]
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
        keep: Option<SessionId>,
        client: &ClientInfo,
    ) -> Result<()> {
        let access = Access::person(user.id);
        let users = self.backends.users();
        let stored = users.password_hash(access, user.id).await?;
        if !password::verify(current, stored.as_deref()).await? {
            return Err(Error::WrongCredentials);
        }
        let new = Password::parse(new, user.email.as_str())?;
        users.set_password_hash(access, user.id, &password::hash(&new).await?).await?;
        let ended = self.backends.sessions().revoke_all(access, user.id, keep).await?;
        self.audit(
            access,
            Some(user.id),
            AuditAction::PasswordChanged,
            client,
            json!({ "sessions_ended": ended }),
        )
        .await
    }

    /// Deletes the account and everything its personal workspace owns: objects first (so
    /// that a failure leaves the account able to retry), then the rows (the workspace and
    /// its rows go with the account). Audit and ledger rows stay, anonymised.
    #[tracing::instrument(skip_all, fields(user_id = %user), err(level = "warn"))]
    pub async fn delete_account(&self, user: UserId, client: &ClientInfo) -> Result<()> {
        let access = Access::person(user);
        let objects = self
            .backends
            .objects
            .delete_prefix(&ObjectKey::workspace_prefix(WorkspaceId::personal(user)))
            .await?;
        self.audit(
            access,
            Some(user),
            AuditAction::AccountDeleted,
            client,
            json!({ "objects_deleted": objects }),
        )
        .await?;
        self.backends.users().delete(access, user).await?;
        Ok(())
    }

    /// The account a verified external token belongs to: the one linked to its identity, or
    /// the one with its address if the issuer verified it (then linked), or a new one. `None`
    /// for an invalid token, a new identity without a verified address, or a disabled account.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn authenticate_external(
        &self,
        verifier: &crate::ExternalJwt,
        token: &str,
    ) -> Result<Option<(User, Option<chrono::DateTime<chrono::Utc>>)>> {
        let Some(claims) = verifier.verify(token).await? else { return Ok(None) };
        let verified = claims.email_verified.unwrap_or(verifier.trusts_email());
        let expires_at = claims.exp.and_then(|exp| chrono::DateTime::from_timestamp(exp, 0));
        let user = self.user_for_identity(verifier.issuer(), &claims, verified, "external_jwt");
        Ok(user.await?.map(|user| (user, expires_at)))
    }

    /// The account of an identity at an external issuer: the one linked to it, or the one
    /// with its address when the issuer verified the address (then linked), or a new one.
    /// `None` for a new identity without a verified address, or a disabled account.
    pub(crate) async fn user_for_identity(
        &self,
        issuer: &str,
        claims: &crate::external::ExternalClaims,
        verified: bool,
        method: &str,
    ) -> Result<Option<User>> {
        let identities = self.backends.identities();
        let users = self.backends.users();
        let user = match identities.find_user(issuer, &claims.sub).await? {
            Some(id) => users.find_by_id(Access::person(id), id).await?,
            None => {
                let Some(email) =
                    claims.email.as_deref().and_then(|e| Email::parse(e).ok()).filter(|_| verified)
                else {
                    tracing::info!(method, "refused a new identity without a verified address");
                    return Ok(None);
                };
                let user = match users.find_by_email(Access::System, &email).await? {
                    Some(user) => user,
                    None => {
                        let new =
                            NewUser { email: email.clone(), password_hash: None, role: Role::User };
                        let user = users.create(&new).await?;
                        let client = ClientInfo { ip: None, user_agent: Some(method.to_owned()) };
                        self.welcome(&user, &client, method).await?;
                        users
                            .mark_email_verified(Access::person(user.id), user.id)
                            .await?
                            .unwrap_or(user)
                    }
                };
                identities.link(user.id, issuer, &claims.sub, Some(&email)).await?;
                Some(user)
            }
        };
        Ok(user.filter(User::is_active))
    }

    /// Opens a session for an account that proved itself elsewhere (OpenID Connect).
    pub(crate) async fn sign_in_verified(
        &self,
        user: User,
        method: &str,
        client: &ClientInfo,
    ) -> Result<SignedIn> {
        let access = Access::person(user.id);
        self.audit(access, Some(user.id), AuditAction::SignIn, client, json!({ "method": method }))
            .await?;
        self.open_session(user, client).await
    }

    /// Where the service is reached, for links and redirect URIs.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The settings in force.
    pub fn settings(&self) -> &AccountsSettings {
        &self.settings
    }
}
