//! Start-up shared by the long-running processes, the worker process, and one-off
//! maintenance commands.

use anyhow::Context;
use variosync_jobs::Worker;
use variosync_store::{Backends, Database};

use crate::settings::Settings;

/// Runs a worker process until `shutdown` completes.
pub async fn run_worker(
    settings: &Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Workers may start before any web replica: they bring the schema up to date too.
    let backends = open_backends(settings).await?;
    Worker::new(backends.clone()).run(shutdown).await;
    backends.close().await;
    Ok(())
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
