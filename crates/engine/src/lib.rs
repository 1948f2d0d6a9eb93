//! The data work on Arrow batches: profiling and per-column statistics, non-destructive
//! cleaning operations, resampling, MinMaxLTTB downsampling for charts and time-window
//! queries over Parquet that read only the row groups in range.
//!
//! It never touches HTTP, the metadata database or credentials; it receives batches and
//! local files and returns batches and statistics: the bounded-memory conversion with its
//! duplicate policy, profiling, overviews, window queries, resampling and quality checks.

pub mod convert;
pub mod duplicates;
pub mod export;
pub mod overview;
pub mod parallel_writer;
pub mod profile;
pub mod quality;
pub mod resample;
pub mod window;
