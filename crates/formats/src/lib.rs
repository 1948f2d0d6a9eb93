//! Reading and writing every supported file format as streams of Arrow record batches:
//! detection by content first and extension second, delimited text, JSON and JSONL, Parquet,
//! Arrow IPC, Excel, Avro, InfluxDB line protocol, and the compression wrappers around them.
//!
//! This crate does no network and no database access: it turns bytes into batches and back,
//! with limits on every input and errors that name the line and column at fault. Beside the
//! readers it holds the text-level understanding they share: character encodings, the
//! dialect of delimited text, numbers as people write them, what column names mean, and the
//! proposed mapping of a table (time, series and value columns).

pub mod columnar;
pub mod columns;
pub mod delimited;
pub mod dialect;
pub mod encoding;
pub mod export;
pub mod isolation;
pub mod json;
pub mod lineprotocol;
pub mod mapping;
pub mod numbers;
pub mod parquet_out;
pub mod source;
pub mod table;
pub mod workbook;
