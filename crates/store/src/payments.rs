//! Payments for hour packages. Checkout records a pending payment; the provider's signed
//! event marks it paid and credits the hours in one transaction, at most once whatever the
//! number of deliveries: the pending-to-paid step is conditional, and the event id is unique.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use variosync_domain::{Hours, LedgerEntryId, UserId};

use crate::db::{Access, Database};
use crate::error::{Error, Result};
use crate::ledger::ledger_step;
use crate::transaction;
use crate::users::now;

/// A payment as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Payment {
    /// The payment's id.
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// Who pays (`null` once the account is deleted).
    pub user_id: Option<UserId>,
    /// The provider, e.g. `stripe`.
    pub provider: String,
    /// The provider's checkout id.
    pub checkout_id: String,
    /// The package bought.
    pub package: String,
    /// The hours it buys.
    pub hours: Hours,
    /// Its price, in cents of `currency`.
    pub amount_cents: i64,
    /// ISO 4217 code, lower case.
    pub currency: String,
    /// `pending` until the provider confirms it, then `paid`.
    pub status: String,
    /// When checkout started.
    pub created_at: DateTime<Utc>,
    /// When it was confirmed.
    pub paid_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct PaymentRow {
    id: Uuid,
    user_id: Option<Uuid>,
    provider: String,
    checkout_id: String,
    package: String,
    hours_micro: i64,
    amount_cents: i64,
    currency: String,
    status: String,
    created_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
}

impl From<PaymentRow> for Payment {
    fn from(row: PaymentRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id.map(UserId::from_uuid),
            provider: row.provider,
            checkout_id: row.checkout_id,
            package: row.package,
            hours: Hours::from_micro(row.hours_micro),
            amount_cents: row.amount_cents,
            currency: row.currency,
            status: row.status,
            created_at: row.created_at,
            paid_at: row.paid_at,
        }
    }
}

macro_rules! payment_columns {
    () => {
        "id, user_id, provider, checkout_id, package, hours_micro, amount_cents, currency, \
         status, created_at, paid_at"
    };
}

/// What checkout records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    /// The provider.
    pub provider: String,
    /// The provider's checkout id.
    pub checkout_id: String,
    /// The package.
    pub package: String,
    /// The hours it buys.
    pub hours: Hours,
    /// Its price in cents.
    pub amount_cents: i64,
    /// Its currency.
    pub currency: String,
}

/// Reads and writes payments.
#[derive(Debug, Clone)]
pub struct PaymentRepository {
    db: Database,
}

impl PaymentRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Records a checkout that has started.
    pub async fn create(&self, user: UserId, new: &NewPayment) -> Result<Payment> {
        const SQL: &str = concat!(
            "INSERT INTO payments (id, user_id, provider, checkout_id, package, hours_micro, \
             amount_cents, currency, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9) RETURNING ",
            payment_columns!()
        );
        let row = transaction!(&self.db, Access::person(user), write, |conn| {
            sqlx::query_as::<_, PaymentRow>(SQL)
                .bind(Uuid::now_v7())
                .bind(user.as_uuid())
                .bind(&new.provider)
                .bind(&new.checkout_id)
                .bind(&new.package)
                .bind(new.hours.as_micro())
                .bind(new.amount_cents)
                .bind(&new.currency)
                .bind(now())
                .fetch_one(&mut *conn)
                .await?
        });
        Ok(row.into())
    }

    /// Marks the checkout `checkout_id` paid by the provider's event `event_id` and credits
    /// its hours, in one transaction. `None` when it was paid already (a repeated delivery)
    /// or is unknown: nothing is credited then.
    #[tracing::instrument(skip_all, fields(checkout_id = checkout_id), err(level = "warn"))]
    pub async fn mark_paid(&self, checkout_id: &str, event_id: &str) -> Result<Option<Payment>> {
        const PAID: &str = concat!(
            "UPDATE payments SET status = 'paid', event_id = $2, paid_at = $3 \
             WHERE checkout_id = $1 AND status = 'pending' AND user_id IS NOT NULL RETURNING ",
            payment_columns!()
        );
        let at = now();
        let row = transaction!(&self.db, Access::System, write, |conn| {
            let row = sqlx::query_as::<_, PaymentRow>(PAID)
                .bind(checkout_id)
                .bind(event_id)
                .bind(at)
                .fetch_optional(&mut *conn)
                .await
                .map_err(|error| match &error {
                    // The same event id on another checkout: not ours to credit twice.
                    sqlx::Error::Database(db) if db.is_unique_violation() => {
                        Error::Corrupt(format!("payment event {event_id} seen on two checkouts"))
                    }
                    _ => Error::from(error),
                })?;
            if let Some(row) = &row {
                let reason = format!("payment {} ({}, {})", row.id, row.provider, row.package);
                // A person buys for their personal workspace, whose id is theirs.
                let user = row.user_id.expect("checked by the query");
                let none: Option<Uuid> = None;
                let step = (LedgerEntryId::new(), user, Some(user), row.hours_micro);
                ledger_step!(conn, step.0, step.1, step.2, step.3, &reason, none, at);
            }
            row
        });
        Ok(row.map(Payment::from))
    }

    /// The user's payments, newest first.
    pub async fn list(&self, user: UserId, limit: u32) -> Result<Vec<Payment>> {
        const SQL: &str = concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payments WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2"
        );
        let rows = transaction!(&self.db, Access::person(user), read, |conn| {
            sqlx::query_as::<_, PaymentRow>(SQL)
                .bind(user.as_uuid())
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?
        });
        Ok(rows.into_iter().map(Payment::from).collect())
    }
}
