//! Start-up shared by the long-running processes, the worker process, and one-off
//! maintenance commands.

use anyhow::Context;
use variosync_app::Worker;
use variosync_app::scratch::RunFolder;
use variosync_store::{Backends, Database};

use crate::settings::Settings;

/// Runs a worker process until `shutdown` completes.
pub async fn run_worker(
    settings: &Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Workers may start before any web replica: they bring the schema up to date too.
    let backends = open_backends(settings).await?;
    let run = run_folder(settings)?;
    let sweeper = tokio::spawn(sweep_periodically(settings.data_dir.join("tmp")));
    worker(settings, &backends, run.path()).run(settings.workers.max(1), shutdown).await;
    sweeper.abort();
    backends.close().await;
    drop(run);
    Ok(())
}

/// This process run's folder for temporary files, after sweeping what crashed runs left
/// (see [`variosync_app::scratch`]).
pub(crate) fn run_folder(settings: &Settings) -> anyhow::Result<RunFolder> {
    let tmp = settings.data_dir.join("tmp");
    sweep_once(&tmp);
    RunFolder::create(&tmp).with_context(|| {
        format!("cannot create a folder for temporary files under {}", tmp.display())
    })
}

fn sweep_once(tmp: &std::path::Path) {
    match variosync_app::scratch::sweep(tmp) {
        Ok(swept) if swept.entries > 0 => tracing::info!(
            entries = swept.entries,
            bytes = swept.bytes,
            "removed temporary files that stopped processes left"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "cannot sweep the temporary files"),
    }
}

/// Sweeps `tmp` every [`variosync_app::scratch::SWEEP_EVERY`], for as long as it runs.
pub(crate) async fn sweep_periodically(tmp: std::path::PathBuf) {
    loop {
        tokio::time::sleep(variosync_app::scratch::SWEEP_EVERY).await;
        let tmp = tmp.clone();
        let _ = tokio::task::spawn_blocking(move || sweep_once(&tmp)).await;
    }
}

/// The use cases over `backends`, configured by the settings, with temporary files under
/// `scratch` (the run's folder).
pub fn app(
    settings: &Settings,
    backends: &Backends,
    scratch: &std::path::Path,
) -> variosync_app::App {
    let app_settings = variosync_app::AppSettings {
        jobs: settings.jobs.clone(),
        upload_limit_bytes: settings.http.upload_limit_bytes,
    };
    variosync_app::App::new(backends.clone(), scratch.to_path_buf(), app_settings)
}

/// Job runners for every kind this build knows, as the settings say.
pub(crate) fn worker(
    settings: &Settings,
    backends: &Backends,
    scratch: &std::path::Path,
) -> Worker {
    let worker_settings = settings.jobs.worker_settings(scratch.to_path_buf());
    Worker::new(app(settings, backends, scratch), variosync_app::kinds(), worker_settings)
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
