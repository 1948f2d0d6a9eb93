//! The data work on Arrow batches: profiling and per-column statistics, non-destructive
//! cleaning operations, resampling, MinMaxLTTB downsampling for charts and time-window
//! queries over Parquet that read only the row groups in range.
//!
//! It never touches HTTP, the metadata database or credentials; it receives batches (and,
//! later, readers and writers for objects) and returns batches and statistics. So far it
//! holds the duplicate policy applied when a file becomes a dataset.

pub mod convert;
pub mod duplicates;
pub mod export;
pub mod overview;
pub mod profile;
pub mod quality;
pub mod resample;
pub mod window;
