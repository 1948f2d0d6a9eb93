//! The `variosync` binary: command-line parsing and nothing else. Every command calls into
//! `variosync-server`, which composes the application from its settings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use variosync_domain::Role;
use variosync_server::{Application, DEFAULT_CONFIG, Settings, shutdown_signal, telemetry};

/// Exit status for a configuration mistake, distinct from a failure at run time.
const EXIT_CONFIG: u8 = 2;

/// Variosync: a self-hostable platform for time-series and financial data.
///
/// Upload files of any common format, get clean versioned datasets, chart, clean, forecast
/// and export them. With no configuration everything runs embedded in ./variosync-data
/// (SQLite, local object storage, in-process cache); set VARIOSYNC_DATABASE_URL,
/// VARIOSYNC_REDIS_URL and VARIOSYNC_S3_* to run on PostgreSQL, Redis and S3.
#[derive(Debug, Parser)]
#[command(name = "variosync", version, propagate_version = true)]
struct Cli {
    /// A TOML configuration file (see `variosync config default`). Environment variables
    /// (VARIOSYNC_*) override what it says.
    #[arg(long, short, global = true, env = "VARIOSYNC_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web server: pages, HTTP API, /healthz, /readyz and /metrics.
    ///
    /// Creates the data directory and applies database migrations first. Listens on
    /// 127.0.0.1:8080 unless VARIOSYNC_LISTEN says otherwise. Stops on Ctrl-C or SIGTERM,
    /// letting requests in flight finish.
    Serve,
    /// Run a background worker that takes jobs from the shared queue.
    ///
    /// Start any number, on any machine that reaches the same database and object storage.
    /// Stops on Ctrl-C or SIGTERM.
    Worker,
    /// Apply pending database migrations, then exit.
    ///
    /// `serve` and `worker` migrate on start-up too; this is for deployments that migrate
    /// in a separate step.
    Migrate,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Administer accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Show how a file would be read: format, encoding, delimiter or JSON layout, time and
    /// series columns, value columns, and the first problems found.
    Inspect {
        /// The file: delimited text or JSON, plain or gzip, bzip2, zstd or zip.
        file: PathBuf,
        #[command(flatten)]
        mapping: MappingArgs,
    },
    /// Convert a file to another format, as its dataset would be exported: sorted by series
    /// and time, duplicates handled, the format chosen by OUTPUT's extension (.csv, .tsv,
    /// .json, .jsonl, .parquet, .arrow, .arrows, .feather, .lp, each optionally .gz or .zst).
    Convert {
        /// The file to read.
        input: PathBuf,
        /// The file to write.
        output: PathBuf,
        #[command(flatten)]
        read: ReadArgs,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Forecast one column of one series of a file: backtest the models by rolling origin
    /// and forecast the steps after the last row, on the series' own calendar.
    Forecast {
        /// The file to read.
        file: PathBuf,
        /// The series (default: the file's only series).
        #[arg(long)]
        series: Option<String>,
        /// The value column (default: close, or the only numeric column).
        #[arg(long)]
        column: Option<String>,
        /// Steps to forecast.
        #[arg(long, default_value_t = 30)]
        horizon: usize,
        /// A model: auto, ets, arima, theta, mstl, prophet, naive, seasonal_naive or drift;
        /// repeat for several.
        #[arg(long = "model", default_value = "auto")]
        models: Vec<String>,
        /// Interval levels in percent, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "80,95")]
        levels: Vec<f64>,
        /// Backtest origins.
        #[arg(long, default_value_t = 3)]
        windows: usize,
        /// Also write the forecasts as CSV to this file.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Events for Prophet: a JSON file holding a list of
        /// {"name": "...", "dates": ["2024-12-25", ...], "before": 0, "after": 0}.
        #[arg(long, value_name = "FILE")]
        events: Option<PathBuf>,
        /// A regressor for Prophet: another numeric column of the file and its values over the
        /// horizon, as COLUMN=V1,V2,...; repeat for several.
        #[arg(long = "regressor", value_name = "COLUMN=VALUES")]
        regressors: Vec<String>,
        #[command(flatten)]
        read: ForecastReadArgs,
    },
    /// Import a file into this instance as a dataset of an account.
    Import {
        /// The file to read.
        file: PathBuf,
        /// The e-mail address of the account that will own the dataset.
        #[arg(long)]
        user: String,
        /// The dataset's name (default: the file's name).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        read: ReadArgs,
    },
}

/// How to read a file.
#[derive(Debug, clap::Args)]
struct ReadArgs {
    /// Set rows with unreadable values aside instead of stopping at the first.
    #[arg(long)]
    lenient: bool,
    /// The time zone of timestamps without an offset: UTC, +02:00 or Europe/Berlin.
    #[arg(long, default_value = "UTC")]
    tz: String,
    /// What to do with rows that repeat a series and time.
    #[arg(long, value_enum, default_value_t = Duplicates::Auto)]
    duplicates: Duplicates,
    #[command(flatten)]
    mapping: MappingArgs,
}

/// How to write a converted file.
#[derive(Debug, clap::Args)]
struct WriteArgs {
    /// The output format, over OUTPUT's extension: csv, tsv, json, jsonl, parquet, arrow,
    /// arrows (Arrow IPC stream), feather, avro, xlsx, lp (line protocol), openmetrics or
    /// timescale (a psql script that creates the table and copies the rows in).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// The delimiter of CSV output (default: a comma; a semicolon with --out-decimal comma).
    #[arg(long, value_name = "CHAR")]
    out_delimiter: Option<char>,
    /// The decimal mark of CSV and TSV output: point or comma.
    #[arg(long, value_name = "MARK", default_value = "point")]
    out_decimal: String,
    /// How times are written in text output: rfc3339, s, ms, us or a strftime pattern.
    #[arg(long, value_name = "FORMAT", default_value = "rfc3339")]
    out_time: String,
    /// The zone times are written in: UTC or a zone such as Europe/Berlin.
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    out_tz: String,
    /// JSON output: records (an array of records) or series (records per series).
    #[arg(long, value_name = "LAYOUT", default_value = "records")]
    json_layout: String,
    /// Excel output: one (a sheet of every row) or series (a sheet per series).
    #[arg(long, value_name = "LAYOUT", default_value = "one")]
    sheets: String,
    /// The table a timescale script creates (default: named after OUTPUT).
    #[arg(long, value_name = "NAME")]
    table: Option<String>,
}

impl WriteArgs {
    fn options(&self, output: &Path) -> anyhow::Result<variosync_server::files::ExportOptions> {
        variosync_server::files::export_options(
            output,
            &variosync_server::files::ExportChoices {
                format: self.format.clone(),
                compression: None,
                delimiter: self.out_delimiter.map(|c| c.to_string()),
                decimal: Some(self.out_decimal.clone()),
                time: Some(self.out_time.clone()),
                zone: Some(self.out_tz.clone()),
                json_layout: Some(self.json_layout.clone()),
                sheets: Some(self.sheets.clone()),
                table: self.table.clone(),
            },
        )
    }
}

/// Choices that replace the detected mapping; columns are named as in the file.
#[derive(Debug, clap::Args)]
struct MappingArgs {
    /// A JSON file with the whole mapping (the same object the API takes); the flags below
    /// override its fields.
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,
    /// The column holding the time (or the date, with --time-of-day).
    #[arg(long, value_name = "COLUMN")]
    time: Option<String>,
    /// A separate time-of-day column.
    #[arg(long, value_name = "COLUMN")]
    time_of_day: Option<String>,
    /// How the time is written: iso, ymd, dmy, mdy, compact, epoch_s, epoch_ms, epoch_us,
    /// epoch_ns or excel.
    #[arg(long, value_name = "FORMAT")]
    time_format: Option<String>,
    /// The series column, several joined with commas (`store,dept`), or `none` for one
    /// series named after the file.
    #[arg(long, value_name = "COLUMNS")]
    series: Option<String>,
    /// `long` (a row per series and time) or `wide` (a column per series).
    #[arg(long, value_name = "LAYOUT")]
    layout: Option<String>,
    /// Only these value columns, in this order (comma-separated).
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Leave these columns out (comma-separated).
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    exclude: Vec<String>,
    /// The decimal mark: point or comma.
    #[arg(long, value_name = "MARK")]
    decimal: Option<String>,
    /// The sheet of a workbook to read: its name or 1-based number (default: the first).
    #[arg(long, value_name = "SHEET")]
    sheet: Option<String>,
}

/// How to read the file to forecast (`--series` names the series to forecast, so the series
/// column is `--series-column`).
#[derive(Debug, clap::Args)]
struct ForecastReadArgs {
    /// Set rows with unreadable values aside instead of stopping at the first.
    #[arg(long)]
    lenient: bool,
    /// The time zone of timestamps without an offset: UTC, +02:00 or Europe/Berlin.
    #[arg(long, default_value = "UTC")]
    tz: String,
    /// A JSON file with the whole mapping (the API's mapping object).
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,
    /// The column holding the time.
    #[arg(long, value_name = "COLUMN")]
    time: Option<String>,
    /// How the time is written (see `inspect`).
    #[arg(long, value_name = "FORMAT")]
    time_format: Option<String>,
    /// The series column, or `none` for one series named after the file.
    #[arg(long, value_name = "COLUMN")]
    series_column: Option<String>,
    /// The decimal mark: point or comma.
    #[arg(long, value_name = "MARK")]
    decimal: Option<String>,
}

impl ForecastReadArgs {
    fn options(&self) -> anyhow::Result<variosync_server::files::FileOptions> {
        let mapping = MappingArgs {
            mapping: self.mapping.clone(),
            time: self.time.clone(),
            time_of_day: None,
            time_format: self.time_format.clone(),
            series: self.series_column.clone(),
            layout: None,
            columns: None,
            exclude: Vec::new(),
            decimal: self.decimal.clone(),
            sheet: None,
        };
        Ok(variosync_server::files::FileOptions {
            mapping: mapping.choice()?,
            lenient: self.lenient,
            zone: self.tz.clone(),
            duplicates: variosync_engine::duplicates::DuplicatePolicy::KeepLast,
        })
    }
}

impl MappingArgs {
    fn choice(&self) -> anyhow::Result<variosync_formats::mapping::Override> {
        use anyhow::Context;
        let mut choice: variosync_formats::mapping::Override = match &self.mapping {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?
            }
            None => Default::default(),
        };
        let or = |flag: &Option<String>, field: &mut Option<String>| {
            if flag.is_some() {
                field.clone_from(flag);
            }
        };
        or(&self.time, &mut choice.time);
        or(&self.time_of_day, &mut choice.time_of_day);
        or(&self.time_format, &mut choice.time_format);
        or(&self.series, &mut choice.series);
        or(&self.layout, &mut choice.layout);
        or(&self.decimal, &mut choice.decimal);
        or(&self.sheet, &mut choice.sheet);
        if self.columns.is_some() {
            choice.columns.clone_from(&self.columns);
        }
        choice.exclude.extend(self.exclude.iter().cloned());
        Ok(choice)
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Duplicates {
    /// Keep the row that comes last, unless more than one row in a hundred repeats a series
    /// and time with other values: then stop and explain (the file was likely misread).
    Auto,
    /// Keep the row that comes last in the file.
    KeepLast,
    /// Keep the row that comes first.
    KeepFirst,
    /// Refuse the file.
    Fail,
}

impl ReadArgs {
    fn options(&self) -> anyhow::Result<variosync_server::files::FileOptions> {
        use variosync_engine::duplicates::DuplicatePolicy;
        Ok(variosync_server::files::FileOptions {
            mapping: self.mapping.choice()?,
            lenient: self.lenient,
            zone: self.tz.clone(),
            duplicates: match self.duplicates {
                Duplicates::Auto => DuplicatePolicy::Guarded,
                Duplicates::KeepLast => DuplicatePolicy::KeepLast,
                Duplicates::KeepFirst => DuplicatePolicy::KeepFirst,
                Duplicates::Fail => DuplicatePolicy::Fail,
            },
        })
    }
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an account and print a one-time sign-in link for it.
    ///
    /// This is how the first admin gets in: `variosync admin create-user --email
    /// you@example.com --admin`. The link works once, for 15 minutes; after signing in, set
    /// a password in the account settings or keep signing in by e-mailed link.
    CreateUser {
        /// The account's e-mail address.
        #[arg(long)]
        email: String,
        /// Make the account an admin.
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print a documented example configuration file with every setting and its default.
    ///
    /// Save it with `variosync config default > variosync.toml`, edit, and pass it with
    /// --config.
    Default,
    /// Load and check the configuration, then print which backends it selects.
    Check,
}

fn main() -> ExitCode {
    // Workbooks and Avro files are decoded in children of this same program, which may use
    // only so much memory and CPU time (see `variosync_formats::isolation`).
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(variosync_formats::isolation::CHILD_COMMAND) {
        variosync_formats::isolation::child_main(&args[2..]);
    }
    match std::env::current_exe() {
        Ok(program) => variosync_formats::isolation::isolate_with(program),
        Err(error) => eprintln!(
            "warning: this program cannot find its own executable ({error}), so workbooks and Avro files are decoded in-process, without memory and CPU limits"
        ),
    }
    let cli = Cli::parse();
    // Commands about files and the example config need no settings.
    let offline = match &cli.command {
        Command::Config(ConfigCommand::Default) => Some(Ok(DEFAULT_CONFIG.to_owned())),
        Command::Inspect { file, mapping } => Some(
            mapping.choice().and_then(|choice| variosync_server::files::inspect(file, &choice)),
        ),
        Command::Convert { input, output, read, write } => Some(
            read.options()
                .and_then(|options| Ok((options, write.options(output)?)))
                .and_then(|(options, export)| {
                    variosync_server::files::convert(input, output, &options, &export)
                })
                .map(|line| line + "\n"),
        ),
        Command::Forecast {
            file,
            series,
            column,
            horizon,
            models,
            levels,
            windows,
            csv,
            events,
            regressors,
            read,
        } => {
            let extras =
                variosync_server::files::ForecastExtras::read(events.as_deref(), regressors);
            Some(extras.and_then(|extras| {
                let options = variosync_server::files::ForecastOptions {
                    series: series.clone(),
                    column: column.clone(),
                    models: models.clone(),
                    horizon: *horizon,
                    levels: levels.clone(),
                    windows: *windows,
                    csv: csv.clone(),
                    extras,
                };
                read.options()
                    .and_then(|read| variosync_server::files::forecast(file, &read, &options))
            }))
        }
        _ => None,
    };
    if let Some(result) = offline {
        return match result {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {}", described(&error));
                ExitCode::FAILURE
            }
        };
    }
    let settings = match load_settings(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = described(&error), "exiting after an error");
            eprintln!("error: {}", described(&error));
            ExitCode::FAILURE
        }
    }
}

