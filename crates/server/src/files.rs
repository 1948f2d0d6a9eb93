//! The file commands of the binary: inspect a file, convert it to Parquet, import it into
//! this instance.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use variosync_domain::Email;
use variosync_domain::time::Zone;
use variosync_engine::duplicates::DuplicatePolicy;
use variosync_formats::delimited::ReadOptions;
use variosync_formats::dialect::Delimiter;
use variosync_formats::mapping::{TimeSource, ValueKind};
use variosync_formats::source::{self, Input, Source};
use variosync_formats::table::Mode;
use variosync_store::Access;

use crate::settings::Settings;

pub use variosync_app::exports::{ExportChoices, ExportOptions};
use variosync_formats::export::{Format, Packing};

/// The export options for writing `output` as `choices` say, its extension naming the
/// format and compression unless a choice does.
pub fn export_options(output: &Path, choices: &ExportChoices) -> anyhow::Result<ExportOptions> {
    let by_extension = variosync_formats::export::format_for_path(output);
    if by_extension.is_none() && choices.format.is_none() {
        anyhow::bail!(
            "{}: the output's extension names no format: end it in .csv, .tsv, .json, .jsonl, \
             .parquet, .arrow, .arrows, .feather, .avro, .xlsx, .lp, .om or .sql (optionally \
             .gz or .zst, or .zip for a file per series), or give --format",
            output.display()
        );
    }
    let mut options = choices.options(by_extension)?;
    if options.table.is_none() {
        let stem = output.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let stem = stem.split('.').next().unwrap_or_default();
        options.table = Some(variosync_app::exports::table_name(stem));
    }
    Ok(options)
}

