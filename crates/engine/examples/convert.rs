//! Converts one file to a dataset's Parquet (with its overviews) the way an import does,
//! without the server, and prints how long each part took: for profiling the conversion
//! (`perf record -g`) without building the whole product.
//!
//! Usage: `cargo run --release -p variosync-engine --example convert -- INPUT OUTPUT.parquet`

use std::time::Instant;

use variosync_domain::time::Zone;
use variosync_engine::convert::convert;
use variosync_engine::duplicates::DuplicatePolicy;
use variosync_formats::delimited::ReadOptions;
use variosync_formats::mapping::Override;
use variosync_formats::source::{Input, open_input};
use variosync_formats::table::Mode;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        return Err("usage: convert INPUT OUTPUT.parquet".into());
    };
    let output = std::path::PathBuf::from(output);
    let scratch = tempfile::tempdir()?;
    let options = ReadOptions {
        mode: Mode::Strict,
        zone: Zone::Utc,
        default_series: "input".to_owned(),
        mapping: Override::default(),
    };
    let started = Instant::now();
    let (source, detected) = open_input(Input::Path(input.into()), &options)?;
    let schema = source.schema();
    let converted = convert(source, schema, &output, scratch.path(), DuplicatePolicy::Guarded)?;
    eprintln!(
        "{} ({}): {} rows in {} series, {:.2} s, split by series: {}, merged: {}",
        output.display(),
        detected.format,
        converted.profile.rows,
        converted.profile.series.len(),
        started.elapsed().as_secs_f64(),
        converted.split_by_series,
        converted.sorted_by_merge,
    );
    Ok(())
}
