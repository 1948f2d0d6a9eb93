//! Background work: job kinds, the queue on the metadata database, the worker loop with
//! leases and heartbeats, progress reporting over pub/sub, and hour metering.
//!
//! Today it holds the import of a file as a dataset, and the worker process's lifecycle: a worker opens the same backends as the web
//! server, announces itself, and stops cleanly on request. No job kinds are registered yet;
//! the queue and the first kind (importing large uploads) arrive with the jobs work. This
//! crate never speaks HTTP.

pub mod import;
mod worker;

pub use worker::{Worker, WorkerId};
