//! Every file of the project's sample data, imported, exported to each format and imported
//! back, gives the same rows, series, UTC times and values: floats to the bit, text as it
//! was, nulls where they were.

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use variosync_app::pipeline::convert_file;
use variosync_domain::time::Zone;
use variosync_engine::duplicates::DuplicatePolicy;
use variosync_formats::delimited::ReadOptions;
use variosync_formats::export::{self, ExportOptions, Format, JsonLayout, Packing, TimeFormat};
use variosync_formats::table::Mode;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// A value as compared: floats by their bits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Null,
    Float(u64),
    Int(i64),
    Bool(bool),
    Text(String),
}

/// A dataset as compared: its value columns' names and types, and its rows in order.
#[derive(Debug, PartialEq)]
struct Table {
    columns: Vec<(String, DataType)>,
    rows: Vec<(String, i64, Vec<Value>)>,
}

fn read_table(parquet: &Path) -> Table {
    let file = std::fs::File::open(parquet).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut table = Table { columns: Vec::new(), rows: Vec::new() };
    for batch in reader {
        let batch = batch.unwrap();
        table.columns = batch
            .schema()
            .fields()
            .iter()
            .skip(2)
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        table.rows.extend(rows_of(&batch));
    }
    table
}

fn rows_of(batch: &RecordBatch) -> Vec<(String, i64, Vec<Value>)> {
    let series = arrow_cast::cast(batch.column(0), &DataType::Utf8).unwrap();
    let series = series.as_string::<i32>();
    let times = batch.column(1).as_primitive::<TimestampMicrosecondType>();
    (0..batch.num_rows())
        .map(|row| {
            let values = batch
                .columns()
                .iter()
                .skip(2)
                .map(|column| {
                    if column.is_null(row) {
                        return Value::Null;
                    }
                    match column.data_type() {
                        DataType::Float64 => {
                            Value::Float(column.as_primitive::<Float64Type>().value(row).to_bits())
                        }
                        DataType::Int64 => {
                            Value::Int(column.as_primitive::<Int64Type>().value(row))
                        }
                        DataType::Boolean => Value::Bool(column.as_boolean().value(row)),
                        _ => Value::Text(column.as_string::<i32>().value(row).to_owned()),
                    }
                })
                .collect();
            (series.value(row).to_owned(), times.value(row), values)
        })
        .collect()
}

fn import(path: &Path, out: &Path, zone: Zone) -> Table {
    let stem = path.file_name().unwrap().to_str().unwrap().split('.').next().unwrap().to_owned();
    let options =
        ReadOptions { mode: Mode::Strict, zone, default_series: stem, mapping: Default::default() };
    convert_file(path, out, &options, DuplicatePolicy::Fail, None)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    read_table(out)
}

/// Exports the canonical file `source` with `options` to `out`.
fn export_to(source: &Path, out: &Path, options: &ExportOptions) {
    let file = std::fs::File::open(source).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let output = std::fs::File::create(out).unwrap();
    let mut writer = export::writer(output, schema, options).unwrap();
    for batch in builder.with_batch_size(1000).build().unwrap() {
        writer.write(&batch.unwrap()).unwrap();
    }
    writer.finish().unwrap();
}

/// The sample files, each with what differs in the round trip: nothing, for all of them.
fn samples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e != "md"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the sample data is there");
    files
}

fn round_trip(label: &str, options: &ExportOptions, zone: Zone) {
    round_trip_as(label, options, zone, |table| table);
}

/// Excel has one kind of number: integers come back as floats of the same value.
fn numbers_as_floats(mut table: Table) -> Table {
    for (_, kind) in &mut table.columns {
        if *kind == DataType::Int64 {
            *kind = DataType::Float64;
        }
    }
    for (_, _, values) in &mut table.rows {
        for value in values {
            if let Value::Int(i) = *value {
                *value = Value::Float((i as f64).to_bits());
            }
        }
    }
    table
}

/// The round trip of every sample, each table seen through `seen` before comparing.
fn round_trip_as(label: &str, options: &ExportOptions, zone: Zone, seen: fn(Table) -> Table) {
    let directory = tempfile::tempdir().unwrap();
    for sample in samples() {
        let name = sample.file_name().unwrap().to_str().unwrap().to_owned();
        let canonical = directory.path().join(format!("{name}.parquet"));
        let original = seen(import(&sample, &canonical, Zone::Utc));
        let exported = directory.path().join(options.file_name(&format!("{name}-export")));
        export_to(&canonical, &exported, options);
        let back =
            seen(import(&exported, &directory.path().join(format!("{name}.back.parquet")), zone));
        assert_eq!(back.columns, original.columns, "{label}, {name}: columns");
        assert_eq!(back.rows.len(), original.rows.len(), "{label}, {name}: rows");
        for (a, b) in original.rows.iter().zip(&back.rows) {
            assert_eq!(a, b, "{label}, {name}: a row");
        }
    }
}

