//! What admins do: create accounts from the command line, list accounts, disable and
//! re-enable them, change roles and grant hours. Every change is audited with the admin as
//! actor.

use serde_json::json;
use variosync_domain::{AuditAction, Email, NewUser, Role, TokenPurpose, User, UserId};
use variosync_store::{Access, NewAuditEntry};

use crate::accounts::{Accounts, ClientInfo};
use crate::error::{Error, Result};

impl Accounts {
    /// Creates an account without a password (the first admin, typically) and returns it with
    /// a one-time sign-in link, valid 15 minutes, to hand over out of band.
    #[tracing::instrument(skip_all, fields(role = %role), err(level = "warn"))]
    pub async fn create_user_with_link(&self, email: &str, role: Role) -> Result<(User, String)> {
        let email = Email::parse(email)?;
        let user =
            self.backends.users().create(&NewUser { email, password_hash: None, role }).await?;
        let client =
            ClientInfo { ip: None, user_agent: Some("variosync admin create-user".into()) };
        self.welcome(&user, &client, "admin_cli").await?;
        let link = self.issue_link(Some(user.id), TokenPurpose::MagicLink, &user.email).await?;
        Ok((user, link))
    }

    async fn admin_audit(
        &self,
        admin: UserId,
        user: UserId,
        action: AuditAction,
        client: &ClientInfo,
        detail: serde_json::Value,
    ) -> Result<()> {
        let entry = NewAuditEntry {
            user_id: Some(user),
            actor_id: Some(admin),
            action,
            detail,
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
        };
        self.backends.audit().record(Access::System, entry).await?;
        Ok(())
    }

    /// One page of every account. The caller has checked that `admin` is an admin.
    pub async fn list_users(&self, after: Option<UserId>, limit: u32) -> Result<Vec<User>> {
        Ok(self.backends.users().list(Access::System, after, limit).await?)
    }

    /// Disables (ending every session) or re-enables an account.
    #[tracing::instrument(skip_all, fields(admin = %admin, user_id = %user, disabled), err(level = "warn"))]
    pub async fn set_disabled(
        &self,
        admin: UserId,
        user: UserId,
        disabled: bool,
        client: &ClientInfo,
    ) -> Result<User> {
        if admin == user && disabled {
            return Err(Error::SelfLockout);
        }
        let updated = self
            .backends
            .users()
            .set_disabled(Access::System, user, disabled)
            .await?
            .ok_or(variosync_store::Error::NotFound("user"))?;
        let ended = if disabled {
            self.backends.sessions().revoke_all(Access::System, user, None).await?
        } else {
            0
        };
        let action = if disabled { AuditAction::UserDisabled } else { AuditAction::UserEnabled };
        self.admin_audit(admin, user, action, client, json!({ "sessions_ended": ended })).await?;
        Ok(updated)
    }

    /// Changes an account's role.
    #[tracing::instrument(skip_all, fields(admin = %admin, user_id = %user, role = %role), err(level = "warn"))]
    pub async fn set_role(
        &self,
        admin: UserId,
        user: UserId,
        role: Role,
        client: &ClientInfo,
    ) -> Result<User> {
        if admin == user && role != Role::Admin {
            return Err(Error::SelfLockout);
        }
        let updated = self
            .backends
            .users()
            .set_role(Access::System, user, role)
            .await?
            .ok_or(variosync_store::Error::NotFound("user"))?;
        self.admin_audit(admin, user, AuditAction::RoleChanged, client, json!({ "role": role }))
            .await?;
        Ok(updated)
    }
}
