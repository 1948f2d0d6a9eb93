//! Start-up shared by the long-running processes, the worker process, and one-off
//! maintenance commands.

use anyhow::Context;
use variosync_app::Worker;
use variosync_store::{Backends, Database};

use crate::settings::Settings;

/// Runs a worker process until `shutdown` completes.
pub async fn run_worker(
    settings: &Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Workers may start before any web replica: they bring the schema up to date too.
    let backends = open_backends(settings).await?;
    worker(settings, &backends).run(settings.workers.max(1), shutdown).await;
    backends.close().await;
    Ok(())
}

/// The use cases over `backends`, configured by the settings.
pub fn app(settings: &Settings, backends: &Backends) -> variosync_app::App {
    let app_settings = variosync_app::AppSettings {
        jobs: settings.jobs.clone(),
        upload_limit_bytes: settings.http.upload_limit_bytes,
        inline_timeout_secs: settings.http.upload_timeout_secs,
    };
    variosync_app::App::new(backends.clone(), settings.data_dir.join("tmp"), app_settings)
}

/// Job runners for every kind this build knows, as the settings say.
pub(crate) fn worker(settings: &Settings, backends: &Backends) -> Worker {
    let scratch = settings.data_dir.join("tmp");
    let worker_settings = settings.jobs.worker_settings(scratch);
    Worker::new(app(settings, backends), variosync_app::kinds(), worker_settings)
}

/// Opens every backend the settings name and applies pending migrations: what every
/// long-running process does first.
pub(crate) async fn open_backends(settings: &Settings) -> anyhow::Result<Backends> {
    crate::install_crypto_provider();
    let backends = Backends::open(&settings.store(), &settings.data_dir)
        .await
        .context("cannot open the storage backends")?;
    backends.db.migrate().await.context("cannot apply the database migrations")?;
    Ok(backends)
}

/// Applies every pending migration; returns the backend's name.
pub async fn migrate(settings: &Settings) -> anyhow::Result<&'static str> {
    crate::install_crypto_provider();
    let db = Database::connect(&settings.database, &settings.data_dir)
        .await
        .context("cannot open the database")?;
    db.migrate().await.context("cannot apply the database migrations")?;
    db.close().await;
    Ok(db.backend())
}

/// The address people reach the service at: `http.public_url`, or the listen address.
pub(crate) fn base_url(settings: &Settings, local_addr: std::net::SocketAddr) -> String {
    settings.http.public_url.clone().unwrap_or_else(|| format!("http://{local_addr}"))
}

/// The accounts service over `backends`, mailing as the settings say.
pub(crate) fn accounts(
    settings: &Settings,
    backends: &Backends,
    base_url: &str,
) -> anyhow::Result<variosync_auth::Accounts> {
    let mailer = variosync_auth::Mailer::from_settings(
        settings.smtp_url.as_ref(),
        &settings.mail,
        &settings.data_dir,
    )
    .context("cannot set up outgoing mail")?;
    Ok(variosync_auth::Accounts::new(backends.clone(), settings.accounts.clone(), mailer, base_url))
}

/// Creates an account from the command line and returns it with a one-time sign-in link.
pub async fn create_user(
    settings: &Settings,
    email: &str,
    role: variosync_domain::Role,
) -> anyhow::Result<(variosync_domain::User, String)> {
    let backends = open_backends(settings).await?;
    let accounts = accounts(settings, &backends, &base_url(settings, settings.listen))?;
    let created = accounts
        .create_user_with_link(email, role)
        .await
        .map_err(|error| anyhow::anyhow!("{}", variosync_domain::error_chain(&error)))?;
    backends.close().await;
    Ok(created)
}