fn options(format: Format) -> ExportOptions {
    ExportOptions::new(format)
}

#[test]
fn csv_round_trips_every_sample() {
    round_trip("csv", &options(Format::Csv), Zone::Utc);
}

#[test]
fn tsv_with_a_decimal_comma_and_gzip_round_trips_every_sample() {
    let options =
        ExportOptions { decimal_comma: true, packing: Packing::Gzip, ..options(Format::Tsv) };
    round_trip("tsv, decimal comma, gzip", &options, Zone::Utc);
}

#[test]
fn csv_with_epoch_milliseconds_and_zstd_round_trips_every_sample() {
    let options = ExportOptions {
        time: TimeFormat::EpochMillis,
        packing: Packing::Zstd,
        ..options(Format::Csv)
    };
    round_trip("csv, epoch ms, zstd", &options, Zone::Utc);
}

#[test]
fn csv_with_local_times_in_a_zone_round_trips_every_sample() {
    let options = ExportOptions {
        time: TimeFormat::Pattern("%Y-%m-%d %H:%M:%S%.f".to_owned()),
        zone: chrono_tz::Europe::Paris,
        ..options(Format::Csv)
    };
    let paris = Zone::Named(chrono_tz::Europe::Paris);
    round_trip("csv, local times in Paris", &options, paris);
}

#[test]
fn json_records_round_trip_every_sample() {
    round_trip("json", &options(Format::Json), Zone::Utc);
}

#[test]
fn json_by_series_round_trips_every_sample() {
    let options = ExportOptions { json: JsonLayout::BySeries, ..options(Format::Json) };
    round_trip("json by series", &options, Zone::Utc);
}

#[test]
fn json_lines_round_trip_every_sample() {
    round_trip("jsonl", &options(Format::JsonLines), Zone::Utc);
}

#[test]
fn parquet_round_trips_every_sample() {
    round_trip("parquet", &options(Format::Parquet), Zone::Utc);
}

#[test]
fn arrow_file_stream_and_feather_round_trip_every_sample() {
    for format in [Format::ArrowFile, Format::ArrowStream, Format::Feather] {
        round_trip(format.name(), &options(format), Zone::Utc);
    }
}

#[test]
fn line_protocol_round_trips_every_sample() {
    round_trip("line protocol", &options(Format::LineProtocol), Zone::Utc);
}

#[test]
fn avro_round_trips_every_sample_with_its_column_names() {
    round_trip("avro", &options(Format::Avro), Zone::Utc);
}

#[test]
fn xlsx_round_trips_every_sample_as_excel_dates_and_numbers() {
    round_trip_as("xlsx", &options(Format::Xlsx), Zone::Utc, numbers_as_floats);
}

#[test]
fn xlsx_with_local_times_in_a_zone_round_trips_every_sample() {
    let options = ExportOptions { zone: chrono_tz::America::New_York, ..options(Format::Xlsx) };
    let zone = Zone::Named(chrono_tz::America::New_York);
    round_trip_as("xlsx in New York", &options, zone, numbers_as_floats);
}

#[test]
fn a_zip_of_csv_per_series_round_trips_every_sample() {
    use std::io::Read;
    let options = ExportOptions { packing: Packing::Zip, ..options(Format::Csv) };
    let directory = tempfile::tempdir().unwrap();
    for sample in samples() {
        let name = sample.file_name().unwrap().to_str().unwrap().to_owned();
        let canonical = directory.path().join(format!("{name}.parquet"));
        // A series alone may read as integers where the whole column did not ("1.0").
        let original = numbers_as_floats(import(&sample, &canonical, Zone::Utc));
        let exported = directory.path().join(options.file_name(&format!("{name}-export")));
        export_to(&canonical, &exported, &options);
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&exported).unwrap()).unwrap();
        let mut rows = Vec::new();
        let mut entries = Vec::new();
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index).unwrap();
            entries.push(entry.name().unwrap().to_string());
            let path = directory.path().join(format!("entry-{index}.csv"));
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            std::fs::write(&path, bytes).unwrap();
            let entry_parquet = directory.path().join(format!("entry-{index}.parquet"));
            let back = numbers_as_floats(import(&path, &entry_parquet, Zone::Utc));
            assert_eq!(back.columns, original.columns, "zip, {name}: the columns of an entry");
            // One series per entry.
            assert!(back.rows.iter().all(|r| r.0 == back.rows[0].0), "zip, {name}: one series");
            rows.extend(back.rows);
        }
        let series: std::collections::BTreeSet<&String> =
            original.rows.iter().map(|r| &r.0).collect();
        assert_eq!(entries.len(), series.len(), "zip, {name}: an entry per series: {entries:?}");
        assert_eq!(rows, original.rows, "zip, {name}: the rows");
    }
}

