//! Forecasting from the dashboard: ten years of daily prices, Auto, a job that charges
//! hours, the forecast drawn after the history with shaded intervals, and the backtests;
//! then Prophet with event days.

use fantoccini::Locator;
use serde_json::Value;

use crate::dashboard::upload;
use crate::harness::{browser, screenshot, sign_up, testdata, until};
use crate::helpers::spawn_app;

#[tokio::test]
async fn auto_forecasts_ten_years_of_daily_closes_from_the_dataset_page() {
    let Some(driver) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let client = &driver.client;
    sign_up(client, &app, "florence@example.com").await;
    upload(client, &app, &testdata("stocks_daily.csv")).await;
    client.find(Locator::Css(".dataset-link")).await.unwrap().click().await.unwrap();
    until(client, 30, "the chart", "return document.getElementById('chart').dataset.draws").await;

    // Close of AAPL, Auto, 30 steps (the form's defaults but the series).
    let form = client.find(Locator::Css("#forecast-form")).await.unwrap();
    let series = form.find(Locator::Css("select[name=series]")).await.unwrap();
    series.select_by_value("AAPL").await.unwrap();
    let column = client
        .execute(
            "return document.querySelector('#forecast-form select[name=column]').value",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(column, "close");
    form.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let shown = "return document.getElementById('forecast').dataset.shown || null";
    until(client, 120, "the forecast", shown).await;

    // Drawn after the history, with two shaded bands, the view on the forecast.
    let drawn = until(
        client,
        30,
        "the forecast on the chart",
        "const f = window.variosyncChart.forecast(); return f && f.drawn ? f : null",
    )
    .await;
    assert_eq!(drawn["steps"], 30);
    assert_eq!(drawn["bands"], 2);
    let view: Value =
        client.execute("return window.variosyncChart.describe()", vec![]).await.unwrap();
    let lines: Vec<&str> =
        view["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(lines.iter().any(|l| l.starts_with("forecast · auto: ")), "{view}");
    assert!(lines.contains(&"95% lower") && lines.contains(&"80% upper"), "{view}");
    // 2023-09-21 is the last close; the view reaches the 30th trading day after it,
    // 2023-11-02.
    assert_eq!(view["to"].as_f64().unwrap(), 1_698_883_200.0, "{view}");
    assert!(view["from"].as_f64().unwrap() < 1_695_254_400.0, "history is shown too: {view}");

    // The backtests of every candidate, the chosen one marked; charged by the hour.
    let rows = client
        .execute(
            "return [...document.querySelectorAll('#forecast-backtests tbody tr')].map(r => [r.className, ...[...r.cells].map(c => c.textContent)])",
            vec![],
        )
        .await
        .unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 8, "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r[0] == "best").count(), 1, "{rows:?}");
    for row in rows {
        // Model, MAE, RMSE, MAPE, sMAPE, MASE, coverage at 80% and 95%.
        assert_eq!(row.as_array().unwrap().len(), 1 + 8, "{row:?}");
        let mape: f64 = row[4].as_str().unwrap().parse().unwrap();
        let mase: f64 = row[6].as_str().unwrap().parse().unwrap();
        assert!(mape > 0.0 && mape < 100.0, "{row:?}");
        assert!(mase > 0.0 && mase < 20.0, "{row:?}");
    }
    let status = client.find(Locator::Css("#forecast-status")).await.unwrap().text().await.unwrap();
    assert!(status.contains("charged") && status.contains(" h"), "{status}");
    let csv = client
        .execute("return document.getElementById('forecast-csv').getAttribute('href')", vec![])
        .await
        .unwrap();
    assert!(csv.as_str().unwrap().ends_with("/csv"), "{csv}");
    client.execute("document.getElementById('chart').scrollIntoView()", vec![]).await.unwrap();
    let settled = "return document.getElementById('chart-status').textContent === ''";
    until(client, 30, "the chart to settle", settled).await;
    screenshot(client, "forecast").await;

    // Prophet with event days, from the same form: its own forecast replaces Auto's.
    let model = form.find(Locator::Css("select[name=model]")).await.unwrap();
    model.select_by_value("prophet").await.unwrap();
    let events = form.find(Locator::Css("input[name=events]")).await.unwrap();
    events.send_keys("2021-12-31, 2022-12-30").await.unwrap();
    form.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let prophet = "return window.variosyncChart.describe().lines\
        .find(l => l.startsWith('forecast · Prophet (1 event)')) || null";
    until(client, 120, "the Prophet forecast", prophet).await;

    // The earlier forecasts list it, and the jobs page shows the charged job.
    let listed = "return document.querySelectorAll('#forecast-list li').length > 1 || null";
    until(client, 10, "the earlier forecasts", listed).await;
    client.goto(&app.url("/jobs")).await.unwrap();
    let jobs = client.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(jobs.contains("forecast") && jobs.contains("succeeded"), "{jobs}");
}