/// Writes the canonical Parquet file `canonical` to `output` as `options` say; a failure
/// leaves no partial output.
fn write_export(canonical: &Path, output: &Path, options: &ExportOptions) -> anyhow::Result<()> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(canonical)?)?;
    let schema = builder.schema().clone();
    let partial = output.with_file_name(format!(
        ".{}.partial",
        output.file_name().and_then(|n| n.to_str()).unwrap_or("export")
    ));
    let written = (|| -> anyhow::Result<()> {
        let mut writer =
            variosync_formats::export::writer(std::fs::File::create(&partial)?, schema, options)?;
        for batch in builder.with_batch_size(64 * 1024).build()? {
            writer.write(&batch?)?;
        }
        writer.finish()?;
        std::fs::rename(&partial, output)?;
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// How to read a file, as the command line says.
#[derive(Debug, Clone)]
pub struct FileOptions {
    /// Set bad rows aside instead of stopping at the first.
    pub lenient: bool,
    /// The zone of timestamps without an offset (`UTC`, `+02:00`, `Europe/Berlin`).
    pub zone: String,
    /// What to do with repeated series and times.
    pub duplicates: DuplicatePolicy,
    /// Choices over the detected mapping.
    pub mapping: variosync_formats::mapping::Override,
}

fn read_options(path: &Path, options: &FileOptions) -> anyhow::Result<ReadOptions> {
    let zone: Zone = options.zone.parse().context("--tz")?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("series").to_owned();
    let mode = if options.lenient { Mode::Lenient } else { Mode::Strict };
    Ok(ReadOptions { mode, zone, default_series: stem, mapping: options.mapping.clone() })
}

fn open_file(path: &Path) -> anyhow::Result<Input> {
    std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Input::Path(path.to_owned()))
}

/// A report of how a file would be read: encoding, dialect, columns, proposed mapping,
/// sample rows and problems.
pub fn inspect(
    path: &Path,
    mapping: &variosync_formats::mapping::Override,
) -> anyhow::Result<String> {
    let options = ReadOptions {
        mode: Mode::Lenient,
        zone: Zone::Utc,
        default_series: "series".into(),
        mapping: mapping.clone(),
    };
    let context = || format!("{}", path.display());
    let (mut reader, detected) =
        source::open_input(open_file(path)?, &options).with_context(context)?;
    let mut out = String::new();
    writeln!(out, "file:      {}", path.display())?;
    match detected.compression {
        Some(compression) => {
            writeln!(out, "format:    {} inside {compression:?}", detected.format)?
        }
        None => writeln!(out, "format:    {}", detected.format)?,
    }
    match &reader {
        Source::Delimited(delimited) => {
            let dialect = delimited.dialect();
            let delimiter = match dialect.delimiter {
                Delimiter::Char(b'\t') => "tab".to_owned(),
                Delimiter::Char(c) => format!("{:?}", char::from(c)),
                Delimiter::Whitespace => "spaces".to_owned(),
            };
            writeln!(out, "encoding:  {:?}", delimited.encoding())?;
            writeln!(
                out,
                "delimiter: {delimiter}, header: {}, decimal: {:?}",
                dialect.has_header, dialect.decimal
            )?;
        }
        Source::Json(json) => writeln!(out, "layout:    {:?}", json.shape())?,
        Source::Columnar(columnar) => writeln!(out, "layout:    {:?}", columnar.format())?,
    }
    writeln!(out, "columns:   {}", reader.names().join(", "))?;
    let mapping = reader.mapping().clone();
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
    match mapping.series.as_slice() {
        [] if mapping.layout == variosync_formats::mapping::Layout::Wide => {
            writeln!(out, "series:    one per value column (wide layout)")?
        }
        [] => writeln!(out, "series:    one series, named after the file")?,
        columns => {
            let columns: Vec<String> = columns.iter().map(|i| (i + 1).to_string()).collect();
            writeln!(out, "series:    column {}", columns.join(" + "))?
        }
    }
    for note in &mapping.notes {
        writeln!(out, "why:       {note}")?;
    }
    for value in &mapping.values {
        let kind = match value.kind {
            ValueKind::Integer => "integer",
            ValueKind::Float => "number",
            ValueKind::Text => "text",
        };
        writeln!(out, "value:     column {} -> {} ({kind})", value.index + 1, value.name)?;
    }
    let sample: Vec<String> = reader.sample().iter().take(5).cloned().collect();
    let (mut rows, mut problems, mut shown) = (0usize, 0usize, Vec::new());
    while let Some(batch) = reader.next() {
        rows += batch.with_context(context)?.num_rows();
        for reject in reader.drain_rejects() {
            problems += 1;
            if shown.len() < 10 {
                shown.push(reject);
            }
        }
    }
    writeln!(out, "rows:      {rows} readable, {problems} with problems")?;
    for warning in reader.warnings() {
        writeln!(out, "warning:   {warning}")?;
    }
    for reject in shown {
        writeln!(
            out,
            "problem:   line {}, column `{}`: {:?} is not {}",
            reject.line, reject.column, reject.value, reject.expected
        )?;
    }
    writeln!(out, "sample:")?;
    for line in sample {
        writeln!(out, "  {}", line.chars().take(160).collect::<String>())?;
    }
    Ok(out)
}

/// Converts a file to one sorted zstd Parquet file; returns a one-line summary.
pub fn convert(
    input: &Path,
    output: &Path,
    options: &FileOptions,
    export: &ExportOptions,
) -> anyhow::Result<String> {
    let size = std::fs::metadata(input).map(|m| m.len()).unwrap_or_default();
    let bar = indicatif::ProgressBar::new(size).with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {bytes_per_sec} {wide_bar} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let reporter = bar.clone();
    let progress: variosync_app::pipeline::Progress =
        std::sync::Arc::new(move |read| reporter.set_position(read));
    let plain_parquet = export.format == Format::Parquet && export.packing == Packing::Plain;
    // Any other format is written from the canonical Parquet file, as a dataset's export is.
    // (in a folder of its own beside the output, with the overviews written beside it).
    let work = (!plain_parquet)
        .then(|| {
            let parent =
                output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            tempfile::Builder::new().prefix(".variosync-convert-").tempdir_in(parent)
        })
        .transpose()
        .with_context(|| format!("{}: cannot make a working folder beside it", output.display()))?;
    let canonical = match &work {
        Some(work) => work.path().join("canonical.parquet"),
        None => output.to_owned(),
    };
    let converted = variosync_app::pipeline::convert_file(
        input,
        &canonical,
        &read_options(input, options)?,
        options.duplicates,
        Some(progress),
    )
    .with_context(|| format!("{}", input.display()));
    bar.finish_and_clear();
    let converted = converted?;
    if work.is_some() {
        write_export(&canonical, output, export)
            .with_context(|| format!("{}", output.display()))?;
    }
    drop(work);
    let bytes = std::fs::metadata(output).map(|m| m.len()).unwrap_or_default();
    let profile = &converted.profile;
    let mut summary = format!(
        "{} rows, {} series, {} duplicates dropped, {} rows set aside -> {} ({bytes} bytes)",
        profile.rows,
        profile.series.len(),
        profile.duplicates,
        profile.rejects,
        output.display(),
    );
    if let Some(rejects) = &converted.rejects_file {
        write!(summary, "; rows set aside are listed in {}", rejects.display())?;
    }
    for warning in &converted.warnings {
        write!(summary, "\nwarning: {warning}")?;
    }
    Ok(summary)
}

/// Imports a file into this instance as a dataset of the account with address `owner`,
/// through the same use case as an upload: metered as an `import` job of that account, and
/// refused when its balance cannot cover the import.
pub async fn import(
    settings: &Settings,
    owner: &str,
    path: &Path,
    name: Option<&str>,
    options: &FileOptions,
) -> anyhow::Result<String> {
    let email = Email::parse(owner).context("--user")?;
    open_file(path)?;
    let backends = crate::startup::open_backends(settings).await?;
    let user =
        backends.users().find_by_email(Access::System, &email).await?.with_context(|| {
            format!("there is no account {email}; create it first (variosync admin create-user)")
        })?;
    let run = crate::startup::run_folder(settings)?;
    let app = crate::startup::app(settings, &backends, run.path());
    let duplicates = match options.duplicates {
        DuplicatePolicy::Guarded => "auto",
        DuplicatePolicy::KeepLast => "keep_last",
        DuplicatePolicy::KeepFirst => "keep_first",
        DuplicatePolicy::Fail => "fail",
    };
    let import = variosync_app::imports::ImportOptions {
        name: name.map(str::to_owned),
        series: None,
        mode: Some(if options.lenient { "lenient" } else { "strict" }.to_owned()),
        tz: Some(options.zone.clone()),
        duplicates: Some(duplicates.to_owned()),
        mapping: Some(serde_json::to_string(&options.mapping)?),
    };
    let principal = variosync_app::Principal::owner(user.id);
    let imported = app
        .import_local(&principal, path, &import)
        .await
        .with_context(|| format!("{}", path.display()))?;
    backends.close().await;
    let profile = &imported.version.profile;
    Ok(format!(
        "imported {} as dataset {} \"{}\": {} rows, {} series, {} duplicates dropped, {} rows set aside",
        path.display(),
        imported.dataset.id,
        imported.dataset.name,
        imported.version.row_count,
        imported.version.series.len(),
        profile.duplicates,
        profile.rejects
    ))
}

/// What to forecast from a file.
#[derive(Debug, Clone)]
pub struct ForecastOptions {
    /// The series (default: the file's only series).
    pub series: Option<String>,
    /// The value column (default: `close` if there is one, else the only numeric column).
    pub column: Option<String>,
    /// The models, by name.
    pub models: Vec<String>,
    /// Steps to forecast.
    pub horizon: usize,
    /// Interval levels, in percent.
    pub levels: Vec<f64>,
    /// Backtest origins.
    pub windows: usize,
    /// Where to write the forecasts as CSV.
    pub csv: Option<std::path::PathBuf>,
    /// Events and regressors for Prophet.
    pub extras: ForecastExtras,
}

/// Prophet's events and regressors, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct ForecastExtras {
    /// Events.
    pub events: Vec<variosync_forecast::prophet::Event>,
    /// Regressor columns and their future values.
    pub regressors: Vec<variosync_forecast::run::RegressorInput>,
}

