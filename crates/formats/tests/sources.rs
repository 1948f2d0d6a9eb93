//! Opening files by content: JSON in every supported shape, compressed files, and the
//! errors bad input gets.

use std::io::Write;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type};
use arrow_array::{Array, RecordBatch};
use variosync_domain::time::Zone;
use variosync_formats::delimited::{ReadError, ReadOptions};
use variosync_formats::source::{Compression, Source, open};
use variosync_formats::table::Mode;

fn options(mode: Mode) -> ReadOptions {
    ReadOptions {
        mode,
        zone: Zone::Utc,
        default_series: "file".into(),
        mapping: Default::default(),
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = if name.ends_with(".json") {
        root.join("../../testdata").join(name)
    } else {
        root.join("tests/fixtures").join(name)
    };
    std::fs::read(path).unwrap()
}

fn read(bytes: Vec<u8>, mode: Mode) -> Result<(Source, Vec<RecordBatch>), ReadError> {
    let (mut source, _) = open(Box::new(std::io::Cursor::new(bytes)), &options(mode))?;
    let mut batches = Vec::new();
    for batch in &mut source {
        batches.push(batch?);
    }
    Ok((source, batches))
}

fn value_names(source: &Source) -> Vec<String> {
    source.mapping().values.iter().map(|v| v.name.clone()).collect()
}

/// (series, column values) of every row, for one column.
fn column(batches: &[RecordBatch], name: &str) -> Vec<(String, Option<f64>)> {
    let mut out = Vec::new();
    for batch in batches {
        let series = batch.column(0).as_dictionary::<Int32Type>();
        let names = series.values().as_string::<i32>();
        let values = batch.column_by_name(name).unwrap().as_primitive::<Float64Type>();
        for row in 0..batch.num_rows() {
            let s = names.value(series.keys().value(row) as usize).to_owned();
            out.push((s, values.is_valid(row).then(|| values.value(row))));
        }
    }
    out
}

#[test]
fn the_original_products_record_shape_reads_its_measurements_as_columns() {
    let (source, batches) = read(fixture("original_sample_data.json"), Mode::Strict).unwrap();
    let names = value_names(&source);
    for expected in ["open", "high", "low", "close", "volume", "temperature", "humidity"] {
        assert!(names.contains(&expected.to_owned()), "{expected} in {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("metadata") || n == "format"), "{names:?}");
    let closes = column(&batches, "close");
    assert_eq!(closes.len(), 3);
    assert!(closes.contains(&("AAPL".to_owned(), Some(185.85))));
    assert!(closes.contains(&("WEATHER-STATION-001".to_owned(), None)), "no close for the weather");
}

#[test]
fn flat_ohlcv_records_with_a_ticker_read_as_series() {
    let (source, batches) = read(fixture("original_financial_sample.json"), Mode::Strict).unwrap();
    assert_eq!(value_names(&source), ["open", "high", "low", "close", "volume", "format"]);
    let closes = column(&batches, "close");
    assert_eq!(closes, [("AAPL".to_owned(), Some(185.85)), ("GOOGL".to_owned(), Some(142.95))]);
}

#[test]
fn json_lines_objects_of_columns_and_wrapped_records_all_read() {
    let lines = "{\"t\":\"2024-01-01\",\"x\":1.5}\n\n{\"t\":\"2024-01-02\",\"x\":2.5}\n";
    let columns = r#"{"t": ["2024-01-01", "2024-01-02"], "x": [1.5, 2.5]}"#;
    let wrapped = r#"{"meta": {"source": "x"}, "data": [{"t": "2024-01-01", "x": 1.5}, {"t": "2024-01-02", "x": 2.5}]}"#;
    for text in [lines, columns, wrapped] {
        let (_, batches) = read(text.as_bytes().to_vec(), Mode::Strict).unwrap();
        let values: Vec<Option<f64>> = column(&batches, "x").into_iter().map(|(_, v)| v).collect();
        assert_eq!(values, [Some(1.5), Some(2.5)], "{text}");
    }
}

#[test]
fn bad_json_names_its_line_and_lenient_mode_sets_bad_records_aside() {
    let text = "[\n{\"t\":\"2024-01-01\",\"v\":1},\n{\"t\":\"2024-01-02\",\"v\":oops},\n{\"t\":\"2024-01-03\",\"v\":3}\n]";
    let error = read(text.as_bytes().to_vec(), Mode::Strict).unwrap_err().to_string();
    assert!(error.starts_with("line 3: expected value"), "{error}");
    let (mut source, batches) = read(text.as_bytes().to_vec(), Mode::Lenient).unwrap();
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
    let rejects = source.drain_rejects();
    assert_eq!((rejects.len(), rejects[0].line), (1, 3));

    let truncated = "[{\"t\":\"2024-01-01\",\"v\":1},\n{\"t\":\"2024-01-02\",";
    let error = read(truncated.as_bytes().to_vec(), Mode::Lenient).unwrap_err().to_string();
    assert!(error.contains("truncated"), "{error}");
    let columns = r#"{"t": ["2024-01-01"], "v": [1, 2]}"#;
    let error = read(columns.as_bytes().to_vec(), Mode::Strict).unwrap_err().to_string();
    assert!(error.contains("column \"v\" has 2 values"), "{error}");
    let numbers = "[1, 2, 3]";
    let error = read(numbers.as_bytes().to_vec(), Mode::Strict).unwrap_err().to_string();
    assert!(error.contains("expected a record (an object), found a number"), "{error}");
}

fn compressed(kind: Compression, bytes: &[u8]) -> Vec<u8> {
    match kind {
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(bytes).unwrap();
            encoder.finish().unwrap()
        }
        Compression::Bzip2 => {
            let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            encoder.write_all(bytes).unwrap();
            encoder.finish().unwrap()
        }
        Compression::Zstd => zstd::encode_all(bytes, 1).unwrap(),
        Compression::Zip => {
            let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            archive.add_directory("data/", options).unwrap();
            archive.start_file("data/prices.csv", options).unwrap();
            archive.write_all(bytes).unwrap();
            archive.finish().unwrap().into_inner()
        }
    }
}

#[test]
fn compressed_files_read_like_the_file_inside() {
    let csv = fixture("stocks_daily_head.csv");
    let (_, plain) = read(csv.clone(), Mode::Strict).unwrap();
    let expected = column(&plain, "close");
    for kind in [Compression::Gzip, Compression::Bzip2, Compression::Zstd, Compression::Zip] {
        let bytes = compressed(kind, &csv);
        let (_, detected) =
            open(Box::new(std::io::Cursor::new(bytes.clone())), &options(Mode::Strict)).unwrap();
        assert_eq!(detected.compression, Some(kind));
        let (_, batches) = read(bytes, Mode::Strict).unwrap();
        assert_eq!(column(&batches, "close"), expected, "{kind:?}");
    }
    let json = compressed(Compression::Gzip, &fixture("original_financial_sample.json"));
    let (_, detected) = open(Box::new(std::io::Cursor::new(json)), &options(Mode::Strict)).unwrap();
    assert_eq!((detected.compression, detected.format), (Some(Compression::Gzip), "json"));
}

#[test]
fn a_large_zipped_file_streams_whole() {
    let mut csv = String::from("date,value\n");
    let start = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
    for day in 0..600_000u64 {
        let date = start + chrono::Days::new(day);
        csv.push_str(&format!("{date},{day}.25\n"));
    }
    assert!(csv.len() > 8 * 1024 * 1024, "many chunks of the unzipping thread");
    let (_, batches) = read(compressed(Compression::Zip, csv.as_bytes()), Mode::Strict).unwrap();
    let values = column(&batches, "value");
    assert_eq!(values.len(), 600_000);
    assert_eq!(values[599_999].1, Some(599_999.25));
    let error = read(b"PK\x03\x04broken".to_vec(), Mode::Strict).unwrap_err().to_string();
    assert!(error.contains("zip archive cannot be read"), "{error}");
}

#[test]
fn a_decompression_bomb_is_stopped_with_a_clear_error() {
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    encoder.write_all(b"date,value\n").unwrap();
    let line = b"2024-01-01,1\n".repeat(8192);
    for _ in 0..1024 {
        encoder.write_all(&line).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 200_000, "{} bytes expand to over 100 MB", bomb.len());
    let error = read(bomb, Mode::Strict).unwrap_err().to_string();
    assert!(error.contains("decompression bomb"), "{error}");

    let twice = compressed(Compression::Gzip, &compressed(Compression::Gzip, b"a,b\n"));
    let error = read(twice, Mode::Strict).unwrap_err().to_string();
    assert!(error.contains("compressed twice"), "{error}");
    let parquet = b"PAR1\x00\x00\x00".to_vec();
    assert!(matches!(read(parquet, Mode::Strict), Err(ReadError::Unsupported(_))));
}

#[test]
fn influx_line_protocol_reads_series_from_measurement_and_tags() {
    let text = "# exported\ncpu,host=a usage=0.5,procs=12i 1700000000000000000\ncpu,host=b usage=0.7,procs=9i 1700000000000000000\ncpu,host=a usage=0.6,procs=13i 1700000060000000000\n";
    let (mut source, batches) = read(text.as_bytes().to_vec(), Mode::Strict).unwrap();
    assert_eq!(value_names(&source), ["usage", "procs"]);
    let usage = column(&batches, "usage");
    assert_eq!(usage.len(), 3);
    assert!(usage.contains(&("cpu,host=b".to_owned(), Some(0.7))));
    let ts = batches[0].column(1).as_primitive::<arrow_array::types::TimestampMicrosecondType>();
    assert_eq!(ts.value(0), 1_700_000_000_000_000, "nanoseconds to microseconds");
    assert!(source.drain_rejects().is_empty());
    let bad = "cpu v=1 1700000000000000000\ncpu v=oops 1700000000000000001\ncpu v=3 1700000000000000002\n";
    let error = read(bad.as_bytes().to_vec(), Mode::Strict).unwrap_err().to_string();
    assert!(error.starts_with("line 2:"), "{error}");
    let (mut lenient, batches) = read(bad.as_bytes().to_vec(), Mode::Lenient).unwrap();
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
    assert_eq!(lenient.drain_rejects()[0].line, 2);
}

/// A table with a `Date32` day, a text ticker and a float price, as Arrow.
fn typed_batch() -> RecordBatch {
    use arrow_array::{Date32Array, Float64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let schema = Schema::new(vec![
        Field::new("day", DataType::Date32, false),
        Field::new("ticker", DataType::Utf8, false),
        Field::new("price", DataType::Float64, true),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Date32Array::from(vec![19723, 19723, 19724])),
            Arc::new(StringArray::from(vec!["AAA", "BBB", "AAA"])),
            Arc::new(Float64Array::from(vec![Some(1.5), None, Some(2.5)])),
        ],
    )
    .unwrap()
}

#[test]
fn parquet_and_arrow_files_and_streams_read_through_the_same_mapping() {
    use variosync_formats::source::{Input, open_input};
    let batch = typed_batch();
    let directory = tempfile::tempdir().unwrap();
    let parquet = directory.path().join("t.parquet");
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&parquet).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let feather = directory.path().join("t.arrow");
    let mut writer = arrow_ipc::writer::FileWriter::try_new(
        std::fs::File::create(&feather).unwrap(),
        &batch.schema(),
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    let mut stream = Vec::new();
    let mut writer =
        arrow_ipc::writer::StreamWriter::try_new(&mut stream, &batch.schema()).unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    drop(writer);

    let inputs = [
        (Input::Path(parquet), "parquet"),
        (Input::Path(feather), "arrow"),
        (Input::Stream(Box::new(std::io::Cursor::new(stream))), "arrow"),
    ];
    for (input, format) in inputs {
        let (mut source, detected) = open_input(input, &options(Mode::Strict)).unwrap();
        assert_eq!(detected.format, format);
        assert_eq!(
            value_names(&source),
            ["close"],
            "price is the close, day the time, ticker the series"
        );
        let batches: Vec<RecordBatch> = source.by_ref().map(Result::unwrap).collect();
        assert_eq!(
            column(&batches, "close"),
            [
                ("AAA".to_owned(), Some(1.5)),
                ("BBB".to_owned(), None),
                ("AAA".to_owned(), Some(2.5))
            ]
        );
        let ts =
            batches[0].column(1).as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        assert_eq!(ts.value(0), 19723 * 86_400_000_000, "{format}");
    }
}

/// The times of every row, in microseconds since the epoch.
fn times(batches: &[RecordBatch]) -> Vec<i64> {
    let mut out = Vec::new();
    for batch in batches {
        let ts = batch.column(1).as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        out.extend(ts.values().iter().copied());
    }
    out
}

/// One column of every row as text.
fn texts(batches: &[RecordBatch], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for batch in batches {
        let column = batch.column_by_name(name).unwrap();
        for row in 0..batch.num_rows() {
            out.push(arrow_cast::display::array_value_to_string(column, row).unwrap());
        }
    }
    out
}

fn with_sheet(sheet: &str) -> ReadOptions {
    let mut options = options(Mode::Strict);
    options.mapping.sheet = Some(sheet.to_owned());
    options
}

fn read_with(bytes: Vec<u8>, options: &ReadOptions) -> Result<Vec<RecordBatch>, ReadError> {
    let (source, _) = open(Box::new(std::io::Cursor::new(bytes)), options)?;
    source.collect()
}

#[test]
fn workbooks_and_avro_read_like_the_same_table_as_csv() {
    let (_, csv) = read(fixture("stocks_daily_head.csv"), Mode::Strict).unwrap();
    let expected_close = column(&csv, "close");
    let expected_adjusted = column(&csv, "adj_close");
    assert_eq!(expected_close.len(), 39);
    for (name, format) in [
        ("stocks.xlsx", "excel"),
        ("stocks.xls", "excel"),
        ("stocks.ods", "excel"),
        ("stocks.avro", "avro"),
    ] {
        let bytes = fixture(name);
        let (source, detected) =
            open(Box::new(std::io::Cursor::new(bytes.clone())), &options(Mode::Strict)).unwrap();
        assert_eq!((detected.format, detected.compression), (format, None), "{name}");
        assert_eq!(
            value_names(&source),
            ["open", "high", "low", "close", "volume", "adj_close"],
            "{name}"
        );
        let batches: Vec<RecordBatch> = source.map(Result::unwrap).collect();
        // Spreadsheets keep 15 significant digits, as Excel does.
        let close = column(&batches, "close");
        assert_eq!(close.len(), expected_close.len(), "{name}");
        for (got, expected) in close
            .iter()
            .zip(&expected_close)
            .chain(column(&batches, "adj_close").iter().zip(&expected_adjusted))
        {
            assert_eq!(got.0, expected.0, "{name}");
            let (got, expected) = (got.1.unwrap(), expected.1.unwrap());
            assert!((got - expected).abs() <= expected.abs() * 1e-14, "{name}: {got} {expected}");
        }
        assert_eq!(texts(&batches, "volume"), texts(&csv, "volume"), "{name}");
        assert_eq!(times(&batches), times(&csv), "{name}: dates as UTC midnights");
    }
    // Avro inside gzip is still Avro.
    let (_, detected) = open(
        Box::new(std::io::Cursor::new(compressed(Compression::Gzip, &fixture("stocks.avro")))),
        &options(Mode::Strict),
    )
    .unwrap();
    assert_eq!((detected.format, detected.compression), ("avro", Some(Compression::Gzip)));
}

#[test]
fn a_workbook_skips_titles_above_the_table_and_reads_a_chosen_sheet() {
    let (source, _) =
        open(Box::new(std::io::Cursor::new(fixture("stocks.xlsx"))), &options(Mode::Strict))
            .unwrap();
    let warnings = source.warnings().join("\n");
    assert!(
        warnings.contains("row 1 of sheet \"prices\", above the table, was skipped"),
        "{warnings}"
    );
    assert!(warnings.contains("other sheets: hourly, bad"), "{warnings}");

    // The second sheet has no header row: its first row is data.
    for sheet in ["hourly", "2"] {
        let batches = read_with(fixture("stocks.xlsx"), &with_sheet(sheet)).unwrap();
        let times = times(&batches);
        assert_eq!(times.len(), 24, "{sheet}");
        let start = 1_709_285_400_000_000; // 2024-03-01T09:30:00Z
        assert_eq!(times[0], start);
        assert_eq!(times[23] - times[0], 23 * 3_600_000_000, "hourly times keep their minutes");
        let values = column(&batches, "column_2");
        assert_eq!(values[1].1, Some(100.5));
    }
    // A naive spreadsheet time is read in the zone the person gives.
    let mut zoned = with_sheet("hourly");
    zoned.zone = "Europe/Oslo".parse().unwrap();
    let batches = read_with(fixture("stocks.xlsx"), &zoned).unwrap();
    assert_eq!(times(&batches)[0], 1_709_285_400_000_000 - 3_600_000_000);

    let error = read_with(fixture("stocks.xlsx"), &with_sheet("summary")).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("no sheet \"summary\"; its sheets: prices, hourly, bad"), "{message}");
    // A bad cell is named by its row in the sheet.
    let error = read_with(fixture("stocks.xlsx"), &with_sheet("bad")).unwrap_err().to_string();
    assert!(error.contains("line 3") && error.contains("not a date"), "{error}");
    let mut lenient = with_sheet("bad");
    lenient.mode = Mode::Lenient;
    let (mut source, _) =
        open(Box::new(std::io::Cursor::new(fixture("stocks.xlsx"))), &lenient).unwrap();
    let rows: usize = source.by_ref().map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 1);
    assert_eq!(source.drain_rejects()[0].line, 3);
}

#[test]
fn damaged_workbooks_and_avro_files_get_clear_errors() {
    let mut xlsx = fixture("stocks.xlsx");
    xlsx.truncate(xlsx.len() / 2);
    let error = read(xlsx, Mode::Strict).unwrap_err();
    assert!(matches!(error, ReadError::Unsupported(_)), "{error}");
    assert!(error.to_string().contains("workbook"), "{error}");
    for cut in [5, 20, 100] {
        let mut avro = fixture("stocks.avro");
        avro.truncate(avro.len() - cut);
        let error = read(avro, Mode::Strict).unwrap_err().to_string();
        assert!(error.contains("truncated"), "{cut}: {error}");
    }
    let error = read(b"Obj\x01garbage".to_vec(), Mode::Strict).unwrap_err().to_string();
    assert!(error.contains("Avro"), "{error}");
    // An `.xls` whose sector is cut short makes the workbook library panic; found by fuzzing.
    let regression = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/workbook-short-sector.xls");
    let error = read(std::fs::read(regression).unwrap(), Mode::Strict).unwrap_err().to_string();
    assert!(error.contains("the workbook is damaged"), "{error}");
}
