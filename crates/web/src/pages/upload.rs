//! The upload page (drag and drop, a progress bar per file, the detected mapping to check
//! and correct, the result with warnings and rejects) and the sample datasets a newcomer can
//! import with one click.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};

use super::account::{Csrf, PageUser, stale_form};
use super::render;
use crate::client::Client;
use crate::state::AppState;

/// A sample dataset shipped with the product.
pub(super) struct Sample {
    /// Its address under `/samples/`.
    pub(super) slug: &'static str,
    /// What people see.
    pub(super) title: &'static str,
    /// One line about it.
    pub(super) about: &'static str,
    bytes: &'static [u8],
}

/// The samples, in the order they are offered: files of `testdata/` (see its README for
/// their sources and licences), compiled into the binary.
pub(super) const SAMPLES: &[Sample] = &[
    Sample {
        slug: "aapl-daily",
        title: "AAPL daily prices",
        about: "500 trading days of open, high, low, close and volume",
        bytes: include_bytes!("../../../../testdata/yahoo_aapl.csv"),
    },
    Sample {
        slug: "air-passengers",
        title: "Air passengers",
        about: "monthly airline passengers, 1949-1960",
        bytes: include_bytes!("../../../../testdata/air_passengers.csv"),
    },
    Sample {
        slug: "electricity-demand",
        title: "Electricity demand",
        about: "half-hourly demand in England and Wales, summer 2000",
        bytes: include_bytes!("../../../../testdata/taylor_30_min.csv"),
    },
];

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/upload", get(page)).route("/samples/{slug}", post(import_sample))
}

#[derive(Template)]
#[template(path = "upload.html")]
struct UploadPage {
    csrf: String,
    samples: &'static [Sample],
    limit: String,
    /// Files above this size are sent in chunks and imported by a worker.
    inline_bytes: u64,
}

async fn page(State(state): State<AppState>, user: PageUser) -> Response {
    render(&UploadPage {
        csrf: user.csrf().to_owned(),
        samples: SAMPLES,
        limit: super::datasets::human_size(state.http.upload_limit_bytes),
        inline_bytes: state.app.settings().jobs.inline_import_bytes,
    })
}

/// Imports a sample as a new dataset of the signed-in person and opens it.
async fn import_sample(
    State(state): State<AppState>,
    Client(client): Client,
    user: PageUser,
    Path(slug): Path<String>,
    Form(form): Form<Csrf>,
) -> Result<Response, crate::ApiError> {
    if !user.csrf_ok(&form.csrf_token) {
        return Ok(stale_form());
    }
    let Some(sample) = SAMPLES.iter().find(|s| s.slug == slug) else {
        return Ok(Redirect::to("/upload").into_response());
    };
    let options = variosync_app::imports::ImportOptions {
        name: Some(sample.title.to_owned()),
        series: Some(sample.slug.to_owned()),
        ..Default::default()
    };
    let imported = state.app.import_bytes(&user.principal(&client), sample.bytes, &options).await?;
    let id = imported.dataset.id;
    Ok(Redirect::to(&format!("/datasets/{id}")).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_sample_is_distinct_and_has_rows() {
        for (i, sample) in super::SAMPLES.iter().enumerate() {
            assert!(sample.bytes.len() > 1000, "{}", sample.slug);
            assert!(super::SAMPLES[..i].iter().all(|s| s.slug != sample.slug));
        }
    }
}
