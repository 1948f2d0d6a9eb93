//! A dataset's page: its profile, per-column statistics, quality (gaps, duplicates, rejects,
//! unusual jumps), versions, and the chart with its series picker. Every name is user text
//! and is escaped by the template; the chart's script reads them from the page's elements.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use variosync_domain::ErrorKind;

use super::account::{PageUser, when};
use super::datasets::human_size;
use super::render;
use crate::state::AppState;
use variosync_store::{Dataset, Version};

/// The most series whose jumps the quality section looks for.
const QUALITY_SERIES: usize = 12;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/datasets/{id}", get(page))
        .route("/datasets/{id}/quality", get(quality_fragment))
}

#[derive(Debug, Deserialize)]
struct Params {
    version: Option<u32>,
    /// The series charted first (default: the first).
    series: Option<String>,
}

struct SeriesRow {
    name: String,
    rows: u64,
    from: String,
    to: String,
    step: String,
    gaps: u64,
}

struct ColumnRow {
    name: String,
    kind: String,
    count: u64,
    nulls: u64,
    min: String,
    max: String,
    mean: String,
    std: String,
    numeric: bool,
}

struct VersionRow {
    number: u32,
    operation: String,
    rows: u64,
    size: String,
    created: String,
    current: bool,
    shown: bool,
}

#[derive(Template)]
#[template(path = "dataset.html")]
struct DatasetPage {
    csrf: String,
    id: String,
    name: String,
    tags: Vec<String>,
    version: u32,
    rows: u64,
    size: String,
    from: String,
    to: String,
    duplicates: u64,
    rejects: u64,
    series: Vec<SeriesRow>,
    columns: Vec<ColumnRow>,
    versions: Vec<VersionRow>,
    /// Whether the dataset has open, high, low and close columns.
    ohlc: bool,
    /// The column charted first.
    first_column: String,
    /// The series charted first.
    chosen: String,
}

