//! The dashboard as a person uses it: sign up, upload with a progress bar, the dataset page
//! with its series, candlesticks with volume, zoom to a month of daily candles, the library
//! updating live when another upload lands, sign out. And hostile names shown only as text.

use fantoccini::{Client, Locator};
use serde_json::Value;

use crate::harness::{browser, screenshot, sign_up, testdata, until};
use crate::helpers::{TestApp, spawn_app};

const DAY: f64 = 86_400.0;

async fn text(client: &Client, css: &str) -> String {
    client.find(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

/// Uploads `path` on the upload page and waits until it is imported.
pub(crate) async fn upload(client: &Client, app: &TestApp, path: &str) {
    client.goto(&app.url("/upload")).await.unwrap();
    client.find(Locator::Css("#files")).await.unwrap().send_keys(path).await.unwrap();
    let imported = "return document.querySelector('.upload.imported') !== null";
    until(client, 120, &format!("{path} to be imported"), imported).await;
}

/// How many times the chart has drawn.
async fn draws(client: &Client) -> u64 {
    let value = client
        .execute("return Number(document.getElementById('chart').dataset.draws || 0)", vec![])
        .await
        .unwrap();
    value.as_u64().unwrap_or(0)
}

/// Waits for the chart to draw again after `before` draws, and says what it shows.
async fn drawn_after(client: &Client, before: u64, what: &str) -> Value {
    let script = format!(
        "const c = document.getElementById('chart'); \
         return Number(c.dataset.draws || 0) > {before} ? window.variosyncChart.describe() : null"
    );
    until(client, 30, what, &script).await
}

#[tokio::test]
async fn a_person_uploads_charts_zooms_and_sees_the_library_update_live() {
    let Some(driver) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let client = &driver.client;
    sign_up(client, &app, "grace@example.com").await;

    // A newcomer's library says what to do.
    client.goto(&app.url("/datasets")).await.unwrap();
    let empty = text(client, "#library").await;
    assert!(empty.contains("No datasets yet") && empty.contains("sample"), "{empty}");

    // Upload with a progress bar per file.
    upload(client, &app, &testdata("stocks_daily.csv")).await;
    let progress = client
        .execute("return document.querySelector('.upload progress').value", vec![])
        .await
        .unwrap();
    assert_eq!(progress, 100);
    let speed = text(client, ".upload .file-speed").await;
    assert!(speed.contains("1.8 MB of 1.8 MB") && speed.contains("/s"), "{speed}");
    let result = text(client, ".upload .result").await;
    assert!(result.contains("16194 rows in 6 series"), "{result}");
    screenshot(client, "upload").await;

    // The dataset page: six series, their statistics, and a line chart.
    client.find(Locator::Css(".dataset-link")).await.unwrap().click().await.unwrap();
    until(client, 30, "the dataset page", "return document.getElementById('chart') !== null").await;
    let options = client
        .execute(
            "return [...document.querySelectorAll('#chart-series option')].map(o => o.value)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(options, serde_json::json!(["AAPL", "AMZN", "GOOG", "META", "NFLX", "NVDA"]));
    let lines = drawn_after(client, 0, "the first line chart").await;
    assert_eq!(lines["mode"], "lines");
    assert!(lines["points"].as_u64().unwrap() > 100, "{lines}");
    until(
        client,
        30,
        "the quality check",
        "return document.querySelector('#quality table') !== null",
    )
    .await;

    // AAPL as candlesticks with a volume pane.
    let url = client.current_url().await.unwrap();
    client.goto(&format!("{url}?series=AAPL")).await.unwrap();
    drawn_after(client, 0, "the AAPL line chart").await;
    let before = draws(client).await;
    client.find(Locator::Css("button[data-mode=candles]")).await.unwrap().click().await.unwrap();
    let all = drawn_after(client, before, "candles").await;
    assert_eq!(all["mode"], "candles", "{all}");
    assert_eq!(all["panes"], 2, "a price pane and a volume pane: {all}");
    assert!(all["volumes"].as_u64().unwrap() > 50, "{all}");
    let overview_step = all["step"].as_f64().unwrap();
    assert!(overview_step > DAY, "ten years fit the width as wider candles: {all}");

    // Zoom to one month: daily candles.
    let before = draws(client).await;
    client.find(Locator::Css("button[data-range='1M']")).await.unwrap().click().await.unwrap();
    let month = drawn_after(client, before, "a month of candles").await;
    let span = month["to"].as_f64().unwrap() - month["from"].as_f64().unwrap();
    assert!((25.0 * DAY..=32.0 * DAY).contains(&span), "about a month shown: {month}");
    assert_eq!(month["step"].as_f64().unwrap(), DAY, "one candle per trading day: {month}");
    let candles = month["candles"].as_u64().unwrap();
    assert!((18..=24).contains(&candles), "a month of trading days: {month}");
    let legend_ready = client
        .execute("return document.querySelector('#chart-area canvas') !== null", vec![])
        .await
        .unwrap();
    assert_eq!(legend_ready, true);
    client
        .execute("document.querySelector('.chart-buttons').scrollIntoView()", vec![])
        .await
        .unwrap();
    screenshot(client, "candles").await;

    // The view exported: CSV of exactly the candles shown, and a PNG picture.
    client
        .execute(
            "window.captured = []; const make = URL.createObjectURL; \
             URL.createObjectURL = (blob) => { window.captured.push(blob); return make(blob); };",
            vec![],
        )
        .await
        .unwrap();
    client.find(Locator::Css("#chart-csv")).await.unwrap().click().await.unwrap();
    until(client, 10, "the CSV", "return window.captured.length === 1").await;
    let csv = client
        .execute_async(
            "const done = arguments[arguments.length - 1]; window.captured[0].text().then(done);",
            vec![],
        )
        .await
        .unwrap();
    let csv = csv.as_str().unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "time,open,high,low,close,volume");
    assert_eq!(lines.len() as u64 - 1, candles, "one line per candle in view: {csv}");
    assert!(lines[lines.len() - 1].starts_with("2023-09-21T00:00:00"), "{csv}");
    client.find(Locator::Css("#chart-png")).await.unwrap().click().await.unwrap();
    until(client, 10, "the PNG", "return window.captured.length === 2").await;
    let png = client
        .execute("return [window.captured[1].type, window.captured[1].size]", vec![])
        .await
        .unwrap();
    assert_eq!(png[0], "image/png");
    assert!(png[1].as_u64().unwrap() > 5_000, "a real picture: {png}");

    // Log scale keeps the candles and the range.
    let before = draws(client).await;
    client.find(Locator::Css("#chart-log")).await.unwrap().click().await.unwrap();
    let log = drawn_after(client, before, "the log scale").await;
    assert_eq!((log["mode"].as_str(), log["log"].as_bool()), (Some("candles"), Some(true)));
    assert_eq!(log["candles"], month["candles"], "{log}");

    // The library follows a second upload, made in another tab, without a reload.
    client.goto(&app.url("/datasets")).await.unwrap();
    let library = client.window().await.unwrap();
    client.execute("window.notReloaded = true", vec![]).await.unwrap();
    let rows = client.find_all(Locator::Css("#library tbody tr")).await.unwrap().len();
    assert_eq!(rows, 1);
    let tab = client.new_window(true).await.unwrap();
    client.switch_to_window(tab.handle).await.unwrap();
    upload(client, &app, &testdata("air_passengers.csv")).await;
    client.close_window().await.unwrap();
    client.switch_to_window(library).await.unwrap();
    until(
        client,
        30,
        "the library to show the second dataset",
        "return document.querySelectorAll('#library tbody tr').length === 2 && window.notReloaded === true",
    )
    .await;
    let listed = text(client, "#library").await;
    assert!(listed.contains("air_passengers") && listed.contains("stocks_daily"), "{listed}");
    screenshot(client, "library").await;

    // At phone width no page is wider than the screen; the dark theme is one click away.
    client.set_window_size(390, 844).await.unwrap();
    let dataset = format!("{url}?series=AAPL");
    for path in ["/datasets", "/upload", "/jobs", "/usage", "/account"] {
        client.goto(&app.url(path)).await.unwrap();
        let fits = client
            .execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![])
            .await
            .unwrap();
        assert_eq!(fits, true, "{path} fits a phone");
    }
    client.goto(dataset.as_str()).await.unwrap();
    drawn_after(client, 0, "the chart at phone width").await;
    let fits = client
        .execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![])
        .await
        .unwrap();
    assert_eq!(fits, true, "the dataset page fits a phone");
    client.find(Locator::Css("#theme")).await.unwrap().click().await.unwrap();
    let theme =
        client.execute("return document.documentElement.dataset.theme", vec![]).await.unwrap();
    assert_eq!(theme, "dark", "headless Chromium starts light");
    screenshot(client, "phone-dark").await;
    client.set_window_size(1280, 900).await.unwrap();

    // Sign out.
    client.goto(&app.url("/account")).await.unwrap();
    client
        .find(Locator::XPath("//form[@action='/account/signout']//button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client.wait().for_url(&url::Url::parse(&app.url("/signin")).unwrap()).await.unwrap();
    client.goto(&app.url("/datasets")).await.unwrap();
    let after = client.current_url().await.unwrap();
    assert_eq!(after.path(), "/signin", "signed out, the library asks to sign in");
    driver.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn hostile_series_and_column_names_are_shown_as_text_and_never_run() {
    let Some(driver) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let client = &driver.client;
    sign_up(client, &app, "mallory@example.com").await;
    let folder = tempfile::tempdir().unwrap();
    // A file name cannot hold a slash, so the dataset name is an image rather than a script.
    let file = folder.path().join("<img src=x onerror=window.pwned=1>.csv");
    std::fs::write(
        &file,
        "symbol,date,\"\"\"><img src=x onerror=window.pwned=2>\"\n\
         <script>window.pwned=3</script>,2024-01-02,1\n\
         <script>window.pwned=3</script>,2024-01-03,2\n\
         \"\"\"><img src=x onerror=window.pwned=4>\",2024-01-02,3\n",
    )
    .unwrap();
    upload(client, &app, &file.to_string_lossy()).await;
    let result = text(client, ".upload").await;
    assert!(result.contains("<img src=x onerror=window.pwned=1>"), "{result}");
    let pages = ["/datasets", "/datasets?q=onerror"];
    for page in pages {
        client.goto(&app.url(page)).await.unwrap();
        let shown = text(client, "#library").await;
        assert!(shown.contains("<img src=x onerror=window.pwned=1>"), "{page}: {shown}");
    }
    client.find(Locator::Css("#library td.name a")).await.unwrap().click().await.unwrap();
    until(
        client,
        30,
        "the chart",
        "return Number(document.getElementById('chart').dataset.draws || 0) > 0",
    )
    .await;
    until(
        client,
        30,
        "the quality check",
        "return document.querySelector('#quality table') !== null",
    )
    .await;
    let page = text(client, "main").await;
    assert!(page.contains("<script>window.pwned=3</script>"), "the series as text: {page}");
    assert!(page.contains("\"><img src=x onerror=window.pwned=4>"), "{page}");
    let options = client
        .execute(
            "return [...document.querySelectorAll('#chart-series option')].map(o => o.value)",
            vec![],
        )
        .await
        .unwrap();
    assert!(options.to_string().contains("<script>window.pwned=3</script>"), "{options}");
    // Choose every series, so the legend shows each name too.
    client
        .execute(
            "const s = document.getElementById('chart-series'); [...s.options].forEach(o => o.selected = true); s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .unwrap();
    until(
        client,
        30,
        "both series charted",
        "const d = window.variosyncChart.describe(); return d.lines && d.lines.length === 2",
    )
    .await;
    let verdict = client
        .execute(
            "return { pwned: window.pwned === undefined ? null : window.pwned, \
                      images: document.querySelectorAll('img[src=x]').length, \
                      scripts: [...document.scripts].filter(s => !s.src).length }",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(verdict, serde_json::json!({ "pwned": null, "images": 0, "scripts": 0 }));
    screenshot(client, "hostile-names").await;
    driver.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_large_file_goes_in_chunks_to_a_worker_and_its_job_is_followed_live() {
    let Some(driver) = browser().await else {
        return;
    };
    // Anything over 100 kB is a job, so the six stocks (1.8 MB) are one.
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.jobs.inline_import_bytes = 100_000;
    })
    .await;
    let client = &driver.client;
    sign_up(client, &app, "linus@example.com").await;
    client.goto(&app.url("/jobs")).await.unwrap();
    assert!(text(client, "#jobs").await.contains("No jobs yet"));
    client.execute("window.notReloaded = true", vec![]).await.unwrap();
    let jobs = client.window().await.unwrap();

    let tab = client.new_window(true).await.unwrap();
    client.switch_to_window(tab.handle).await.unwrap();
    upload(client, &app, &testdata("stocks_daily.csv")).await;
    let job = client
        .execute("return document.querySelector('.upload').dataset.job", vec![])
        .await
        .unwrap();
    let job = job.as_str().unwrap().to_owned();
    assert!(!job.is_empty(), "the upload became a job");
    let result = text(client, ".upload .result").await;
    assert!(result.contains("16194 rows in 6 series"), "{result}");
    client.close_window().await.unwrap();

    client.switch_to_window(jobs).await.unwrap();
    let script = format!(
        "const row = document.querySelector('[data-job=\"{job}\"]'); \
         return row && row.dataset.status === 'succeeded' && window.notReloaded === true \
           ? row.textContent : null"
    );
    let row = until(client, 60, "the jobs page to show the job done", &script).await;
    assert!(row.as_str().unwrap().contains("import"), "{row}");
    assert!(row.as_str().unwrap().contains("charged"), "charged in hours: {row}");
    driver.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_misread_file_is_refused_with_its_explanation_and_fixed_in_one_click() {
    let Some(driver) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let client = &driver.client;
    sign_up(client, &app, "ada@example.com").await;
    client.goto(&app.url("/upload")).await.unwrap();
    let file = testdata("layouts/repeats_without_series.csv");
    client.find(Locator::Css("#files")).await.unwrap().send_keys(&file).await.unwrap();
    let offered = "const f = document.querySelector('.upload .fixes'); \
                   return f && !f.hidden ? f.textContent : null";
    let fixes = until(client, 60, "the fixes to be offered", offered).await;
    assert!(fixes.as_str().unwrap().contains("keep the last row"), "{fixes}");
    let error = text(client, ".upload .error").await;
    assert!(error.contains("40 of 60 rows repeat a series and time"), "{error}");
    assert!(error.contains("most likely misread"), "{error}");
    let keep = client
        .find(Locator::XPath("//p[@class='fixes']/button[contains(., 'keep the last row')]"))
        .await
        .unwrap();
    keep.click().await.unwrap();
    let imported = "return document.querySelector('.upload.imported') !== null";
    until(client, 60, "the import with the fix", imported).await;
    let result = text(client, ".upload .result").await;
    assert!(result.contains("20 rows in 1 series"), "{result}");
}
