//! The two things every change ends with: an entry in the audit log and a message to the
//! owner's open pages (over pub/sub, so that every replica hears it).

use variosync_domain::{AuditAction, DatasetId, UserId};
use variosync_store::{Access, NewAuditEntry, Subscription};

use crate::error::Result;
use crate::queue::{dataset_channel, job_channel};
use crate::{App, Principal};

impl App {
    /// Records `action` on `owner`'s things by `principal` (the actor, when it is someone
    /// else: an admin).
    pub(crate) async fn audit(
        &self,
        principal: &Principal,
        owner: UserId,
        action: AuditAction,
        detail: serde_json::Value,
    ) -> Result<()> {
        let entry = NewAuditEntry {
            user_id: Some(owner),
            actor_id: (principal.user != owner).then_some(principal.user),
            action,
            detail,
            ip: principal.ip.clone(),
            user_agent: principal.user_agent.clone(),
        };
        // A person's own change is written as them (row-level security); an admin's on
        // another's things as the server, which checked the role already.
        let access = if principal.user == owner { principal.access() } else { Access::System };
        self.backends.audit().record(access, entry).await?;
        Ok(())
    }

    /// Records a change to a dataset and tells its owner's open pages.
    pub(crate) async fn dataset_changed(
        &self,
        principal: &Principal,
        action: AuditAction,
        dataset: DatasetId,
        detail: serde_json::Value,
    ) -> Result<()> {
        self.audit(principal, principal.user, action, detail).await?;
        crate::queue::announce_dataset(&self.backends, principal.workspace, action, dataset).await;
        Ok(())
    }

    /// The dataset changes of the principal's workspace as they happen:
    /// `{"action", "dataset_id"}` as JSON.
    pub async fn dataset_events(&self, principal: &Principal) -> Result<Subscription> {
        Ok(self.backends.pubsub.subscribe(&dataset_channel(principal.workspace)).await?)
    }

    /// The job events of the principal's workspace as they happen: each the job as JSON.
    pub async fn job_events(&self, principal: &Principal) -> Result<Subscription> {
        Ok(self.backends.pubsub.subscribe(&job_channel(principal.workspace)).await?)
    }
}
