//! The file commands of the binary: inspect a file, convert it to Parquet, import it into
//! this instance.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use variosync_domain::Email;
use variosync_domain::time::Zone;
use variosync_engine::duplicates::DuplicatePolicy;
use variosync_formats::delimited::{self, ReadOptions};
use variosync_formats::dialect::{Delimiter, sniff};
use variosync_formats::encoding::decode;
use variosync_formats::mapping::{TimeSource, ValueKind};
use variosync_formats::table::Mode;
use variosync_store::Access;

use crate::settings::Settings;

/// How to read a file, as the command line says.
#[derive(Debug, Clone)]
pub struct FileOptions {
    /// Set bad rows aside instead of stopping at the first.
    pub lenient: bool,
    /// The zone of timestamps without an offset (`UTC`, `+02:00`, `Europe/Berlin`).
    pub zone: String,
    /// What to do with repeated series and times.
    pub duplicates: DuplicatePolicy,
}

fn read_options(path: &Path, options: &FileOptions) -> anyhow::Result<ReadOptions> {
    let zone: Zone = options.zone.parse().context("--tz")?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("series").to_owned();
    let mode = if options.lenient { Mode::Lenient } else { Mode::Strict };
    Ok(ReadOptions { mode, zone, default_series: stem, mapping: None })
}

fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A report of how a file would be read: encoding, dialect, columns, proposed mapping,
/// sample rows and problems.
pub fn inspect(path: &Path) -> anyhow::Result<String> {
    let bytes = read_file(path)?;
    let (text, encoding) = decode(&bytes);
    let sample: String = text.lines().take(1001).collect::<Vec<_>>().join("\n");
    let dialect = sniff(&sample).with_context(|| format!("{}", path.display()))?;
    let mut out = String::new();
    let delimiter = match dialect.delimiter {
        Delimiter::Char(b'\t') => "tab".to_owned(),
        Delimiter::Char(c) => format!("{:?}", char::from(c)),
        Delimiter::Whitespace => "spaces".to_owned(),
    };
    writeln!(out, "file:      {}", path.display())?;
    writeln!(out, "encoding:  {encoding:?}")?;
    writeln!(
        out,
        "delimiter: {delimiter}, header: {}, decimal: {:?}",
        dialect.has_header, dialect.decimal
    )?;
    let options = ReadOptions {
        mode: Mode::Lenient,
        zone: Zone::Utc,
        default_series: "series".into(),
        mapping: None,
    };
    let read = delimited::read(&bytes, &options).with_context(|| format!("{}", path.display()))?;
    let mapping = &read.mapping;
    match mapping.time {
        TimeSource::Column { index, format } => {
            writeln!(out, "time:      column {} ({format})", index + 1)?
        }
        TimeSource::DateAndTime { date, time, format } => writeln!(
            out,
            "time:      date column {} ({format}) + time column {}",
            date + 1,
            time + 1
        )?,
    }
    match mapping.series {
        Some(index) => writeln!(out, "series:    column {}", index + 1)?,
        None => writeln!(out, "series:    one series, named after the file")?,
    }
    for value in &mapping.values {
        let kind = match value.kind {
            ValueKind::Integer => "integer",
            ValueKind::Float => "number",
            ValueKind::Text => "text",
        };
        writeln!(out, "value:     column {} -> {} ({kind})", value.index + 1, value.name)?;
    }
    let rows: usize = read.batches.iter().map(|b| b.num_rows()).sum();
    writeln!(out, "rows:      {rows} readable, {} with problems", read.rejects.len())?;
    for warning in &mapping.warnings {
        writeln!(out, "warning:   {warning}")?;
    }
    for reject in read.rejects.iter().take(10) {
        writeln!(
            out,
            "problem:   line {}, column `{}`: {:?} is not {}",
            reject.line, reject.column, reject.value, reject.expected
        )?;
    }
    writeln!(out, "sample:")?;
    for line in text.lines().take(6) {
        writeln!(out, "  {}", line.chars().take(160).collect::<String>())?;
    }
    Ok(out)
}

/// Converts a file to one sorted zstd Parquet file; returns a one-line summary.
pub fn convert(input: &Path, output: &Path, options: &FileOptions) -> anyhow::Result<String> {
    let bytes = read_file(input)?;
    let converted = variosync_jobs::import::convert_delimited(
        &bytes,
        &read_options(input, options)?,
        options.duplicates,
    )
    .with_context(|| format!("{}", input.display()))?;
    // Written beside and renamed, so a failed write never leaves half a file at OUT.
    let partial = output.with_extension("parquet.partial");
    std::fs::write(&partial, &converted.parquet)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, output)
        .with_context(|| format!("cannot write {}", output.display()))?;
    Ok(format!(
        "{} rows, {} series, {} duplicates dropped, {} rows set aside -> {} ({} bytes)",
        converted.rows,
        converted.series.len(),
        converted.duplicates,
        converted.read.rejects.len(),
        output.display(),
        converted.parquet.len()
    ))
}

/// Imports a file into this instance as a dataset of the account with address `owner`.
pub async fn import(
    settings: &Settings,
    owner: &str,
    path: &Path,
    name: Option<&str>,
    options: &FileOptions,
) -> anyhow::Result<String> {
    let email = Email::parse(owner).context("--user")?;
    let bytes = read_file(path)?;
    let read = read_options(path, options)?;
    let backends = crate::startup::open_backends(settings).await?;
    let user =
        backends.users().find_by_email(Access::System, &email).await?.with_context(|| {
            format!("there is no account {email}; create it first (variosync admin create-user)")
        })?;
    let name = name.map_or_else(|| read.default_series.clone(), str::to_owned);
    let imported = variosync_jobs::import::import_delimited(
        &backends,
        user.id,
        &name,
        &bytes,
        &read,
        options.duplicates,
    )
    .await
    .with_context(|| format!("{}", path.display()))?;
    backends.close().await;
    Ok(format!(
        "imported {} as dataset {} \"{}\": {} rows, {} series, {} duplicates dropped, {} rows set aside",
        path.display(),
        imported.dataset.id,
        imported.dataset.name,
        imported.version.row_count,
        imported.version.series.len(),
        imported.duplicates,
        imported.rejects.len()
    ))
}
