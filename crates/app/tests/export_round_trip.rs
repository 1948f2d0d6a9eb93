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
    let directory = tempfile::tempdir().unwrap();
    for sample in samples() {
        let name = sample.file_name().unwrap().to_str().unwrap().to_owned();
        let canonical = directory.path().join(format!("{name}.parquet"));
        let original = import(&sample, &canonical, Zone::Utc);
        let exported = directory.path().join(options.file_name(&format!("{name}-export")));
        export_to(&canonical, &exported, options);
        let back = import(&exported, &directory.path().join(format!("{name}.back.parquet")), zone);
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
