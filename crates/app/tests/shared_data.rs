//! Every file of the project's sample data converts with the right series, UTC times,
//! columns and row counts; its rows, exported back to CSV, hold every source value.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use variosync_app::pipeline::convert_file;
use variosync_domain::time::Zone;
use variosync_engine::duplicates::DuplicatePolicy;
use variosync_engine::export;
use variosync_formats::delimited::ReadOptions;
use variosync_formats::table::Mode;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// Converts a shared file; returns the exported CSV lines (header first).
fn converted(name: &str) -> Vec<String> {
    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("out.parquet");
    let stem = name.split('.').next().unwrap().to_owned();
    let options = ReadOptions {
        mode: Mode::Strict,
        zone: Zone::Utc,
        default_series: stem,
        mapping: Default::default(),
    };
    convert_file(&data().join(name), &out, &options, DuplicatePolicy::Fail, None)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let file = std::fs::File::open(&out).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut csv = Vec::new();
    let mut first = true;
    for batch in reader {
        let batch = batch.unwrap();
        if first {
            export::write_header(&batch.schema(), &mut csv).unwrap();
            first = false;
        }
        export::write_rows(&batch, &mut csv).unwrap();
    }
    String::from_utf8(csv).unwrap().lines().map(str::to_owned).collect()
}

/// The source's time as the export writes it.
fn utc(date: &str, time: Option<&str>) -> String {
    let date = if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..])
    } else {
        date.to_owned()
    };
    match (date.len(), time) {
        (10, Some(t)) => format!("{date}T{}:{}:{}Z", &t[..2], &t[2..4], &t[4..6]),
        (10, None) => format!("{date}T00:00:00Z"),
        _ => date,
    }
}

/// Checks a delimited source against the export: same rows, series and values.
fn check_csv(
    name: &str,
    series: Option<&str>,
    time: (&str, Option<&str>),
    rows: usize,
    series_count: usize,
) {
    let exported = converted(name);
    let header: Vec<&str> = exported[0].split(',').collect();
    assert_eq!(&header[..2], ["series_id", "ts"], "{name}");
    let by_key: HashMap<(String, String), Vec<String>> = exported[1..]
        .iter()
        .map(|line| {
            let fields: Vec<String> = line.split(',').map(str::to_owned).collect();
            ((fields[0].clone(), fields[1].clone()), fields[2..].to_vec())
        })
        .collect();
    assert_eq!(exported.len() - 1, rows, "{name}: rows");
    assert_eq!(by_key.len(), rows, "{name}: one row per series and time");
    let names: std::collections::HashSet<&String> = by_key.keys().map(|(s, _)| s).collect();
    assert_eq!(names.len(), series_count, "{name}: series");

    let text = std::fs::read_to_string(data().join(name)).unwrap();
    let mut lines = text.lines();
    let columns: Vec<&str> = lines.next().unwrap().split(',').collect();
    let position = |column: &str| columns.iter().position(|c| *c == column).unwrap();
    let series_at = series.map(position);
    let (date_at, time_at) = (position(time.0), time.1.map(position));
    let values_at: Vec<usize> = (0..columns.len())
        .filter(|i| Some(*i) != series_at && *i != date_at && Some(*i) != time_at)
        .collect();
    assert_eq!(header.len() - 2, values_at.len(), "{name}: every other column is a value column");
    let stem = name.split('.').next().unwrap();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let key_series = series_at.map_or(stem, |i| fields[i]).to_owned();
        let at = utc(fields[date_at], time_at.map(|i| fields[i]));
        let values = by_key
            .get(&(key_series.clone(), at.clone()))
            .unwrap_or_else(|| panic!("{name}: no row for {key_series} at {at}"));
        for (value, &source) in values.iter().zip(&values_at) {
            let original = fields[source];
            match (value.parse::<f64>(), original.parse::<f64>()) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}: {key_series} {at} {}", columns[source]),
                _ => assert_eq!(value, original, "{name}: {key_series} {at} {}", columns[source]),
            }
        }
    }
}

#[test]
fn every_delimited_sample_file_round_trips_through_a_dataset() {
    check_csv("stocks_daily.csv", Some("symbol"), ("date", None), 16194, 6);
    check_csv("yahoo_aapl.csv", None, ("Date", None), 500, 1);
    check_csv("stooq_nflx.us.txt", Some("<TICKER>"), ("<DATE>", Some("<TIME>")), 300, 1);
    check_csv("air_passengers.csv", None, ("month", None), 144, 1);
    check_csv("taylor_30_min.csv", None, ("date", None), 4032, 1);
    for (file, rows) in [
        ("m4_daily.csv", 9743),
        ("m4_hourly.csv", 3060),
        ("m4_monthly.csv", 1574),
        ("m4_quarterly.csv", 196),
        ("m4_weekly.csv", 2295),
        ("m4_yearly.csv", 135),
    ] {
        check_csv(file, Some("id"), ("date", None), rows, 4);
    }
}

#[test]
fn the_original_products_json_samples_convert_with_their_series_and_values() {
    let generic = converted("original_sample_data.json");
    assert_eq!(generic[0], "series_id,ts,open,high,low,close,volume,temperature,humidity,pressure");
    assert_eq!(generic.len(), 4);
    assert!(
        generic
            .contains(&"AAPL,2024-01-15T09:30:00Z,185.5,186.2,185.1,185.85,12345678,,,".to_owned())
    );
    assert!(
        generic
            .iter()
            .any(|l| l.starts_with("WEATHER-STATION-001,2024-01-15T09:30:00Z,,,,,,22.5,60,"))
    );
    let flat = converted("original_financial_sample.json");
    assert_eq!(flat[0], "series_id,ts,open,high,low,close,volume,format");
    assert_eq!(
        flat[1..],
        [
            "AAPL,2024-01-15T09:30:00Z,185.5,186.2,185.1,185.85,12345678,yahoo",
            "GOOGL,2024-01-15T09:30:00Z,142.3,143.15,142.1,142.95,5432109,yahoo"
        ]
    );
}