impl ForecastExtras {
    /// Reads events from a JSON file and regressors from `COLUMN=V1,V2,...` arguments.
    pub fn read(events: Option<&Path>, regressors: &[String]) -> anyhow::Result<Self> {
        let events = match events {
            None => Vec::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                serde_json::from_str(&text).with_context(|| {
                    format!(
                        "{}: expected a JSON list of {{\"name\", \"dates\": [\"YYYY-MM-DD\", ...], \
                         \"before\", \"after\"}}",
                        path.display()
                    )
                })?
            }
        };
        let regressors = regressors
            .iter()
            .map(|argument| {
                let (column, values) = argument.split_once('=').with_context(|| {
                    format!("--regressor {argument:?}: expected COLUMN=V1,V2,...")
                })?;
                let future = values
                    .split(',')
                    .enumerate()
                    .map(|(i, v)| {
                        v.trim().parse::<f64>().ok().filter(|v| v.is_finite()).with_context(|| {
                            format!("--regressor {column}: value {} ({v:?}) is not a number", i + 1)
                        })
                    })
                    .collect::<anyhow::Result<Vec<f64>>>()?;
                Ok(variosync_forecast::run::RegressorInput {
                    column: column.trim().to_owned(),
                    future,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self { events, regressors })
    }
}

/// Forecasts one column of one series of a file; returns the report to print.
pub fn forecast(
    path: &Path,
    read: &FileOptions,
    options: &ForecastOptions,
) -> anyhow::Result<String> {
    use variosync_forecast::Model;
    use variosync_forecast::run::{self, Request};
    let models = options
        .models
        .iter()
        .map(|name| Model::parse(name))
        .collect::<Result<Vec<_>, _>>()
        .context("--model")?;
    let request = Request {
        models,
        horizon: options.horizon,
        levels: options.levels.clone(),
        windows: options.windows,
        events: options.extras.events.clone(),
        regressors: options.extras.regressors.clone(),
    };
    request.check().context("the forecast request")?;
    let work = std::env::temp_dir().join(format!("variosync-forecast-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&work)?;
    let result = (|| {
        let parquet = work.join("data.parquet");
        let converted = variosync_app::pipeline::convert_file(
            path,
            &parquet,
            &read_options(path, read)?,
            read.duplicates,
            None,
        )
        .with_context(|| format!("{}", path.display()))?;
        let names: Vec<&str> = converted.profile.series.iter().map(|s| s.name.as_str()).collect();
        let series = match (&options.series, names.as_slice()) {
            (Some(series), _) if names.contains(&series.as_str()) => series.clone(),
            (Some(series), _) => anyhow::bail!(
                "{} has no series {series:?}; it has {}",
                path.display(),
                names.join(", ")
            ),
            (None, [only]) => (*only).to_owned(),
            (None, _) => anyhow::bail!(
                "{} holds {} series: choose one with --series ({})",
                path.display(),
                names.len(),
                names.join(", ")
            ),
        };
        let part = variosync_engine::window::Part::open(&parquet)?;
        let numeric = part.numeric_column_names();
        let column = match &options.column {
            Some(column) if numeric.contains(column) => column.clone(),
            Some(column) => anyhow::bail!(
                "{} has no numeric column {column:?}; it has {}",
                path.display(),
                numeric.join(", ")
            ),
            None if numeric.iter().any(|c| c == "close") => "close".to_owned(),
            None if numeric.len() == 1 => numeric[0].clone(),
            None => anyhow::bail!(
                "{} has several value columns: choose one with --column ({})",
                path.display(),
                numeric.join(", ")
            ),
        };
        for regressor in &request.regressors {
            if !numeric.contains(&regressor.column) || regressor.column == column {
                anyhow::bail!(
                    "--regressor {}: {} has no other numeric column of that name; it has {}",
                    regressor.column,
                    path.display(),
                    numeric.join(", ")
                );
            }
        }
        let (times, target, values) =
            variosync_app::forecasts::read_columns(&part, &series, &column, &request)?;
        let report = run::forecast_with(&times, &target, &values, &request, &mut |_, _| true)
            .with_context(|| format!("forecasting {column} of {series}"))?;
        Ok::<_, anyhow::Error>((series, column, report))
    })();
    let _ = std::fs::remove_dir_all(&work);
    let (series, column, report) = result?;
    if let Some(csv) = &options.csv {
        std::fs::write(csv, report.to_csv(&request.levels))
            .with_context(|| format!("cannot write {}", csv.display()))?;
    }
    render_report(&series, &column, &request, &report)
}

fn render_report(
    series: &str,
    column: &str,
    request: &variosync_forecast::run::Request,
    report: &variosync_forecast::run::Report,
) -> anyhow::Result<String> {
    let mut out = String::new();
    writeln!(
        out,
        "{column} of {series}: {} values, one per {}{}{}; seasons {:?}",
        report.rows,
        report.frequency,
        if report.filled > 0 {
            format!(" ({} missing steps filled)", report.filled)
        } else {
            String::new()
        },
        if report.left_out > 0 {
            format!(" (the {} older ones left out)", report.left_out)
        } else {
            String::new()
        },
        report.seasons,
    )?;
    writeln!(out, "\nbacktest: {} origins of {} steps", request.windows, request.horizon)?;
    writeln!(
        out,
        "  {:<16} {:>12} {:>12} {:>8} {:>8}  coverage",
        "model", "MAE", "RMSE", "sMAPE", "MASE"
    )?;
    for trial in &report.backtests {
        match &trial.backtest {
            Some(b) => {
                let s = &b.scores;
                let coverage: Vec<String> =
                    s.coverage.iter().map(|c| format!("{}%: {:.0}%", c.level, c.share)).collect();
                writeln!(
                    out,
                    "  {:<16} {:>12.4} {:>12.4} {:>8.2} {:>8}  {}",
                    trial.model.name(),
                    s.mae,
                    s.rmse,
                    s.smape,
                    s.mase.map_or("-".to_owned(), |m| format!("{m:.3}")),
                    coverage.join(", ")
                )?;
            }
            None => writeln!(
                out,
                "  {:<16} {}",
                trial.model.name(),
                trial.error.as_deref().unwrap_or("not backtested")
            )?,
        }
    }
    for forecast in &report.forecasts {
        let Some(prediction) = &forecast.prediction else {
            writeln!(
                out,
                "\n{}: {}",
                forecast.model.name(),
                forecast.error.as_deref().unwrap_or("")
            )?;
            continue;
        };
        writeln!(
            out,
            "\n{} ({})",
            forecast.model.name(),
            forecast.chosen.as_deref().unwrap_or("")
        )?;
        let mut header = format!("  {:<25} {:>14}", "time", "forecast");
        for band in &prediction.bands {
            header.push_str(&format!(" {:>30}", format!("{}% interval", band.level)));
        }
        writeln!(out, "{header}")?;
        for (i, time) in report.times.iter().enumerate() {
            let time = chrono::DateTime::from_timestamp_micros(*time)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                .unwrap_or_default();
            let mut line = format!("  {time:<25} {:>14.4}", prediction.mean[i]);
            for band in &prediction.bands {
                line.push_str(&format!(
                    " {:>30}",
                    format!("{:.4} .. {:.4}", band.lower[i], band.upper[i])
                ));
            }
            writeln!(out, "{line}")?;
        }
    }
    if let Some(best) = report.best {
        writeln!(out, "\nbest by backtest: {}", best.name())?;
    }
    Ok(out)
}
