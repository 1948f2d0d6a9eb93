//! Settings of background work.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use variosync_domain::Hours;

use crate::queue::WorkerSettings;

/// How jobs run and are metered.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsSettings {
    /// How long a job stays leased to its worker without a heartbeat, in seconds; a worker
    /// that dies gives its job up after this.
    pub lease_secs: u64,
    /// The least a finished job is charged, in seconds of compute.
    pub min_charge_secs: u64,
    /// Files up to this size are imported on the request that sends or completes them
    /// (metered all the same); larger ones become `import` jobs on a worker.
    pub inline_import_bytes: u64,
    /// How often each job runner deletes every account's expired uploads, in seconds.
    pub sweep_secs: u64,
    /// The hours reserved for an import job, in seconds of compute per GiB of file (the
    /// unused part is given back when it ends).
    pub import_reserve_secs_per_gib: u64,
    /// How long the file of an export job is kept before the sweep deletes it, in seconds
    /// (default 7 days).
    pub export_expiry_secs: u64,
}

impl Default for JobsSettings {
    fn default() -> Self {
        Self {
            lease_secs: 30,
            min_charge_secs: 1,
            inline_import_bytes: 16 * 1024 * 1024,
            sweep_secs: 60,
            import_reserve_secs_per_gib: 120,
            export_expiry_secs: 7 * 24 * 3600,
        }
    }
}

impl JobsSettings {
    /// How workers run, with temporary files under `scratch`.
    pub fn worker_settings(&self, scratch: PathBuf) -> WorkerSettings {
        WorkerSettings {
            lease: Duration::from_secs(self.lease_secs.max(1)),
            min_charge: Duration::from_secs(self.min_charge_secs),
            sweep_every: Duration::from_secs(self.sweep_secs.max(1)),
            ..WorkerSettings::new(scratch)
        }
    }

    /// The hours to reserve for importing a file of `bytes`: at least the minimum charge.
    pub fn import_reserve(&self, bytes: u64) -> Hours {
        let per_gib = self.import_reserve_secs_per_gib as f64;
        let seconds =
            (bytes as f64 / (1u64 << 30) as f64 * per_gib).max(self.min_charge_secs as f64);
        Hours::from_millis_ceil((seconds * 1000.0).ceil() as u64)
    }
}