/// A time in microseconds since 1970 as a UTC date and time.
fn micros(at: Option<i64>) -> String {
    at.and_then(chrono::DateTime::from_timestamp_micros)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// A statistic with as many digits as people read.
fn number(value: Option<f64>) -> String {
    match value {
        None => String::new(),
        Some(v) if v != 0.0 && (v.abs() >= 1e9 || v.abs() < 1e-3) => format!("{v:.4e}"),
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_owned(),
    }
}

/// The dataset, its versions and the version a page is about; otherwise the not-found page (or the error).
async fn shown(
    state: &AppState,
    user: &PageUser,
    id: &str,
    version: Option<u32>,
) -> Result<(Dataset, Vec<Version>, Version), Response> {
    let missing = |error: variosync_app::Error| {
        if error.kind() == ErrorKind::NotFound {
            let path = format!("/datasets/{id}");
            (StatusCode::NOT_FOUND, Html(super::not_found_page(&path))).into_response()
        } else {
            crate::ApiError::from(error).into_response()
        }
    };
    let principal = user.reader();
    let found = async {
        let id = variosync_app::datasets::parse_dataset_id(id)?;
        let dataset = state.app.dataset(&principal, id).await?;
        let versions = state.app.versions(&principal, id).await?;
        let version = variosync_app::datasets::choose_version(&dataset, &versions, version)?;
        Ok((dataset, versions, version))
    }
    .await;
    found.map_err(missing)
}

/// The series of a version, from its profile; a version recorded before profiles were kept
/// lists its series bare.
fn series_rows(version: &Version) -> Vec<SeriesRow> {
    let profiled = &version.profile.series;
    if profiled.is_empty() {
        let bare = |name: &String| SeriesRow {
            name: name.clone(),
            rows: 0,
            from: String::new(),
            to: String::new(),
            step: String::new(),
            gaps: 0,
        };
        return version.series.iter().map(bare).collect();
    }
    profiled
        .iter()
        .map(|s| SeriesRow {
            name: s.name.clone(),
            rows: s.rows,
            from: micros(Some(s.from)),
            to: micros(Some(s.to)),
            step: s.frequency_label.clone().unwrap_or_else(|| "irregular".to_owned()),
            gaps: s.gaps,
        })
        .collect()
}

/// The value columns of a version with their statistics.
fn column_rows(profile: &variosync_domain::profile::Profile) -> Vec<ColumnRow> {
    profile
        .columns
        .iter()
        .map(|c| ColumnRow {
            name: c.name.clone(),
            kind: c.kind.clone(),
            count: c.count,
            nulls: c.nulls,
            min: number(c.min),
            max: number(c.max),
            mean: number(c.mean),
            std: number(c.std),
            numeric: c.kind == "float" || c.kind == "integer",
        })
        .collect()
}

/// Whether the columns make OHLC candles, and the column charted first (`close`, else the
/// first numeric one).
fn charted(columns: &[ColumnRow]) -> (bool, String) {
    let has = |name: &str| columns.iter().any(|c| c.name == name && c.numeric);
    let ohlc = ["open", "high", "low", "close"].iter().all(|c| has(c));
    let first = if has("close") {
        "close".to_owned()
    } else {
        columns.iter().find(|c| c.numeric).map(|c| c.name.clone()).unwrap_or_default()
    };
    (ohlc, first)
}

/// The dataset's versions, newest first, marking the current one and the one shown.
fn version_rows(dataset: &Dataset, versions: &[Version], shown: &Version) -> Vec<VersionRow> {
    versions
        .iter()
        .rev()
        .map(|v| VersionRow {
            number: v.version,
            operation: v.operation.clone(),
            rows: v.row_count,
            size: human_size(v.bytes),
            created: when(v.created_at),
            current: v.version == dataset.current_version,
            shown: v.version == shown.version,
        })
        .collect()
}

async fn page(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, crate::ApiError> {
    let (dataset, versions, version) = match shown(&state, &user, &id, params.version).await {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    let columns = column_rows(&version.profile);
    let (ohlc, first_column) = charted(&columns);
    let chosen = params
        .series
        .filter(|s| version.series.contains(s))
        .or_else(|| version.series.first().cloned())
        .unwrap_or_default();
    let versions = version_rows(&dataset, &versions, &version);
    Ok(render(&DatasetPage {
        csrf: user.csrf().to_owned(),
        id: dataset.id.to_string(),
        name: dataset.name.clone(),
        tags: dataset.tags.clone(),
        version: version.version,
        rows: version.row_count,
        size: human_size(version.bytes),
        from: version.time_from.map(when).unwrap_or_default(),
        to: version.time_to.map(when).unwrap_or_default(),
        duplicates: version.profile.duplicates,
        rejects: version.profile.rejects,
        series: series_rows(&version),
        columns,
        versions,
        ohlc,
        first_column,
        chosen,
    }))
}

struct JumpRow {
    series: String,
    column: String,
    steps: u64,
    count: u64,
    largest: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "quality.html")]
struct QualityFragment {
    rows: Vec<JumpRow>,
    looked_at: usize,
    series_total: usize,
    threshold: f64,
}

/// The unusual jumps of the dataset's first series, loaded after the page (it reads every
/// row of them).
async fn quality_fragment(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, crate::ApiError> {
    let principal = user.reader();
    let quality = async {
        let id = variosync_app::datasets::parse_dataset_id(&id)?;
        state.app.quality(&principal, id, params.version, QUALITY_SERIES).await
    }
    .await;
    let quality = match quality {
        Ok(quality) => quality,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            let path = format!("/datasets/{id}");
            return Ok((StatusCode::NOT_FOUND, Html(super::not_found_page(&path))).into_response());
        }
        Err(error) => return Err(error.into()),
    };
    Ok(render(&QualityFragment {
        looked_at: quality.series.len(),
        series_total: quality.series_total,
        threshold: quality.threshold,
        rows: jump_rows(quality.series),
    }))
}

/// The columns with unusual jumps, one row each, with their largest jumps.
fn jump_rows(found: Vec<(String, Vec<variosync_app::datasets::ColumnOutliers>)>) -> Vec<JumpRow> {
    found
        .into_iter()
        .flat_map(|(series, columns)| {
            columns.into_iter().map(move |c| JumpRow {
                series: series.clone(),
                column: c.name,
                steps: c.steps,
                count: c.count,
                largest: c
                    .largest
                    .iter()
                    .map(|j| (micros(Some(j.ts)), number(Some(j.from)), number(Some(j.to))))
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn statistics_read_as_people_write_them() {
        assert_eq!(super::number(Some(185.64)), "185.64");
        assert_eq!(super::number(Some(82488700.0)), "82488700");
        assert_eq!(super::number(Some(2.0 / 3.0)), "0.6667");
        assert_eq!(super::number(Some(1.5e12)), "1.5000e12");
        assert_eq!(super::number(None), "");
    }
}