fn load_settings(file: Option<&Path>) -> Result<Settings, variosync_server::SettingsError> {
    let env: HashMap<String, String> = std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .collect();
    Settings::load(file, &env)
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let app = Application::build(&settings).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Worker => variosync_server::run_worker(&settings, shutdown_signal()).await,
        Command::Migrate => {
            let backend = variosync_server::migrate(&settings).await?;
            println!("migrations applied ({backend})");
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => {
            println!("configuration is valid");
            for line in settings.describe_backends() {
                println!("  {line}");
            }
            Ok(())
        }
        Command::Admin(AdminCommand::CreateUser { email, admin }) => {
            let role = if admin { Role::Admin } else { Role::User };
            let (user, link) = variosync_server::create_user(&settings, &email, role).await?;
            println!("created {} {} ({})", user.role, user.email, user.id);
            println!("one-time sign-in link, valid for 15 minutes:");
            println!("  {link}");
            Ok(())
        }
        Command::Import { file, user, name, read } => {
            let report = variosync_server::files::import(
                &settings,
                &user,
                &file,
                name.as_deref(),
                &read.options()?,
            )
            .await?;
            println!("{report}");
            Ok(())
        }
        Command::Config(ConfigCommand::Default)
        | Command::Inspect { .. }
        | Command::Convert { .. }
        | Command::Forecast { .. } => {
            unreachable!("handled before loading settings")
        }
    }
}

/// An error and its causes on one line, none of them said twice.
fn described(error: &anyhow::Error) -> String {
    variosync_domain::error::error_chain(error.as_ref())
}
