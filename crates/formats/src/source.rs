//! Opening any supported file: compression is recognised by its magic bytes (gzip, bzip2,
//! zstd, zip) and undone as a stream under limits on the decompressed size and ratio; the
//! format inside is recognised by content (workbook, Avro, Arrow, JSON, line protocol or
//! delimited text), never by the name alone.

use std::io::{Cursor, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::columnar::{Columnar, ColumnarReader};
use crate::delimited::{ReadError, ReadOptions, Reader};
use crate::json::JsonReader;
use crate::mapping::Proposal;
use crate::table::Reject;

/// Bytes looked at to recognise a file.
const HEAD_BYTES: usize = 64 * 1024;
/// The most a compressed file may expand to.
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 * 1024 * 1024 * 1024;
/// The most a compressed file may expand by (beyond its first [`RATIO_GRACE_BYTES`]).
pub const MAX_RATIO: u64 = 1000;
/// Output below which the ratio is not checked (small, repetitive files compress well).
const RATIO_GRACE_BYTES: u64 = 64 * 1024 * 1024;

/// A compression around the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip (`.gz`).
    Gzip,
    /// bzip2 (`.bz2`).
    Bzip2,
    /// Zstandard (`.zst`).
    Zstd,
    /// The first file of a zip archive.
    Zip,
}

/// The compression a file starts with, if any.
pub fn compression(head: &[u8]) -> Option<Compression> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(Compression::Gzip)
    } else if head.starts_with(b"BZh") && head.get(3).is_some_and(|b| (b'1'..=b'9').contains(b)) {
        Some(Compression::Bzip2)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compression::Zstd)
    } else if head.starts_with(b"PK\x03\x04") {
        Some(Compression::Zip)
    } else {
        None
    }
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Stops a decompressed stream that grows past the limits.
struct Limited<R> {
    inner: R,
    compressed: Arc<AtomicU64>,
    produced: u64,
    max_bytes: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.produced += n as u64;
        let compressed = self.compressed.load(Ordering::Relaxed).max(1);
        if self.produced > self.max_bytes {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the file decompresses to more than {} bytes", self.max_bytes),
            ));
        }
        if self.produced > RATIO_GRACE_BYTES && self.produced / compressed > MAX_RATIO {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the file expands more than {MAX_RATIO} times when decompressed; this looks like a decompression bomb"
                ),
            ));
        }
        Ok(n)
    }
}

/// The decompressed content of `input`, compressed with `compression`.
fn decompress(
    input: Box<dyn Read + Send>,
    compression: Compression,
    max_bytes: u64,
) -> Result<Box<dyn Read + Send>, ReadError> {
    let compressed = Arc::new(AtomicU64::new(0));
    let counted = Counting { inner: input, count: compressed.clone() };
    let inner: Box<dyn Read + Send> = match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(counted)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(counted)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(counted)?),
        Compression::Zip => Box::new(first_zip_entry(counted)?),
    };
    Ok(Box::new(Limited { inner, compressed, produced: 0, max_bytes }))
}

/// Bytes handed over at a time from the thread that unzips.
const ZIP_CHUNK_BYTES: usize = 256 * 1024;

/// The first file of a zip archive (folders and macOS resource forks are skipped), read
/// from the stream without needing the archive's directory. A zip entry borrows the stream
/// it is read from, so a thread owns both and hands the decompressed bytes over in chunks:
/// the file streams in bounded memory, whatever its size.
fn first_zip_entry(mut input: impl Read + Send + 'static) -> Result<Unzipped, ReadError> {
    let (ready_tx, ready_rx) = sync_channel::<Result<(), String>>(1);
    let (chunks_tx, chunks_rx) = sync_channel::<std::io::Result<Vec<u8>>>(4);
    std::thread::spawn(move || {
        loop {
            let mut entry = match zip::read::read_zipfile_from_stream(&mut input) {
                Ok(Some(entry)) => entry,
                Ok(None) => {
                    let _ = ready_tx.send(Err("the zip archive holds no file".to_owned()));
                    return;
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("the zip archive cannot be read: {e}")));
                    return;
                }
            };
            let name = entry.name().map(|name| name.into_owned()).unwrap_or_default();
            if entry.is_dir() || name.starts_with("__MACOSX/") {
                continue;
            }
            if ready_tx.send(Ok(())).is_err() {
                return;
            }
            loop {
                let mut chunk = Vec::with_capacity(ZIP_CHUNK_BYTES);
                let read = (&mut entry).take(ZIP_CHUNK_BYTES as u64).read_to_end(&mut chunk);
                let done = matches!(read, Ok(0) | Err(_));
                let message = read.map(|_| chunk);
                // An empty chunk ends the stream; the reader being gone stops the thread.
                if chunks_tx.send(message).is_err() || done {
                    return;
                }
            }
        }
    });
    match ready_rx.recv() {
        Ok(Ok(())) => {
            Ok(Unzipped { chunks: chunks_rx, current: Cursor::new(Vec::new()), ended: false })
        }
        Ok(Err(message)) => Err(ReadError::Unsupported(message)),
        Err(_) => Err(ReadError::Unsupported("the zip archive cannot be read".to_owned())),
    }
}

