//! The exports page: exports written by jobs (progress while pending, then the download
//! link and the time the file is kept), made from a dataset page's Export card, deletable.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use variosync_app::exports::{ExportChoices, ExportJobRequest, ExportView};

use super::account::{Csrf, PageUser, stale_form, when};
use super::datasets::human_size;
use super::render;
use crate::client::Client;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/exports", get(exports_page))
        .route("/exports/{id}/delete", post(delete))
        .route("/datasets/{id}/exports", post(create))
}

/// An export as a row of the table.
struct ExportRow {
    id: String,
    file_name: String,
    dataset: String,
    status: String,
    percent: u32,
    error: String,
    size: String,
    created: String,
    expires: String,
    link: Option<String>,
}

impl From<&ExportView> for ExportRow {
    fn from(view: &ExportView) -> Self {
        let export = &view.export;
        let status = serde_json::to_value(export.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        Self {
            id: export.id.to_string(),
            file_name: export.file_name.clone(),
            dataset: export.dataset_id.to_string(),
            status,
            percent: (view.progress.unwrap_or(0.0).clamp(0.0, 1.0) * 100.0).round() as u32,
            error: export.error.clone().unwrap_or_default(),
            size: human_size(export.bytes),
            created: when(export.created_at),
            expires: when(export.expires_at),
            link: view.download_url.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "exports.html")]
struct ExportsPage {
    csrf: String,
    exports: Vec<ExportRow>,
    pending: bool,
    error: Option<String>,
}

async fn listing(state: &AppState, user: &PageUser, error: Option<String>) -> Response {
    match state.app.list_exports(&user.reader(), Some(100)).await {
        Ok(views) => {
            let exports: Vec<ExportRow> = views.iter().map(ExportRow::from).collect();
            let pending = exports.iter().any(|e| e.status == "pending");
            render(&ExportsPage { csrf: user.csrf().to_owned(), exports, pending, error })
        }
        Err(error) => crate::ApiError::from(error).into_response(),
    }
}

async fn exports_page(State(state): State<AppState>, user: PageUser) -> Response {
    listing(&state, &user, None).await
}

/// The dataset page's Export card, sent with its "Prepare a file" button.
#[derive(Debug, Deserialize)]
struct ExportForm {
    csrf_token: String,
    version: Option<u32>,
    format: Option<String>,
    compression: Option<String>,
    series: Option<String>,
    columns: Option<String>,
    from: Option<String>,
    to: Option<String>,
    decimal: Option<String>,
    time: Option<String>,
    tz: Option<String>,
    sheets: Option<String>,
    table: Option<String>,
}

fn list(text: Option<&str>) -> Vec<String> {
    text.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn create(
    State(state): State<AppState>,
    Client(client): Client,
    user: PageUser,
    Path(id): Path<String>,
    Form(form): Form<ExportForm>,
) -> Response {
    if !user.csrf_ok(&form.csrf_token) {
        return stale_form();
    }
    let principal = user.principal(&client);
    let requested = async {
        let request = ExportJobRequest {
            dataset_id: variosync_app::datasets::parse_dataset_id(&id)?,
            version: form.version,
            series: list(form.series.as_deref()),
            columns: list(form.columns.as_deref()),
            from: variosync_app::datasets::parse_time(form.from.as_deref(), "from")?,
            to: variosync_app::datasets::parse_time(form.to.as_deref(), "to")?,
            choices: ExportChoices {
                format: form.format,
                compression: form.compression,
                decimal: form.decimal,
                time: form.time,
                zone: form.tz,
                sheets: form.sheets,
                table: form.table,
                ..ExportChoices::default()
            },
        };
        state.app.request_export(&principal, request, None).await
    }
    .await;
    match requested {
        Ok(_) => Redirect::to("/exports").into_response(),
        Err(error) => {
            let message = crate::ApiError::from(error).message().to_owned();
            listing(&state, &user, Some(message)).await
        }
    }
}

async fn delete(
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
    let deleted = async {
        let id = variosync_app::exports::parse_export_id(&id)?;
        state.app.delete_export(&principal, id).await
    }
    .await;
    match deleted {
        Ok(()) => Redirect::to("/exports").into_response(),
        Err(error) => {
            let message = crate::ApiError::from(error).message().to_owned();
            listing(&state, &user, Some(message)).await
        }
    }
}
