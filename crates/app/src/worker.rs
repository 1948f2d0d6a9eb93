//! The worker process's lifecycle.

use std::fmt;

use tokio_util::sync::CancellationToken;

use crate::queue::{Kinds, WorkerSettings, run_worker};

/// Identifies one worker in logs and, later, in job leases: host-independent and unique per
/// process start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerId(String);

impl WorkerId {
    /// A fresh id: the process id plus a random suffix, e.g. `w-4242-1f2e3d4c`.
    pub fn generate() -> Self {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        Self(format!("w-{}-{}", std::process::id(), &suffix[..8]))
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A pool of job runners in one process, bound to the shared backends.
#[derive(Debug)]
pub struct Worker {
    app: crate::App,
    kinds: Kinds,
    settings: WorkerSettings,
}

impl Worker {
    /// Runners of `kinds` taking jobs from the queue of `app`'s backends.
    pub fn new(app: crate::App, kinds: Kinds, settings: WorkerSettings) -> Self {
        Self { app, kinds, settings }
    }

    /// Runs `count` job runners (each with its own id, so each holds its own leases) until
    /// `shutdown` completes; then each finishes its job within the grace period, or gives it
    /// back to the queue.
    pub async fn run(self, count: usize, shutdown: impl Future<Output = ()>) {
        let stop = CancellationToken::new();
        let mut runners = tokio::task::JoinSet::new();
        for _ in 0..count {
            runners.spawn(run_worker(
                WorkerId::generate(),
                self.app.clone(),
                self.kinds.clone(),
                self.settings.clone(),
                stop.clone(),
            ));
        }
        tracing::info!(
            runners = count,
            database = self.app.backends().db.backend(),
            objects = self.app.backends().objects.backend(),
            "workers started"
        );
        shutdown.await;
        stop.cancel();
        while runners.join_next().await.is_some() {}
        tracing::info!("workers stopped");
    }
}
