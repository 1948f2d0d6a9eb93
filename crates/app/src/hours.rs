//! Hours: an admin's grant (or, negative, a take-back that never goes below zero).
//! Charges and reservations are made by the jobs that use the hours; purchases by billing.

use serde_json::json;
use variosync_domain::{AuditAction, Hours, LedgerEntryId, UserId, WorkspaceId};
use variosync_store::jobs::Usage;
use variosync_store::{Access, LedgerEntry, NewAuditEntry, Owner, Payment};

use crate::error::{Error, Result};
use crate::{App, Principal};

/// The largest grant, in hours either way.
pub const MAX_GRANT_HOURS: f64 = 100_000.0;

/// An amount of hours to grant: non-zero, at most [`MAX_GRANT_HOURS`] either way.
pub fn grant_amount(hours: f64) -> Result<Hours> {
    Hours::from_hours_f64(hours)
        .filter(|hours| *hours != Hours::ZERO && hours.as_hours_f64().abs() <= MAX_GRANT_HOURS)
        .ok_or_else(|| {
            Error::invalid("invalid_hours", "hours must be a non-zero number of at most 100000")
        })
}

impl App {
    /// Grants `hours` (see [`grant_amount`]) to `user`'s personal workspace for `reason`
    /// (admins only), audited with the admin as actor.
    #[tracing::instrument(skip_all, fields(user_id = %user, hours), err(level = "warn"))]
    pub async fn grant_hours(
        &self,
        principal: &Principal,
        user: UserId,
        hours: f64,
        reason: &str,
    ) -> Result<LedgerEntry> {
        principal.require_admin()?;
        let hours = grant_amount(hours)?;
        let admin = Some(principal.user);
        let entry = self
            .backends
            .ledger()
            .apply(Access::System, Owner::personal(user), hours, reason, admin)
            .await?;
        let audit = NewAuditEntry {
            user_id: Some(user),
            actor_id: admin,
            action: AuditAction::HoursGranted,
            detail: json!({ "hours": hours, "balance": entry.balance, "reason": entry.reason }),
            ip: principal.ip.clone(),
            user_agent: principal.user_agent.clone(),
        };
        self.backends.audit().record(Access::System, audit).await?;
        Ok(entry)
    }
}

/// A person's hours: the balance, the latest ledger entries, the usage of the last days and
/// the payments.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The balance now.
    pub balance: Hours,
    /// The latest changes to it, newest first.
    pub entries: Vec<LedgerEntry>,
    /// Hours charged per day and job kind.
    pub usage: Vec<Usage>,
    /// Hours used in all over those days.
    pub used: Hours,
    /// Hour packages bought, newest first.
    pub payments: Vec<Payment>,
}

impl App {
    /// The principal's hours: balance, the latest `limit` ledger entries and payments, and
    /// the usage of the last `days` days (today included).
    pub async fn statement(
        &self,
        principal: &Principal,
        days: u32,
        limit: u32,
    ) -> Result<Statement> {
        let (access, workspace) = (principal.access(), principal.workspace);
        let balance = self.backends.ledger().balance(access, workspace).await?;
        let entries = self.backends.ledger().entries(access, workspace, None, limit).await?;
        let usage = self.usage(principal, Some(days)).await?;
        let payments = self.backends.payments().list(principal.user, limit).await?;
        Ok(Statement { balance, entries, used: usage.total, usage: usage.days, payments })
    }
}

impl App {
    /// The balance of the principal's workspace.
    pub async fn balance(&self, principal: &Principal) -> Result<Hours> {
        Ok(self.backends.ledger().balance(principal.access(), principal.workspace).await?)
    }

    /// The balance of anyone's personal workspace (admins only).
    pub async fn balance_of(&self, principal: &Principal, user: UserId) -> Result<Hours> {
        principal.require_admin()?;
        let workspace = WorkspaceId::personal(user);
        Ok(self.backends.ledger().balance(Access::System, workspace).await?)
    }

    /// A page of the principal's ledger, newest first: `limit` (1 to 500, default 100)
    /// entries older than `before`.
    pub async fn ledger(
        &self,
        principal: &Principal,
        before: Option<LedgerEntryId>,
        limit: Option<u32>,
    ) -> Result<Vec<LedgerEntry>> {
        let limit = crate::Error::bounded("limit", limit, 100, 1, 500)?;
        let (access, workspace) = (principal.access(), principal.workspace);
        Ok(self.backends.ledger().entries(access, workspace, before, limit).await?)
    }
}