/// The decompressed bytes of a zip entry, as they arrive from the thread that unzips.
struct Unzipped {
    chunks: Receiver<std::io::Result<Vec<u8>>>,
    current: Cursor<Vec<u8>>,
    ended: bool,
}

impl Read for Unzipped {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.current.read(buffer)?;
            if n > 0 || buffer.is_empty() || self.ended {
                return Ok(n);
            }
            match self.chunks.recv() {
                Ok(Ok(chunk)) if chunk.is_empty() => {
                    self.ended = true;
                    return Ok(0);
                }
                Ok(Ok(chunk)) => self.current = Cursor::new(chunk),
                Ok(Err(error)) => return Err(error),
                Err(_) => return Err(std::io::Error::other("unzipping stopped unexpectedly")),
            }
        }
    }
}

/// A file being read, whatever its format.
#[derive(Debug)]
pub enum Source {
    /// Delimited text.
    Delimited(Box<Reader>),
    /// JSON or line protocol (records).
    Json(Box<JsonReader>),
    /// Parquet or Arrow.
    Columnar(Box<ColumnarReader>),
}

/// What a file was recognised as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The compression around it.
    pub compression: Option<Compression>,
    /// `csv` (any delimited text), `json`, `line_protocol`, `parquet`, `arrow`, `avro` or
    /// `excel` (any workbook).
    pub format: &'static str,
}

/// Where a file comes from.
pub enum Input {
    /// A file on disk (needed for Parquet and Arrow files, which are read out of order).
    Path(std::path::PathBuf),
    /// Any stream.
    Stream(Box<dyn Read + Send>),
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Path(path) => f.debug_tuple("Path").field(path).finish(),
            Self::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// Opens `input`, recognising its compression and format from its content.
pub fn open_input(input: Input, options: &ReadOptions) -> Result<(Source, Detected), ReadError> {
    match input {
        Input::Stream(stream) => open(stream, options),
        Input::Path(path) => {
            let mut head = [0u8; 8];
            let read = std::fs::File::open(&path)?.read(&mut head)?;
            match crate::columnar::sniff(&head[..read]) {
                Some(format @ (Columnar::Parquet | Columnar::ArrowFile)) => {
                    let reader = ColumnarReader::open(&path, format, options)?;
                    let name = if format == Columnar::Parquet { "parquet" } else { "arrow" };
                    Ok((
                        Source::Columnar(Box::new(reader)),
                        Detected { compression: None, format: name },
                    ))
                }
                _ => open(Box::new(std::fs::File::open(&path)?), options),
            }
        }
    }
}

/// Opens `input`, recognising its compression and format from its content.
pub fn open(
    input: Box<dyn Read + Send>,
    options: &ReadOptions,
) -> Result<(Source, Detected), ReadError> {
    let (head, input) = peek(input)?;
    if crate::workbook::sniff(&head) {
        let reader = crate::workbook::open(input, options)?;
        let detected = Detected { compression: None, format: "excel" };
        return Ok((Source::Columnar(Box::new(reader)), detected));
    }
    let found = compression(&head);
    let (head, input) = match found {
        Some(kind) => peek(decompress(input, kind, MAX_DECOMPRESSED_BYTES)?)?,
        None => (head, input),
    };
    if let Some(inner) = compression(&head) {
        return Err(ReadError::Unsupported(format!(
            "the file is compressed twice ({:?} inside {:?}); decompress it once first",
            inner,
            found.expect("an inner compression implies an outer one")
        )));
    }
    match crate::columnar::sniff(&head) {
        Some(Columnar::ArrowStream) => {
            let reader = ColumnarReader::stream(input, options)?;
            let detected = Detected { compression: found, format: "arrow" };
            return Ok((Source::Columnar(Box::new(reader)), detected));
        }
        Some(_) => {
            return Err(ReadError::Unsupported(
                "a Parquet or Arrow file is read from a file, not from inside a compressed one: upload it as it is (it is compressed already)".to_owned(),
            ));
        }
        None => {}
    }
    if head.starts_with(b"Obj\x01") {
        let reader = ColumnarReader::avro(input, options)?;
        let detected = Detected { compression: found, format: "avro" };
        return Ok((Source::Columnar(Box::new(reader)), detected));
    }
    match crate::json::sniff(&head) {
        Some(shape) => {
            let reader = JsonReader::new(input, shape, options)?;
            Ok((Source::Json(Box::new(reader)), Detected { compression: found, format: "json" }))
        }
        None if crate::lineprotocol::sniff(&head) => {
            let reader = JsonReader::new(input, crate::json::Shape::LineProtocol, options)?;
            let detected = Detected { compression: found, format: "line_protocol" };
            Ok((Source::Json(Box::new(reader)), detected))
        }
        None => {
            let reader = Reader::new(input, options)?;
            Ok((
                Source::Delimited(Box::new(reader)),
                Detected { compression: found, format: "csv" },
            ))
        }
    }
}

/// The first bytes of `input`, and `input` from its start again.
fn peek(mut input: Box<dyn Read + Send>) -> Result<(Vec<u8>, Box<dyn Read + Send>), ReadError> {
    let mut head = Vec::with_capacity(HEAD_BYTES);
    (&mut input).take(HEAD_BYTES as u64).read_to_end(&mut head)?;
    let again: Box<dyn Read + Send> = Box::new(Cursor::new(head.clone()).chain(input));
    Ok((head, again))
}

impl Source {
    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        match self {
            Self::Delimited(reader) => reader.schema(),
            Self::Json(reader) => reader.schema(),
            Self::Columnar(reader) => reader.schema(),
        }
    }

