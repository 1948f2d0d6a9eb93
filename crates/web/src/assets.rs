//! Static assets compiled into the binary, so one file is the whole deployment.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::AppState;

const APP_CSS: &str = include_str!("../static/app.css");
const FAVICON_SVG: &str = include_str!("../static/favicon.svg");
/// Our own scripts: every page's, the upload page's and the chart's.
const SCRIPTS: &[(&str, &str)] = &[
    ("app.js", include_str!("../static/app.js")),
    ("upload.js", include_str!("../static/upload.js")),
    ("chart.js", include_str!("../static/chart.js")),
    ("forecast.js", include_str!("../static/forecast.js")),
];

/// Vendored browser libraries (see `static/vendor/README.md`): a new version is a new
/// file content under the same name, so they are cached for a day like the rest.
const VENDOR: &[(&str, &str, &str)] = &[
    ("htmx.min.js", JS, include_str!("../static/vendor/htmx.min.js")),
    ("uPlot.iife.min.js", JS, include_str!("../static/vendor/uPlot.iife.min.js")),
    ("uPlot.min.css", CSS, include_str!("../static/vendor/uPlot.min.css")),
    (
        "lightweight-charts.standalone.production.js",
        JS,
        include_str!("../static/vendor/lightweight-charts.standalone.production.js"),
    ),
];
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Assets change only with a new build; a day of caching is safe and saves round trips.
const CACHE_CONTROL: &str = "public, max-age=86400";

pub(crate) fn router() -> Router<AppState> {
    let mut router = Router::new()
        .route("/static/app.css", get(|| async { asset(CSS, APP_CSS) }))
        .route("/favicon.svg", get(|| async { asset("image/svg+xml", FAVICON_SVG) }));
    for (name, body) in SCRIPTS {
        router = router.route(&format!("/static/{name}"), get(|| async { asset(JS, body) }));
    }
    for (name, content_type, body) in VENDOR {
        router = router
            .route(&format!("/static/vendor/{name}"), get(|| async { asset(content_type, body) }));
    }
    router
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, CACHE_CONTROL)], body)
}
