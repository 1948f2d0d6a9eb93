//! Background work: job kinds, the queue on the metadata database, the worker loop with
//! leases and heartbeats, progress reporting over pub/sub, and hour metering.
//!
//! The queue lives in the metadata database (see `variosync_store::jobs`); here are the job
//! kinds (the first: importing a large upload), the worker loop that leases and runs jobs,
//! and the metering of each job by the CPU time it took. This crate never speaks HTTP.

pub mod forecast;
pub mod import;
pub mod queue;
mod settings;
pub mod uploads;
mod worker;

pub use queue::{JobContext, JobError, JobKind, Kinds, WorkerSettings};
pub use settings::JobsSettings;
pub use worker::{Worker, WorkerId};

/// Every job kind this build can run.
pub fn kinds() -> Kinds {
    Kinds::new().with(uploads::ImportUpload).with(forecast::ForecastJob)
}
