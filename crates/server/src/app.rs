//! The web application: built from settings, then run until a shutdown signal.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use variosync_store::Backends;
use variosync_web::{AppState, BuildInfo};

use crate::settings::Settings;

/// A bound, migrated, ready-to-serve application.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: axum::Router,
    backends: Backends,
    grace: Duration,
    workers: usize,
    worker: variosync_app::Worker,
    /// The data folder's `tmp/`, swept periodically.
    tmp: std::path::PathBuf,
    /// This run's temporary files, removed when it stops.
    run: variosync_app::scratch::RunFolder,
}

impl Application {
    /// Opens every backend, applies migrations and binds the listener. Port 0 picks a free
    /// port (see [`Application::local_addr`]).
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let backends = crate::startup::open_backends(settings).await?;
        let run = crate::startup::run_folder(settings)?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let local_addr = listener.local_addr().context("the listener has no local address")?;
        let billing = variosync_app::billing::Billing {
            packages: variosync_auth::billing::parse_packages(
                &settings.billing.packages,
                &settings.billing.currency,
            )
            .map_err(anyhow::Error::msg)
            .context("VARIOSYNC_BILLING_PACKAGES")?
            .into(),
            stripe: variosync_auth::Stripe::from_settings(&settings.billing)
                .map_err(anyhow::Error::msg)
                .context("VARIOSYNC_BILLING_STRIPE_*")?
                .map(std::sync::Arc::new),
        };
        let state = AppState {
            backends: backends.clone(),
            metrics: variosync_web::prometheus_handle(),
            http: settings.http.clone(),
            build: BuildInfo { version: env!("CARGO_PKG_VERSION") },
            accounts: crate::startup::accounts(
                settings,
                &backends,
                &crate::startup::base_url(settings, local_addr),
            )?,
            trusted_proxies: variosync_web::parse_ranges(&settings.trusted_proxies)
                .map_err(anyhow::Error::msg)
                .context("VARIOSYNC_TRUSTED_PROXIES")?
                .into(),
            rate_limits: settings.rate_limit.clone(),
            app: crate::startup::app(settings, &backends, run.path()).with_billing(billing),
            external_jwt: variosync_auth::ExternalJwt::from_settings(&settings.external_jwt)
                .context("VARIOSYNC_EXTERNAL_JWT_*")?
                .map(std::sync::Arc::new),
            oidc: variosync_auth::Oidc::from_settings(&settings.oidc)
                .context("VARIOSYNC_OIDC_*")?
                .map(std::sync::Arc::new),
            github: variosync_auth::Github::from_settings(&settings.github)
                .context("VARIOSYNC_GITHUB_*")?
                .map(std::sync::Arc::new),
            tokens: variosync_auth::AccessTokens::load(&backends)
                .await
                .context("cannot load the access-token signing key")?,
        };
        let worker = crate::startup::worker(settings, &backends, run.path());
        Ok(Self {
            worker,
            tmp: settings.data_dir.join("tmp"),
            run,
            listener,
            local_addr,
            router: variosync_web::router(state),
            backends,
            grace: Duration::from_secs(settings.shutdown_grace_secs),
            workers: settings.workers,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The backends, for tests and for workers that share the runtime.
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// Serves until `shutdown` completes, then stops accepting connections and lets requests
    /// in flight finish for up to the grace period before closing what is left.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stopping = CancellationToken::new();
        let trigger = stopping.clone();
        tokio::spawn(async move {
            shutdown.await;
            trigger.cancel();
        });
        // Job runners share the runtime; they stop with the server, finishing or giving
        // back their jobs.
        let workers = (self.workers > 0).then(|| {
            let stop = stopping.clone();
            tokio::spawn(self.worker.run(self.workers, stop.cancelled_owned()))
        });
        let sweeper = tokio::spawn(crate::startup::sweep_periodically(self.tmp.clone()));
        tracing::info!(address = %self.local_addr, "listening on http://{}", self.local_addr);
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(self.listener, service)
            .with_graceful_shutdown(stopping.clone().cancelled_owned());
        let grace = self.grace;
        let deadline = async move {
            stopping.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = server.into_future() => result.context("the HTTP server failed")?,
            () = deadline => tracing::warn!(
                grace_secs = grace.as_secs(),
                "requests still in flight after the grace period; closing them"
            ),
        }
        if let Some(workers) = workers {
            let _ = workers.await;
        }
        sweeper.abort();
        self.backends.close().await;
        // The run's temporary files go with it.
        drop(self.run);
        tracing::info!("stopped");
        Ok(())
    }
}
