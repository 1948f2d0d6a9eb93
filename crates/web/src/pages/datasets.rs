//! The dataset library: the signed-in person's datasets with their series, rows, size, time
//! range and tags, searched by dataset or series name and sorted. Every name is user text and
//! is escaped by the template.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use variosync_app::datasets::LibrarySort;
use variosync_store::{Dataset, Version};

use super::account::PageUser;
use super::render;
use crate::state::AppState;

/// The most datasets the library shows.
const SHOWN: u32 = 200;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/datasets", get(library))
}

struct Row {
    id: String,
    name: String,
    tags: Vec<String>,
    series: usize,
    first_series: String,
    rows: u64,
    size: String,
    from: String,
    to: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "datasets.html")]
struct Library {
    email: String,
    csrf: String,
    samples: &'static [super::upload::Sample],
    search: String,
    sort: String,
    rows: Vec<Row>,
    total: usize,
}

#[derive(Debug, Deserialize)]
struct Params {
    /// Part of a dataset's or a series' name.
    q: Option<String>,
    /// `updated` (default), `name`, `rows` or `size`.
    sort: Option<String>,
}

/// A size in bytes as people read it.
pub(super) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

async fn library(
    State(state): State<AppState>,
    user: PageUser,
    Query(params): Query<Params>,
) -> Result<Response, crate::ApiError> {
    let search = params.q.clone().unwrap_or_default();
    let sort = LibrarySort::parse(params.sort.as_deref());
    let shown = state.app.library(&user.reader(), &search, sort, SHOWN).await?;
    let rows: Vec<Row> = shown.iter().map(|(dataset, version)| row(dataset, version)).collect();
    Ok(render(&Library {
        email: user.user().email.as_str().to_owned(),
        csrf: user.csrf().to_owned(),
        samples: super::upload::SAMPLES,
        search,
        sort: sort.as_str().to_owned(),
        total: rows.len(),
        rows,
    }))
}

/// A dataset and its current version as the library lists it.
fn row(dataset: &Dataset, version: &Version) -> Row {
    let day = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map(|at| at.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
    };
    Row {
        id: dataset.id.to_string(),
        name: dataset.name.clone(),
        tags: dataset.tags.clone(),
        series: version.series.len(),
        first_series: version.series.first().cloned().unwrap_or_default(),
        rows: version.row_count,
        size: human_size(version.bytes),
        from: day(version.time_from),
        to: day(version.time_to),
        updated: dataset.updated_at.format("%Y-%m-%d %H:%M").to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(super::human_size(999), "999 B");
        assert_eq!(super::human_size(1_500), "1.5 KB");
        assert_eq!(super::human_size(174_277_142), "174.3 MB");
    }
}
