//! Hours: an admin's grant (or, negative, a take-back that never goes below zero).
//! Charges and reservations are made by the jobs that use the hours; purchases by billing.

use serde_json::json;
use variosync_domain::{AuditAction, Hours, UserId};
use variosync_store::{Access, LedgerEntry, NewAuditEntry};

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
    /// Grants `hours` (see [`grant_amount`]) to `user` for `reason` (admins only), audited
    /// with the admin as actor.
    #[tracing::instrument(skip_all, fields(user_id = %user, hours), err)]
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
        let entry =
            self.backends.ledger().apply(Access::System, user, hours, reason, admin).await?;
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
