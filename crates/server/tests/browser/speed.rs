//! How fast the chart is on a large series, measured in a real browser and printed (never
//! asserted: timings depend on the machine). Ignored by default because it writes and
//! imports ten million rows; run it on a release build:
//!
//! ```text
//! cargo test --release -p variosync-server --test browser -- --ignored --nocapture chart_speed
//! ```

use std::io::Write;

use reqwest::Method;
use serde_json::Value;

use crate::harness::{browser, sign_in, until};
use crate::helpers::spawn_app;

/// Ten million rows, or `VARIOSYNC_CHART_ROWS`.
fn rows() -> usize {
    std::env::var("VARIOSYNC_CHART_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000)
}

/// Ten million one-second readings of a random walk, as CSV.
fn series_csv(rows: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows * 30);
    writeln!(out, "time,value").unwrap();
    let start = 1_577_836_800i64; // 2020-01-01
    let mut value = 100.0f64;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..rows {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        value += ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.2;
        writeln!(out, "{},{value:.4}", start + i as i64).unwrap();
    }
    out
}

#[tokio::test]
#[ignore = "imports ten million rows; run on a release build (see the module's documentation)"]
async fn chart_speed_on_ten_million_rows() {
    let Some(driver) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let account = app.sign_up("speed@example.com").await;
    let (key, _) = app.create_key(&account, "write").await;
    let rows = rows();
    let began = std::time::Instant::now();
    let response = app
        .with_key(Method::POST, "/api/v1/datasets?name=Ten%20million", &key)
        .body(series_csv(rows))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let imported: Value = response.json().await.unwrap();
    assert_eq!(imported["version"]["row_count"], rows);
    println!("generated and imported {rows} rows in {:.1} s", began.elapsed().as_secs_f64());
    let id = imported["dataset"]["id"].as_str().unwrap().to_owned();

    let client = &driver.client;
    sign_in(client, &app, "speed@example.com").await;

    let mut first_paints = Vec::new();
    let mut zooms = Vec::new();
    for _ in 0..5 {
        client.goto(&app.url(&format!("/datasets/{id}"))).await.unwrap();
        let first = until(
            client,
            60,
            "the first draw",
            "const t = window.variosyncChart && window.variosyncChart.timings; return t && t.length ? t[0] : null",
        )
        .await;
        first_paints.push(first["at"].as_f64().unwrap());
        // Zoom in step by step around the middle, as wheel turns would.
        let full: Value =
            client.execute("return window.variosyncChart.describe().full", vec![]).await.unwrap();
        let (lo, hi) = (full[0].as_f64().unwrap(), full[1].as_f64().unwrap());
        let middle = (lo + hi) / 2.0;
        for step in 1..=6 {
            let half = (hi - lo) / 2.0 / 4f64.powi(step);
            let before = client
                .execute("return window.variosyncChart.timings.length", vec![])
                .await
                .unwrap()
                .as_u64()
                .unwrap();
            client
                .execute(
                    "window.variosyncChart.zoom(arguments[0], arguments[1])",
                    vec![Value::from(middle - half), Value::from(middle + half)],
                )
                .await
                .unwrap();
            let script = format!(
                "const t = window.variosyncChart.timings; return t.length > {before} ? t[t.length - 1] : null"
            );
            let drawn = until(client, 30, "a zoom", &script).await;
            zooms.push(drawn["ms"].as_f64().unwrap());
        }
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!(
        "first paint of the chart (from navigation start): median {:.0} ms of {:?}",
        median(&mut first_paints),
        first_paints.iter().map(|v| v.round()).collect::<Vec<_>>()
    );
    println!(
        "zoom re-render (new window query to redrawn): median {:.0} ms, worst {:.0} ms, of {} zooms",
        median(&mut zooms),
        zooms.last().copied().unwrap_or_default(),
        zooms.len()
    );
    driver.client.clone().close().await.unwrap();
}
