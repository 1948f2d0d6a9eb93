//! The common downloads, read as a person would drop them in: encoding, dialect and the
//! proposed mapping all come out right.

use variosync_domain::time::{TimeFormat, Zone, parse_date_and_time};
use variosync_formats::dialect::{Delimiter, sniff, split_line};
use variosync_formats::encoding::decode;
use variosync_formats::mapping::{Proposal, TimeSource, ValueKind, propose};

fn read(name: &str) -> (Vec<String>, Vec<Vec<String>>, Proposal) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let bytes = std::fs::read(path).unwrap();
    let (text, _) = decode(&bytes);
    let dialect = sniff(&text).unwrap();
    assert_eq!(dialect.delimiter, Delimiter::Char(b','), "{name}");
    assert!(dialect.has_header, "{name}");
    let mut lines = text.lines().map(|line| split_line(line, dialect.delimiter));
    let names = lines.next().unwrap();
    let rows: Vec<Vec<String>> = lines.collect();
    let proposal = propose(&names, &rows).unwrap();
    (names, rows, proposal)
}

fn value_names(proposal: &Proposal) -> Vec<&str> {
    proposal.values.iter().map(|v| v.name.as_str()).collect()
}

#[test]
fn a_long_table_of_six_stocks_reads_with_its_symbol_column() {
    let (_, _, proposal) = read("stocks_daily_head.csv");
    assert_eq!(proposal.series, [0]);
    assert_eq!(proposal.time, TimeSource::Column { index: 1, format: TimeFormat::Iso });
    assert_eq!(value_names(&proposal), ["open", "high", "low", "close", "volume", "adj_close"]);
    assert_eq!(proposal.values[4].kind, ValueKind::Integer);
}

#[test]
fn a_yahoo_download_reads_as_one_ohlcv_series() {
    let (_, _, proposal) = read("yahoo_aapl_head.csv");
    assert!(proposal.series.is_empty());
    assert_eq!(value_names(&proposal), ["open", "high", "low", "close", "adj_close", "volume"]);
}

#[test]
fn a_stooq_download_reads_its_separate_date_and_time_columns() {
    let (_, rows, proposal) = read("stooq_nflx_head.txt");
    assert_eq!(proposal.series, [0]);
    let TimeSource::DateAndTime { date, time, format } = proposal.time else {
        panic!("expected separate date and time columns, got {:?}", proposal.time);
    };
    assert_eq!((date, time, format), (2, 3, TimeFormat::Compact));
    let first = parse_date_and_time(&rows[0][date], &rows[0][time], format, &Zone::Utc).unwrap();
    assert_eq!(first.to_rfc3339(), "2022-07-14T00:00:00+00:00");
    assert_eq!(
        value_names(&proposal),
        ["PER", "open", "high", "low", "close", "volume", "open_interest"]
    );
    assert_eq!(proposal.values[0].kind, ValueKind::Text);
}

#[test]
fn m4_and_airline_data_read_with_their_ids_and_unnamed_months() {
    let (_, _, m4) = read("m4_hourly_head.csv");
    assert_eq!(m4.series, [0]);
    assert_eq!(m4.time, TimeSource::Column { index: 1, format: TimeFormat::Iso });
    assert_eq!(value_names(&m4), ["value"]);
    let (_, _, air) = read("air_passengers.csv");
    assert_eq!(air.time, TimeSource::Column { index: 0, format: TimeFormat::Iso });
    assert_eq!(value_names(&air), ["passengers"]);
}

#[test]
fn every_fixture_reads_whole_into_the_canonical_table_in_strict_mode() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, TimestampMicrosecondType};
    use variosync_formats::table::{Mode, TableBuilder};

    for (name, series, first_ts) in [
        ("stocks_daily_head.csv", "META", "2013-01-02T00:00:00+00:00"),
        ("yahoo_aapl_head.csv", "yahoo_aapl_head", "2021-09-27T00:00:00+00:00"),
        ("stooq_nflx_head.txt", "NFLX.US", "2022-07-14T00:00:00+00:00"),
        ("m4_hourly_head.csv", "H10", "2015-07-01T12:00:00+00:00"),
        ("air_passengers.csv", "air_passengers", "1949-01-01T00:00:00+00:00"),
    ] {
        let (names, rows, proposal) = read(name);
        let stem = name.split('.').next().unwrap();
        let mut builder = TableBuilder::new(&proposal, &names, Zone::Utc, Mode::Strict, stem);
        for (i, row) in rows.iter().enumerate() {
            builder.push(i + 2, row).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let batch = builder.finish().unwrap();
        assert_eq!(batch.num_rows(), rows.len(), "{name}");
        let keys = batch.column(0).as_dictionary::<Int32Type>();
        let label = keys.values().as_string::<i32>().value(keys.keys().value(0) as usize);
        assert_eq!(label, series, "{name}");
        let ts = batch.column(1).as_primitive::<TimestampMicrosecondType>().value(0);
        let first = chrono::DateTime::from_timestamp_micros(ts).unwrap().to_rfc3339();
        assert_eq!(first, first_ts, "{name}");
    }
}

#[test]
fn a_download_converts_to_sorted_parquet_and_reads_back_with_its_values() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use variosync_formats::delimited::{ReadOptions, read as read_delimited};
    use variosync_formats::parquet_out::{sort_by_series_and_time, write_sorted};
    use variosync_formats::table::Mode;

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stocks_daily_head.csv");
    let bytes = std::fs::read(path).unwrap();
    let options = ReadOptions {
        mode: Mode::Strict,
        zone: Zone::Utc,
        default_series: "stocks".into(),
        mapping: Default::default(),
    };
    let read = read_delimited(&bytes, &options).unwrap();
    assert!(read.rejects.is_empty());
    let sorted: Vec<_> = read.batches.iter().map(|b| sort_by_series_and_time(b).unwrap()).collect();
    let mut file = Vec::new();
    let rows = write_sorted(sorted.clone(), sorted[0].schema(), &mut file).unwrap();
    assert_eq!(rows, 39);
    let back: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file))
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(back, sorted);
    // The first close of the source file, found again.
    let close = back[0].column(5).as_primitive::<Float64Type>();
    assert_eq!(close.value(0), 28.0);
}