    /// The CPU time, in microseconds, of threads the reader runs besides the caller's
    /// (delimited text is cut and parsed on its own threads): final once it is dropped.
    pub fn thread_cpu(&self) -> Arc<AtomicU64> {
        match self {
            Self::Delimited(reader) => reader.thread_cpu(),
            Self::Json(_) | Self::Columnar(_) => Arc::new(AtomicU64::new(0)),
        }
    }

    /// How the file is read.
    pub fn mapping(&self) -> &Proposal {
        match self {
            Self::Delimited(reader) => reader.mapping(),
            Self::Json(reader) => reader.mapping(),
            Self::Columnar(reader) => reader.mapping(),
        }
    }

    /// The column names.
    pub fn names(&self) -> &[String] {
        match self {
            Self::Delimited(reader) => reader.names(),
            Self::Json(reader) => reader.names(),
            Self::Columnar(reader) => reader.names(),
        }
    }

    /// The first rows or records, as they are in the file.
    pub fn sample(&self) -> &[String] {
        match self {
            Self::Delimited(reader) => reader.sample(),
            Self::Json(reader) => reader.sample(),
            Self::Columnar(reader) => reader.sample(),
        }
    }

    /// Takes the rows set aside so far.
    pub fn drain_rejects(&mut self) -> Vec<Reject> {
        match self {
            Self::Delimited(reader) => reader.drain_rejects().collect(),
            Self::Json(reader) => reader.drain_rejects().collect(),
            Self::Columnar(reader) => reader.drain_rejects().collect(),
        }
    }

    /// Things the person should check, beyond the mapping's own warnings.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = self.mapping().warnings.clone();
        if let Self::Delimited(reader) = self {
            warnings.extend(reader.warnings());
        }
        if let Self::Json(reader) = self
            && !reader.ignored_keys().is_empty()
        {
            warnings.push(format!(
                "keys first seen after the first 1000 records were left out: {}",
                reader.ignored_keys().join(", ")
            ));
        }
        warnings
    }
}

impl Iterator for Source {
    type Item = Result<RecordBatch, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Delimited(reader) => reader.next(),
            Self::Json(reader) => reader.next(),
            Self::Columnar(reader) => reader.next(),
        }
    }
}
