//! The use cases of Variosync: one function per thing a person (or a program with their key)
//! can do, written once for the HTTP API, the HTML pages, the command line and the workers.
//!
//! Each use case is a method of [`App`] that takes the acting [`Principal`] and typed
//! input, and returns typed output or an [`Error`] with a kind and a stable code. It checks
//! access (every repository call is scoped by the principal), reserves and charges hours,
//! writes the audit entry and announces the change over pub/sub, so that no caller has to
//! remember any of it. Job kinds and their handlers live here too, with the worker loop
//! that leases and runs them.
//!
//! This crate never speaks HTTP: no status codes, headers or cookies. It reads files only
//! from paths its callers hand it, and writes only under its scratch folder.

mod announce;
pub mod billing;
pub mod datasets;
pub mod error;
pub mod exports;
pub mod forecasts;
pub mod hours;
pub mod imports;
pub mod jobs;
pub mod pipeline;
pub mod preview;
pub mod principal;
pub mod queue;
pub mod scratch;
mod settings;
pub mod uploads;
mod worker;

pub use error::{Error, Result};
pub use jobs::JobPayload;
pub use principal::Principal;
pub use queue::{JobContext, JobError, JobKind, Kinds, WorkerSettings};
pub use settings::JobsSettings;
pub use worker::{Worker, WorkerId};

/// Every job kind this build can run.
pub fn kinds() -> Kinds {
    Kinds::new().with(imports::ImportJob).with(forecasts::ForecastJob).with(exports::ExportJob)
}

/// The application: the backends and settings every use case needs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    backends: variosync_store::Backends,
    scratch: std::path::PathBuf,
    settings: AppSettings,
    billing: billing::Billing,
}

/// What the use cases are configured with.
#[derive(Debug, Clone)]
pub struct AppSettings {
    /// Job metering and the inline import threshold.
    pub jobs: JobsSettings,
    /// The largest file a person may upload, in bytes.
    pub upload_limit_bytes: u64,
}

impl Default for AppSettings {
    fn default() -> Self {
        Self { jobs: JobsSettings::default(), upload_limit_bytes: 10 << 30 }
    }
}

impl App {
    /// The application over `backends`, with temporary files under `scratch`.
    pub fn new(
        backends: variosync_store::Backends,
        scratch: std::path::PathBuf,
        settings: AppSettings,
    ) -> Self {
        Self { backends, scratch, settings, billing: billing::Billing::default() }
    }

    /// The same application, selling hours as `billing` says.
    pub fn with_billing(self, billing: billing::Billing) -> Self {
        Self { billing, ..self }
    }

    /// The shared backends (for the layers that own other concerns: accounts, health).
    pub fn backends(&self) -> &variosync_store::Backends {
        &self.backends
    }

    /// The local folder for files being received, conversions and cached dataset files.
    pub fn scratch(&self) -> &std::path::Path {
        &self.scratch
    }

    /// The settings.
    pub fn settings(&self) -> &AppSettings {
        &self.settings
    }
}
