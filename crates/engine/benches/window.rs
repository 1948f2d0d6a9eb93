//! Chart windows over one series of 10 million rows (minute OHLCV bars, about 19 years):
//! the whole range and a 1% zoom in 2,000 points, and candles. The file is generated once
//! under the system's temporary folder (`VARIOSYNC_BENCH_DIR` to choose another).
//!
//! `cargo bench -p variosync-engine --bench window`

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow_schema::DataType;
use criterion::{Criterion, criterion_group, criterion_main};
use variosync_domain::schema::{TS_ZONE, canonical_schema};
use variosync_engine::overview::{LEVELS, OverviewWriter, path_for};
use variosync_engine::window::{Part, candles, window};

const ROWS: usize = 10_000_000;
const BATCH: usize = 65_536;
const MINUTE: i64 = 60_000_000;

fn dataset() -> PathBuf {
    let folder = std::env::var_os("VARIOSYNC_BENCH_DIR")
        .map_or_else(|| std::env::temp_dir().join("variosync-bench"), PathBuf::from);
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("window-10m.parquet");
    let overviews = LEVELS.map(|size| path_for(&path, size));
    if path.exists() && overviews.iter().all(|p| p.exists()) {
        return path;
    }
    let schema = canonical_schema(
        ["open", "high", "low", "close"]
            .map(|name| (name.to_owned(), DataType::Float64))
            .into_iter()
            .chain([("volume".to_owned(), DataType::Int64)]),
    );
    // A deterministic random walk.
    let mut state = 7u64;
    let mut price = 100.0f64;
    let mut next = move || {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let batches = (0..ROWS).step_by(BATCH).map(|start| {
        let rows = BATCH.min(ROWS - start);
        let mut series = StringDictionaryBuilder::<Int32Type>::new();
        let (mut open, mut high, mut low, mut close, mut volume) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rows {
            series.append_value("SYM");
            let first = price;
            price *= 1.0 + (next() - 0.5) * 0.002;
            open.push(first);
            close.push(price);
            high.push(first.max(price) * (1.0 + next() * 0.001));
            low.push(first.min(price) * (1.0 - next() * 0.001));
            volume.push((next() * 10_000.0) as i64);
        }
        let ts: TimestampMicrosecondArray =
            (start..start + rows).map(|i| i as i64 * MINUTE).collect::<Vec<_>>().into();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(series.finish()),
            Arc::new(ts.with_timezone(TS_ZONE)),
            Arc::new(Float64Array::from(open)),
            Arc::new(Float64Array::from(high)),
            Arc::new(Float64Array::from(low)),
            Arc::new(Float64Array::from(close)),
            Arc::new(Int64Array::from(volume)),
        ];
        RecordBatch::try_new(schema.clone(), columns).unwrap()
    });
    let partial = path.with_extension("partial");
    let file = std::fs::File::create(&partial).unwrap();
    let mut overview = OverviewWriter::create(&path, &schema).unwrap();
    let batches = batches.inspect(|batch| overview.add(batch).unwrap());
    variosync_formats::parquet_out::write_sorted(batches, schema.clone(), file).unwrap();
    overview.finish().unwrap();
    std::fs::rename(&partial, &path).unwrap();
    path
}

fn bench(c: &mut Criterion) {
    let part = Part::open(&dataset()).unwrap();
    let close = ["close".to_owned()];
    let end = ROWS as i64 * MINUTE;
    let mut group = c.benchmark_group("window of 10M rows");
    group.sample_size(20);
    group.bench_function("whole range, 2000 points", |b| {
        b.iter(|| window(&part, "SYM", &close, 0, end, 2000).unwrap())
    });
    group.bench_function("10% zoom, 2000 points", |b| {
        b.iter(|| window(&part, "SYM", &close, end / 2, end / 2 + end / 10, 2000).unwrap())
    });
    group.bench_function("1% zoom, 2000 points", |b| {
        b.iter(|| window(&part, "SYM", &close, end / 2, end / 2 + end / 100, 2000).unwrap())
    });
    let day = 24 * 60 * MINUTE;
    group.bench_function("one day (1440 rows), 2000 points", |b| {
        b.iter(|| window(&part, "SYM", &close, end / 2, end / 2 + day, 2000).unwrap())
    });
    let ohlcv = ["open", "high", "low", "close", "volume"].map(str::to_owned);
    group.bench_function("one day, five columns", |b| {
        b.iter(|| window(&part, "SYM", &ohlcv, end / 2, end / 2 + day, 2000).unwrap())
    });
    group.bench_function("whole range, 2000 candles", |b| {
        b.iter(|| candles(&part, "SYM", 0, end, 2000).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
