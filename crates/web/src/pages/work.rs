//! The jobs page (live progress, cancelling) and the hours page (balance, ledger, usage by
//! day, buying a package, payments).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use variosync_store::jobs::Job;

use super::account::{Csrf, PageUser, stale_form, when};
use super::render;
use crate::client::Client;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/jobs", get(jobs_page))
        .route("/jobs/{id}/cancel", post(cancel))
        .route("/usage", get(hours_page))
        .route("/usage/checkout", post(checkout))
}

/// A job as a row of a table.
pub(super) struct JobRow {
    pub(super) id: String,
    pub(super) kind: String,
    pub(super) status: String,
    pub(super) percent: u32,
    pub(super) message: String,
    pub(super) created: String,
    pub(super) hours: String,
    pub(super) active: bool,
    pub(super) retryable: bool,
    pub(super) owner: String,
}

impl From<&Job> for JobRow {
    fn from(job: &Job) -> Self {
        use variosync_store::jobs::JobStatus;
        let done = job.status == JobStatus::Succeeded;
        Self {
            id: job.id.to_string(),
            kind: job.kind.clone(),
            status: job.status.as_str().to_owned(),
            percent: if done { 100 } else { (job.progress.clamp(0.0, 1.0) * 100.0).round() as u32 },
            message: job.error.clone().unwrap_or_else(|| job.message.clone()),
            created: when(job.created_at),
            hours: match job.charged {
                Some(charged) => format!("{charged} charged"),
                None => format!("{} reserved", job.reserved),
            },
            active: matches!(job.status, JobStatus::Queued | JobStatus::Running),
            retryable: matches!(job.status, JobStatus::Failed | JobStatus::Cancelled),
            owner: job.user_id.to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    csrf: String,
    jobs: Vec<JobRow>,
    error: Option<String>,
}

async fn jobs_listing(state: &AppState, user: &PageUser, error: Option<String>) -> Response {
    let query = variosync_app::jobs::ListJobs { status: None, limit: Some(100) };
    match state.app.list_jobs(&user.reader(), &query, false).await {
        Ok(jobs) => render(&JobsPage {
            csrf: user.csrf().to_owned(),
            jobs: jobs.iter().map(JobRow::from).collect(),
            error,
        }),
        Err(error) => crate::ApiError::from(error).into_response(),
    }
}

async fn jobs_page(State(state): State<AppState>, user: PageUser) -> Response {
    jobs_listing(&state, &user, None).await
}

async fn cancel(
    State(state): State<AppState>,
    Client(client): Client,
    user: PageUser,
    Path(id): Path<String>,
    Form(form): Form<Csrf>,
) -> Response {
    if !user.csrf_ok(&form.csrf_token) {
        return stale_form();
    }
    let principal = user.principal(&client);
    let cancelled = async {
        let id = variosync_app::jobs::parse_job_id(&id)?;
        state.app.cancel_job(&principal, id, false).await
    }
    .await;
    match cancelled {
        Ok(_) => Redirect::to("/jobs").into_response(),
        Err(error) => {
            let message = crate::ApiError::from(error).message().to_owned();
            jobs_listing(&state, &user, Some(message)).await
        }
    }
}

struct EntryRow {
    when: String,
    change: String,
    balance: String,
    reason: String,
}

struct UsageRow {
    day: String,
    kind: String,
    jobs: u64,
    hours: String,
}

struct PackageRow {
    id: String,
    hours: String,
    price: String,
}

struct PaymentRow {
    when: String,
    package: String,
    price: String,
    status: String,
}

#[derive(Template)]
#[template(path = "hours.html")]
struct HoursPage {
    csrf: String,
    balance: String,
    used: String,
    entries: Vec<EntryRow>,
    usage: Vec<UsageRow>,
    packages: Vec<PackageRow>,
    buying: bool,
    payments: Vec<PaymentRow>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct HoursParams {
    /// Set by Stripe's return: `paid` or `cancelled`.
    checkout: Option<String>,
}

/// An amount of money in cents as people read it.
fn price(cents: i64, currency: &str) -> String {
    let symbol = match currency {
        "usd" => "$",
        "eur" => "€",
        "gbp" => "£",
        _ => "",
    };
    let amount = format!("{}.{:02}", cents / 100, (cents % 100).abs());
    if symbol.is_empty() {
        format!("{amount} {}", currency.to_uppercase())
    } else {
        format!("{symbol}{amount}")
    }
}

async fn hours_listing(
    state: &AppState,
    user: &PageUser,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, crate::ApiError> {
    let statement = state.app.statement(&user.reader(), 30, 50).await?;
    Ok(render(&HoursPage {
        csrf: user.csrf().to_owned(),
        balance: statement.balance.to_string(),
        used: statement.used.to_string(),
        entries: statement.entries.iter().map(entry_row).collect(),
        usage: statement.usage.iter().map(usage_row).collect(),
        packages: state.app.packages().iter().map(package_row).collect(),
        buying: state.app.buying(),
        payments: statement.payments.iter().map(payment_row).collect(),
        notice,
        error,
    }))
}

fn entry_row(e: &variosync_store::LedgerEntry) -> EntryRow {
    EntryRow {
        when: when(e.created_at),
        change: e.delta.to_string(),
        balance: e.balance.to_string(),
        reason: e.reason.clone(),
    }
}

fn usage_row(u: &variosync_store::jobs::Usage) -> UsageRow {
    UsageRow { day: u.day.clone(), kind: u.kind.clone(), jobs: u.jobs, hours: u.hours.to_string() }
}

fn package_row(p: &variosync_auth::Package) -> PackageRow {
    PackageRow {
        id: p.id.clone(),
        hours: p.hours.to_string(),
        price: price(p.price_cents, &p.currency),
    }
}

fn payment_row(p: &variosync_store::Payment) -> PaymentRow {
    PaymentRow {
        when: when(p.created_at),
        package: p.package.clone(),
        price: price(p.amount_cents, &p.currency),
        status: p.status.clone(),
    }
}

async fn hours_page(
    State(state): State<AppState>,
    user: PageUser,
    Query(params): Query<HoursParams>,
) -> Result<Response, crate::ApiError> {
    let notice = match params.checkout.as_deref() {
        Some("paid") => {
            Some("Thank you: the hours are added as soon as the payment is confirmed.".to_owned())
        }
        Some("cancelled") => Some("The payment was cancelled; nothing was charged.".to_owned()),
        _ => None,
    };
    hours_listing(&state, &user, notice, None).await
}

#[derive(Deserialize)]
struct BuyForm {
    csrf_token: String,
    package: String,
}

async fn checkout(
    State(state): State<AppState>,
    Client(client): Client,
    user: PageUser,
    Form(form): Form<BuyForm>,
) -> Result<Response, crate::ApiError> {
    if !user.csrf_ok(&form.csrf_token) {
        return Ok(stale_form());
    }
    match crate::api::billing::start_checkout(
        &state,
        &user.principal(&client),
        user.user(),
        &form.package,
        "/usage",
    )
    .await
    {
        Ok((_, url)) => {
            Ok((StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, url)]).into_response())
        }
        Err(error) => hours_listing(&state, &user, None, Some(error.message().to_owned())).await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prices_read_as_people_write_them() {
        assert_eq!(super::price(2500, "usd"), "$25.00");
        assert_eq!(super::price(4505, "eur"), "€45.05");
        assert_eq!(super::price(18000, "chf"), "180.00 CHF");
    }
}
