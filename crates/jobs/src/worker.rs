//! The worker process's lifecycle.

use std::fmt;

use variosync_store::Backends;

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

/// A worker bound to the shared backends.
#[derive(Debug)]
pub struct Worker {
    id: WorkerId,
    backends: Backends,
}

impl Worker {
    /// A worker that will take jobs from `backends`' queue.
    pub fn new(backends: Backends) -> Self {
        Self { id: WorkerId::generate(), backends }
    }

    /// This worker's id.
    pub fn id(&self) -> &WorkerId {
        &self.id
    }

    /// Runs until `shutdown` completes. With no job kinds registered there is nothing to take
    /// from the queue, so the worker only holds its place and exits cleanly when asked.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tracing::info!(
            worker = %self.id,
            database = self.backends.db.backend(),
            objects = self.backends.objects.backend(),
            "worker started; no job kinds are registered yet"
        );
        shutdown.await;
        tracing::info!(worker = %self.id, "worker stopped");
    }
}