#[test]
fn a_postgresql_script_loads_every_sample_exactly() {
    use secrecy::ExposeSecret;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let Some(database) = runtime.block_on(variosync_store::testing::fresh_postgres()) else {
        return;
    };
    let url = database.url.unwrap().expose_secret().to_owned();
    let psql = |args: &[&str]| {
        let output = std::process::Command::new("psql")
            .arg(&url)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .args(args)
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "psql {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let directory = tempfile::tempdir().unwrap();
    for (number, sample) in samples().into_iter().enumerate() {
        let name = sample.file_name().unwrap().to_str().unwrap().to_owned();
        let canonical = directory.path().join(format!("{name}.parquet"));
        let original = import(&sample, &canonical, Zone::Utc);
        let table = format!("Sample {number}");
        let options = ExportOptions { table: Some(table.clone()), ..options(Format::Timescale) };
        let exported = directory.path().join(options.file_name(&format!("{name}-export")));
        export_to(&canonical, &exported, &options);
        psql(&["-f", exported.to_str().unwrap()]);
        let count = psql(&["-At", "-c", &format!("SELECT count(*) FROM \"{table}\"")]);
        assert_eq!(count.trim(), original.rows.len().to_string(), "{name}: the rows loaded");
        // Each row back: series, microseconds, then each value as PostgreSQL writes it.
        let mut select =
            vec!["series_id".to_owned(), "(extract(epoch from ts) * 1000000)::bigint".to_owned()];
        for (column, _) in &original.columns {
            select.push(format!("\"{}\"", column.replace('"', "\"\"")));
        }
        let query = format!(
            "COPY (SELECT {} FROM \"{table}\" ORDER BY 1, 2) TO STDOUT WITH (FORMAT csv)",
            select.join(", ")
        );
        let csv = psql(&["-c", &query]);
        let mut back = Vec::new();
        let mut reader = csv_rows(&csv);
        for row in reader.drain(..) {
            let values = original
                .columns
                .iter()
                .zip(&row[2..])
                .map(|((_, kind), text)| match (kind, text) {
                    (_, None) => Value::Null,
                    (DataType::Float64, Some(t)) => {
                        let value: f64 = match t.as_str() {
                            "Infinity" => f64::INFINITY,
                            "-Infinity" => f64::NEG_INFINITY,
                            other => other.parse().unwrap(),
                        };
                        Value::Float(value.to_bits())
                    }
                    (DataType::Int64, Some(t)) => Value::Int(t.parse().unwrap()),
                    (DataType::Boolean, Some(t)) => Value::Bool(t == "t"),
                    (_, Some(t)) => Value::Text(t.clone()),
                })
                .collect();
            back.push((
                row[0].clone().unwrap(),
                row[1].as_deref().unwrap().parse::<i64>().unwrap(),
                values,
            ));
        }
        let mut expected = original.rows.clone();
        expected.sort_by(|a, b| (a.0.as_bytes(), a.1).cmp(&(b.0.as_bytes(), b.1)));
        back.sort_by(|a, b| (a.0.as_bytes(), a.1).cmp(&(b.0.as_bytes(), b.1)));
        assert_eq!(back, expected, "{name}: the rows in PostgreSQL");
    }
}

/// The rows of CSV as PostgreSQL writes it: an unquoted empty field is a null.
fn csv_rows(text: &str) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut in_quotes) = (false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (in_quotes, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => in_quotes = false,
            (true, c) => field.push(c),
            (false, '"') => (quoted, in_quotes) = (true, true),
            (false, ',' | '\n') => {
                let value = std::mem::take(&mut field);
                row.push(if value.is_empty() && !quoted { None } else { Some(value) });
                quoted = false;
                if c == '\n' {
                    rows.push(std::mem::take(&mut row));
                }
            }
            (false, c) => field.push(c),
        }
    }
    rows
}
