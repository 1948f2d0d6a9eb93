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
    /// Show how a file would be read: encoding, delimiter, time and series columns, value
    /// columns, and the first problems found.
    Inspect {
        /// The file (CSV, TSV, semicolon- or pipe-separated, whitespace-aligned).
        file: PathBuf,
    },
    /// Convert a file to one Parquet file sorted by series and time, zstd-compressed.
    Convert {
        /// The file to read.
        input: PathBuf,
        /// The Parquet file to write.
        output: PathBuf,
        #[command(flatten)]
        read: ReadArgs,
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
    #[arg(long, value_enum, default_value_t = Duplicates::KeepLast)]
    duplicates: Duplicates,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Duplicates {
    /// Keep the row that comes last in the file.
    KeepLast,
    /// Keep the row that comes first.
    KeepFirst,
    /// Refuse the file.
    Fail,
}

impl ReadArgs {
    fn options(&self) -> variosync_server::files::FileOptions {
        use variosync_engine::duplicates::DuplicatePolicy;
        variosync_server::files::FileOptions {
            lenient: self.lenient,
            zone: self.tz.clone(),
            duplicates: match self.duplicates {
                Duplicates::KeepLast => DuplicatePolicy::KeepLast,
                Duplicates::KeepFirst => DuplicatePolicy::KeepFirst,
                Duplicates::Fail => DuplicatePolicy::Fail,
            },
        }
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
    let cli = Cli::parse();
    // Commands about files and the example config need no settings.
    let offline = match &cli.command {
        Command::Config(ConfigCommand::Default) => Some(Ok(DEFAULT_CONFIG.to_owned())),
        Command::Inspect { file } => Some(variosync_server::files::inspect(file)),
        Command::Convert { input, output, read } => Some(
            variosync_server::files::convert(input, output, &read.options())
                .map(|line| line + "\n"),
        ),
        _ => None,
    };
    if let Some(result) = offline {
        return match result {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error:#}");
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
            tracing::error!(error = format!("{error:#}"), "exiting after an error");
            eprintln!("error: {error:#}");
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
                &read.options(),
            )
            .await?;
            println!("{report}");
            Ok(())
        }
        Command::Config(ConfigCommand::Default)
        | Command::Inspect { .. }
        | Command::Convert { .. } => {
            unreachable!("handled before loading settings")
        }
    }
}
