//! Files in the shapes real exports have (klines and MetaTrader without headers, Stooq,
//! Yahoo, Kaggle, FRED in CSV and in UTF-16 tabs, a European export, Walmart's store and
//! department series, Wikipedia page views and tickers a column each, a time-ordered market
//! dump whose series column has an unknown name) convert with no mapping given into the
//! right rows, series, value columns and UTC times; a file that cannot be told apart is
//! refused with the explanation, never read with rows lost. The fixtures are written by
//! `testdata/layouts/make.py`, which says what each should read as in `expected.json`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMicrosecondType};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use variosync_app::pipeline::convert_file;
use variosync_domain::time::Zone;
use variosync_engine::duplicates::DuplicatePolicy;
use variosync_formats::delimited::ReadOptions;
use variosync_formats::table::Mode;

fn layouts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/layouts")
}

/// What a file converts to: rows, distinct series, value columns, the earliest time.
fn read(name: &str) -> Result<(usize, usize, usize, String), String> {
    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("out.parquet");
    let options = ReadOptions {
        mode: Mode::Strict,
        zone: Zone::Utc,
        default_series: name.split('.').next().unwrap().to_owned(),
        mapping: Default::default(),
    };
    convert_file(&layouts().join(name), &out, &options, DuplicatePolicy::Guarded, None)
        .map_err(|e| e.to_string())?;
    let file = std::fs::File::open(&out).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let (mut rows, mut series, mut columns, mut first) = (0, HashSet::new(), 0, i64::MAX);
    for batch in reader {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        columns = batch.num_columns() - 2;
        let names = batch.column(0).as_dictionary::<Int32Type>();
        let labels = names.values().as_string::<i32>();
        for key in names.keys().values() {
            series.insert(labels.value(*key as usize).to_owned());
        }
        let ts = batch.column(1).as_primitive::<TimestampMicrosecondType>();
        first = first.min(ts.values().iter().copied().min().unwrap_or(i64::MAX));
    }
    let first = chrono::DateTime::from_timestamp_micros(first).unwrap();
    Ok((rows, series.len(), columns, first.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
}

#[test]
fn every_layout_converts_with_no_mapping_given() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(layouts().join("expected.json")).unwrap())
            .unwrap();
    let expected = expected.as_object().unwrap();
    assert!(expected.len() >= 13, "the fixtures were read");
    let mut wrong = Vec::new();
    for (name, want) in expected {
        let got = read(name);
        match (want.get("error"), got) {
            (Some(_), Ok(got)) => {
                wrong.push(format!("{name}: read as {got:?}, expected a refusal"))
            }
            (Some(_), Err(message)) => {
                for part in ["repeat a series and time with other values", "most likely misread"] {
                    if !message.contains(part) {
                        wrong.push(format!("{name}: the refusal does not say {part:?}: {message}"));
                    }
                }
            }
            (None, Err(message)) => wrong.push(format!("{name}: {message}")),
            (None, Ok((rows, series, columns, first))) => {
                let want = (
                    want["rows"].as_u64().unwrap() as usize,
                    want["series"].as_u64().unwrap() as usize,
                    want["columns"].as_u64().unwrap() as usize,
                    want["first"].as_str().unwrap().to_owned(),
                );
                if (rows, series, columns, first.clone()) != want {
                    wrong.push(format!(
                        "{name}: (rows, series, columns, first) = {:?}, expected {want:?}",
                        (rows, series, columns, first)
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
