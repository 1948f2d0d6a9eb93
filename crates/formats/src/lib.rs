//! Reading and writing every supported file format as streams of Arrow record batches:
//! detection by content first and extension second, delimited text, JSON and JSONL, Parquet,
//! Arrow IPC, Excel, Avro, InfluxDB line protocol, and the compression wrappers around them.
//!
//! This crate does no network and no database access: it turns bytes into batches and back,
//! with limits on every input and errors that name the line and column at fault. The readers
//! arrive with the ingest work; until then the crate holds only this contract.
