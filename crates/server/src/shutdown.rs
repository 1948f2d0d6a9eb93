//! Termination signals.

use std::future::Future;

/// Listens for SIGINT (Ctrl-C) and SIGTERM (what orchestrators send) from the moment it is
/// called, and returns a future that completes on the first of them. Listening starts here,
/// not when the future is first polled: a signal that arrives while the process is still
/// starting (before its server or workers wait on the future) is kept, not left to the
/// default action, which ends the process without a clean stop.
///
/// Must be called inside the Tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            tokio::select! {
                () = received(interrupt, "SIGINT") => {
                    tracing::info!("received SIGINT, shutting down");
                }
                () = received(terminate, "SIGTERM") => {
                    tracing::info!("received SIGTERM, shutting down");
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("received Ctrl-C, shutting down");
    }
}

/// Completes when `listener` receives its signal; never, if it could not be set up.
#[cfg(unix)]
async fn received(listener: std::io::Result<tokio::signal::unix::Signal>, name: &str) {
    match listener {
        Ok(mut listener) => {
            listener.recv().await;
        }
        Err(error) => {
            tracing::error!(%error, "cannot listen for {name}");
            std::future::pending::<()>().await;
        }
    }
}
