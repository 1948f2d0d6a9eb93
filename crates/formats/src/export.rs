//! Writing canonical batches (series, UTC time in microseconds, value columns) out in the
//! format the next tool wants, one batch at a time, in bounded memory: delimited text (CSV,
//! TSV, any delimiter and decimal mark, times as RFC 3339, epoch seconds, milliseconds or
//! microseconds or a strftime pattern, in any zone), JSON (an array of records, or records
//! per series), JSON Lines, Parquet, Arrow IPC (file, stream and Feather), Avro, Excel,
//! InfluxDB line protocol, OpenMetrics text and a PostgreSQL/TimescaleDB load script, each
//! optionally inside gzip or Zstandard, or split by series into a zip.
//!
//! Numbers are written exactly: floats in their shortest form that reads back to the same
//! bits, integers as they are. What a format cannot hold is refused with the row named,
//! never dropped or rounded: JSON and line protocol have no infinities or NaN, and line
//! protocol needs a value in every row.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, SchemaRef};

/// What can go wrong while writing an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output failed.
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
    /// The Arrow or Parquet encoder failed.
    #[error("encoding the export failed: {0}")]
    Encode(String),
    /// The options do not make sense together, or name no known format.
    #[error("{0}")]
    Options(String),
    /// A value the format cannot hold.
    #[error("{0}")]
    Unrepresentable(String),
    /// A batch that is not in the canonical layout (series, time, values).
    #[error("the batch is not a canonical table: {0}")]
    Layout(String),
}

impl From<arrow_schema::ArrowError> for ExportError {
    fn from(error: arrow_schema::ArrowError) -> Self {
        Self::Encode(error.to_string())
    }
}

impl From<parquet::errors::ParquetError> for ExportError {
    fn from(error: parquet::errors::ParquetError) -> Self {
        Self::Encode(error.to_string())
    }
}

/// The formats an export can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated text (or any delimiter).
    Csv,
    /// Tab-separated text.
    Tsv,
    /// One JSON document: an array of records, or an object of records per series.
    Json,
    /// One JSON record per line.
    JsonLines,
    /// Parquet, zstd, the canonical schema.
    Parquet,
    /// The Arrow IPC file format.
    ArrowFile,
    /// The Arrow IPC stream format.
    ArrowStream,
    /// Feather (version 2, the Arrow IPC file format).
    Feather,
    /// InfluxDB line protocol (QuestDB reads it too).
    LineProtocol,
    /// An Avro object container file (deflate blocks).
    Avro,
    /// An Excel workbook: real dates and numbers, a frozen header.
    Xlsx,
    /// OpenMetrics text (Prometheus reads it, `promtool tsdb create-blocks-from openmetrics`).
    OpenMetrics,
    /// A psql script: `CREATE TABLE` (a hypertable where TimescaleDB is installed) and the
    /// rows as `COPY ... FROM STDIN` CSV.
    Timescale,
}

impl Format {
    /// Every format, with the names it is asked for by.
    pub const ALL: [(Format, &'static str); 13] = [
        (Format::Csv, "csv"),
        (Format::Tsv, "tsv"),
        (Format::Json, "json"),
        (Format::JsonLines, "jsonl"),
        (Format::Parquet, "parquet"),
        (Format::ArrowFile, "arrow"),
        (Format::ArrowStream, "arrows"),
        (Format::Feather, "feather"),
        (Format::LineProtocol, "lp"),
        (Format::Avro, "avro"),
        (Format::Xlsx, "xlsx"),
        (Format::OpenMetrics, "openmetrics"),
        (Format::Timescale, "timescale"),
    ];

    /// Its name, as asked for.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(f, _)| *f == self).map(|(_, n)| *n).unwrap_or("csv")
    }

    /// The extension of a file of this format, without its dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::OpenMetrics => "om",
            Format::Timescale => "sql",
            other => other.name(),
        }
    }

    /// The media type of a file of this format.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Tsv => "text/tab-separated-values; charset=utf-8",
            Format::Json => "application/json",
            Format::JsonLines => "application/jsonl",
            Format::Parquet => "application/vnd.apache.parquet",
            Format::ArrowFile | Format::Feather => "application/vnd.apache.arrow.file",
            Format::ArrowStream => "application/vnd.apache.arrow.stream",
            Format::LineProtocol => "text/plain; charset=utf-8",
            Format::Avro => "application/avro",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Timescale => "application/sql; charset=utf-8",
        }
    }

    /// Whether the format is text (and so worth compressing).
    pub fn is_text(self) -> bool {
        matches!(
            self,
            Format::Csv
                | Format::Tsv
                | Format::Json
                | Format::JsonLines
                | Format::LineProtocol
                | Format::OpenMetrics
                | Format::Timescale
        )
    }
}

impl std::str::FromStr for Format {
    type Err = ExportError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase();
        let alias = match wanted.as_str() {
            "ndjson" | "jsonlines" => "jsonl",
            "ipc" | "arrow-file" => "arrow",
            "arrow-stream" => "arrows",
            "line-protocol" | "influx" | "questdb" | "ilp" => "lp",
            "excel" => "xlsx",
            "prometheus" | "prom" | "om" => "openmetrics",
            "sql" | "postgres" | "postgresql" | "timescaledb" => "timescale",
            other => other,
        };
        Self::ALL.iter().find(|(_, name)| *name == alias).map(|(f, _)| *f).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|(_, n)| *n).collect();
            ExportError::Options(format!(
                "unknown export format {text:?}: expected one of {}",
                names.join(", ")
            ))
        })
    }
}

/// A compression around the whole output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Packing {
    /// None.
    #[default]
    Plain,
    /// gzip (`.gz`).
    Gzip,
    /// Zstandard (`.zst`).
    Zstd,
    /// A zip with one file per series (`.zip`).
    Zip,
}

impl Packing {
    /// The file extension it adds, with its dot; empty for none.
    pub fn extension(self) -> &'static str {
        match self {
            Packing::Plain => "",
            Packing::Gzip => ".gz",
            Packing::Zstd => ".zst",
            Packing::Zip => ".zip",
        }
    }
}

/// The format and packing a file name asks for by its extension (`prices.csv.gz`), if known.
pub fn format_for_path(path: &Path) -> Option<(Format, Packing)> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let (name, packing) = if let Some(stem) = name.strip_suffix(".gz") {
        (stem, Packing::Gzip)
    } else if let Some(stem) = name.strip_suffix(".zst") {
        (stem, Packing::Zstd)
    } else if let Some(stem) = name.strip_suffix(".zip") {
        // A bare `.zip` holds CSV.
        return Some(match stem.rsplit_once('.') {
            Some(_) => (format_for_path(Path::new(stem))?.0, Packing::Zip),
            None => (Format::Csv, Packing::Zip),
        });
    } else {
        (name.as_str(), Packing::Plain)
    };
    let extension = name.rsplit_once('.')?.1;
    let format = match extension {
        "csv" | "txt" => Format::Csv,
        "tsv" | "tab" => Format::Tsv,
        "json" => Format::Json,
        "jsonl" | "ndjson" => Format::JsonLines,
        "parquet" | "pq" => Format::Parquet,
        "arrow" | "ipc" => Format::ArrowFile,
        "arrows" => Format::ArrowStream,
        "feather" => Format::Feather,
        "lp" | "influx" | "ilp" => Format::LineProtocol,
        "avro" => Format::Avro,
        "xlsx" => Format::Xlsx,
        "om" | "prom" => Format::OpenMetrics,
        "sql" => Format::Timescale,
        _ => return None,
    };
    Some((format, packing))
}

/// How times are written in text formats.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// RFC 3339, with fractions of a second only when there are some.
    #[default]
    Rfc3339,
    /// Seconds since 1970 (with a fraction when there is one).
    EpochSeconds,
    /// Milliseconds since 1970 (with a fraction when there is one).
    EpochMillis,
    /// Microseconds since 1970.
    EpochMicros,
    /// A strftime pattern, such as `%Y-%m-%d %H:%M:%S`.
    Pattern(String),
}

impl std::str::FromStr for TimeFormat {
    type Err = ExportError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "" | "rfc3339" | "iso" | "iso8601" => Ok(Self::Rfc3339),
            "s" | "epoch" | "epoch_s" => Ok(Self::EpochSeconds),
            "ms" | "epoch_ms" => Ok(Self::EpochMillis),
            "us" | "epoch_us" => Ok(Self::EpochMicros),
            pattern if pattern.contains('%') => {
                use chrono::format::{Item, StrftimeItems};
                if StrftimeItems::new(pattern).any(|item| matches!(item, Item::Error)) {
                    return Err(ExportError::Options(format!(
                        "the time pattern {pattern:?} is not a valid strftime pattern"
                    )));
                }
                Ok(Self::Pattern(pattern.to_owned()))
            }
            other => Err(ExportError::Options(format!(
                "unknown time format {other:?}: expected rfc3339, s, ms, us or a strftime \
                 pattern such as %Y-%m-%d %H:%M:%S"
            ))),
        }
    }
}

/// How JSON is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JsonLayout {
    /// An array of records, each with its series and time.
    #[default]
    Records,
    /// An object with one array of records per series.
    BySeries,
}

impl std::str::FromStr for JsonLayout {
    type Err = ExportError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "" | "records" => Ok(Self::Records),
            "series" | "by_series" => Ok(Self::BySeries),
            other => Err(ExportError::Options(format!(
                "unknown JSON layout {other:?}: expected records or series"
            ))),
        }
    }
}

/// How a workbook's sheets are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SheetLayout {
    /// One sheet of every row (continued on a next sheet past Excel's 1,048,575 rows).
    #[default]
    One,
    /// A sheet per series, named after it.
    PerSeries,
}

impl std::str::FromStr for SheetLayout {
    type Err = ExportError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "" | "one" => Ok(Self::One),
            "series" | "per_series" => Ok(Self::PerSeries),
            other => Err(ExportError::Options(format!(
                "unknown sheet layout {other:?}: expected one or series"
            ))),
        }
    }
}

/// How an export is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    pub format: Format,
    pub packing: Packing,
    /// The delimiter of delimited text (default: `,` for CSV, a tab for TSV; `;` for CSV
    /// with a decimal comma).
    pub delimiter: Option<u8>,
    /// Write decimals with a comma (`1,5`) in delimited text.
    pub decimal_comma: bool,
    /// How times are written in text formats.
    pub time: TimeFormat,
    /// The zone times are written in (text formats; default UTC).
    pub zone: chrono_tz::Tz,
    /// How JSON is laid out.
    pub json: JsonLayout,
    /// How a workbook's sheets are laid out.
    pub sheets: SheetLayout,
    /// The table a PostgreSQL/TimescaleDB script creates and fills (default
    /// `variosync_export`).
    pub table: Option<String>,
}

impl ExportOptions {
    /// The defaults for `format`.
    pub fn new(format: Format) -> Self {
        Self {
            format,
            packing: Packing::Plain,
            delimiter: None,
            decimal_comma: false,
            time: TimeFormat::Rfc3339,
            zone: chrono_tz::UTC,
            json: JsonLayout::Records,
            sheets: SheetLayout::One,
            table: None,
        }
    }

    /// The delimiter delimited text is written with.
    fn field_delimiter(&self) -> u8 {
        match (self.delimiter, self.format) {
            (Some(d), _) => d,
            (None, Format::Tsv) => b'\t',
            (None, _) if self.decimal_comma => b';',
            (None, _) => b',',
        }
    }

    /// Checks the options make sense together.
    pub fn validate(&self) -> Result<(), ExportError> {
        let delimiter = self.field_delimiter();
        if matches!(self.format, Format::Csv | Format::Tsv) {
            if matches!(delimiter, b'"' | b'\n' | b'\r') || !delimiter.is_ascii() {
                return Err(ExportError::Options(format!(
                    "the delimiter {:?} cannot separate fields: choose a comma, semicolon, tab, \
                     pipe or another ASCII character",
                    delimiter as char
                )));
            }
            if self.decimal_comma && delimiter == b',' {
                return Err(ExportError::Options(
                    "a decimal comma needs another delimiter than the comma: choose ; or a tab"
                        .to_owned(),
                ));
            }
        }
        if let Some(table) = &self.table
            && (table.is_empty() || table.len() > 63 || table.contains('\0'))
        {
            return Err(ExportError::Options(format!(
                "the table name {table:?} is not a PostgreSQL name: 1 to 63 bytes, no NUL \
                 character"
            )));
        }
        Ok(())
    }

    /// The table a PostgreSQL/TimescaleDB script creates and fills.
    pub fn table_name(&self) -> &str {
        self.table.as_deref().unwrap_or("variosync_export")
    }

    /// The media type of the file these options write.
    pub fn media_type(&self) -> &'static str {
        match self.packing {
            Packing::Plain => self.format.media_type(),
            Packing::Gzip => "application/gzip",
            Packing::Zstd => "application/zstd",
            Packing::Zip => "application/zip",
        }
    }

    /// The file name for an export of `stem` (already safe) with these options.
    pub fn file_name(&self, stem: &str) -> String {
        format!("{stem}.{}{}", self.format.extension(), self.packing.extension())
    }
}

/// Writes canonical batches, one at a time, then finishes the output.
pub trait BatchWriter: Send {
    /// Writes the rows of `batch` (in the schema the writer was made for).
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError>;
    /// Writes what closes the output (a footer, a closing bracket, the compressor's end).
    fn finish(self: Box<Self>) -> Result<(), ExportError>;
}

/// The output, inside its packing.
enum Sink<W: Write> {
    Plain(std::io::BufWriter<W>),
    Gzip(flate2::write::GzEncoder<std::io::BufWriter<W>>),
    Zstd(zstd::Encoder<'static, std::io::BufWriter<W>>),
}

impl<W: Write> Sink<W> {
    fn new(out: W, packing: Packing) -> Result<Self, ExportError> {
        let out = std::io::BufWriter::with_capacity(256 * 1024, out);
        Ok(match packing {
            // A zip's members are written plain, each into its own entry.
            Packing::Plain | Packing::Zip => Self::Plain(out),
            Packing::Gzip => {
                Self::Gzip(flate2::write::GzEncoder::new(out, flate2::Compression::default()))
            }
            Packing::Zstd => Self::Zstd(zstd::Encoder::new(out, 3)?),
        })
    }

    fn finish(self) -> Result<(), ExportError> {
        let mut out = match self {
            Self::Plain(out) => out,
            Self::Gzip(encoder) => encoder.finish()?,
            Self::Zstd(encoder) => encoder.finish()?,
        };
        out.flush()?;
        Ok(())
    }
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(out) => out.write(bytes),
            Self::Gzip(out) => out.write(bytes),
            Self::Zstd(out) => out.write(bytes),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Plain(out) => out.write_all(bytes),
            Self::Gzip(out) => out.write_all(bytes),
            Self::Zstd(out) => out.write_all(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(out) => out.flush(),
            Self::Gzip(out) => out.flush(),
            Self::Zstd(out) => out.flush(),
        }
    }
}

/// A writer of `options.format` for batches of `schema` (canonical: series, time, values),
/// writing to `out`.
pub fn writer<W: Write + Send + 'static>(
    out: W,
    schema: SchemaRef,
    options: &ExportOptions,
) -> Result<Box<dyn BatchWriter>, ExportError> {
    options.validate()?;
    check_layout(&schema)?;
    if options.packing == Packing::Zip {
        return Ok(Box::new(zipped::Zipped::new(out, schema, options)?));
    }
    unzipped_writer(out, schema, options)
}

/// A writer of `options.format` that is not a zip (a zip's entries are written by these).
fn unzipped_writer<W: Write + Send + 'static>(
    out: W,
    schema: SchemaRef,
    options: &ExportOptions,
) -> Result<Box<dyn BatchWriter>, ExportError> {
    let sink = Sink::new(out, options.packing)?;
    Ok(match options.format {
        Format::Csv | Format::Tsv => Box::new(Delimited::new(sink, &schema, options)?),
        Format::Json | Format::JsonLines => Box::new(JsonWriter::new(sink, &schema, options)),
        Format::LineProtocol => Box::new(LineProtocol::new(sink, &schema)),
        Format::Parquet => {
            // The canonical file's own schema: series dictionary-encoded, as imports write it.
            let properties = crate::parquet_out::writer_properties(&schema);
            let writer =
                parquet::arrow::ArrowWriter::try_new(sink, schema.clone(), Some(properties))?;
            Box::new(ParquetOut(writer, schema))
        }
        Format::ArrowFile | Format::Feather => {
            let schema = export_schema(&schema);
            Box::new(Ipc::File(arrow_ipc::writer::FileWriter::try_new(sink, &schema)?, schema))
        }
        Format::ArrowStream => {
            let schema = export_schema(&schema);
            Box::new(Ipc::Stream(arrow_ipc::writer::StreamWriter::try_new(sink, &schema)?, schema))
        }
        Format::Avro => {
            let (schema, avro) = avro_schema(&schema);
            let writer = arrow_avro::writer::WriterBuilder::new(avro)
                .with_compression(Some(arrow_avro::compression::CompressionCodec::Deflate))
                .build::<_, arrow_avro::writer::format::AvroOcfFormat>(sink)
                .map_err(|e| ExportError::Encode(e.to_string()))?;
            Box::new(AvroOut(writer, schema))
        }
        Format::Xlsx => Box::new(xlsx::Xlsx::new(sink, &schema, options)?),
        Format::OpenMetrics => Box::new(openmetrics::OpenMetrics::new(sink, &schema)?),
        Format::Timescale => Box::new(timescale::Timescale::new(sink, &schema, options)?),
    })
}

mod openmetrics;
mod timescale;
mod xlsx;
mod zipped;

/// The metadata key that keeps a column's own name where a format renames it (Avro allows
/// only letters, digits and `_` in names); the importer reads it back.
pub const ORIGINAL_NAME_KEY: &str = "variosync.name";

/// The export schema with Avro's names (letters, digits and `_`, not starting with a digit,
/// each unique), each renamed field keeping its own name in its metadata; and the same
/// schema for the Avro writer.
fn avro_schema(schema: &arrow_schema::Schema) -> (SchemaRef, arrow_schema::Schema) {
    let plain = export_schema(schema);
    let mut used = std::collections::HashSet::new();
    let fields: Vec<arrow_schema::Field> = plain
        .fields()
        .iter()
        .map(|field| {
            let mut name: String = field
                .name()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
                .collect();
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                name.insert(0, '_');
            }
            let base = name.clone();
            let mut n = 2;
            while !used.insert(name.clone()) {
                name = format!("{base}_{n}");
                n += 1;
            }
            let mut field = field.as_ref().clone();
            if name != *field.name() {
                let mut metadata = field.metadata().clone();
                metadata.insert(ORIGINAL_NAME_KEY.to_owned(), field.name().clone());
                field = field.with_name(name).with_metadata(metadata);
            }
            field
        })
        .collect();
    let avro = arrow_schema::Schema::new_with_metadata(fields, plain.metadata().clone());
    (Arc::new(avro.clone()), avro)
}

struct AvroOut<W: Write + Send>(
    arrow_avro::writer::Writer<Sink<W>, arrow_avro::writer::format::AvroOcfFormat>,
    SchemaRef,
);

impl<W: Write + Send> BatchWriter for AvroOut<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        let columns: Vec<ArrayRef> =
            plain_series(batch, &export_schema(&batch.schema()))?.columns().to_vec();
        let batch = RecordBatch::try_new(self.1.clone(), columns)?;
        self.0.write(&batch).map_err(|e| ExportError::Encode(e.to_string()))
    }

    fn finish(self: Box<Self>) -> Result<(), ExportError> {
        let mut writer = self.0;
        writer.finish().map_err(|e| ExportError::Encode(e.to_string()))?;
        writer.into_inner().finish()
    }
}

fn check_layout(schema: &arrow_schema::Schema) -> Result<(), ExportError> {
    let fields = schema.fields();
    let series_ok = fields.first().is_some_and(|f| {
        matches!(f.data_type(), DataType::Utf8)
            || matches!(f.data_type(), DataType::Dictionary(k, v)
                if **k == DataType::Int32 && **v == DataType::Utf8)
    });
    let time_ok = fields.get(1).is_some_and(|f| {
        matches!(f.data_type(), DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, _))
    });
    if !series_ok || !time_ok {
        return Err(ExportError::Layout(
            "expected the series (text) first and the time (microseconds) second".to_owned(),
        ));
    }
    for field in fields.iter().skip(2) {
        if !matches!(
            field.data_type(),
            DataType::Float64 | DataType::Int64 | DataType::Boolean | DataType::Utf8
        ) {
            return Err(ExportError::Layout(format!(
                "the column {} is {}, not a number, boolean or text",
                field.name(),
                field.data_type()
            )));
        }
    }
    Ok(())
}

/// The series of each row of a canonical batch, as plain text.
fn series_of(batch: &RecordBatch) -> Result<StringArray, ExportError> {
    let column = batch.column(0);
    let plain = arrow_cast::cast(column, &DataType::Utf8)?;
    Ok(plain.as_string::<i32>().clone())
}

fn times_of(batch: &RecordBatch) -> &[i64] {
    batch.column(1).as_primitive::<TimestampMicrosecondType>().values()
}

/// A float in its shortest form that reads back to the same bits, always with a decimal
/// point or an exponent so that it reads back as a float (`1.0`, `0.1`, `1e-7`).
fn push_float(out: &mut String, value: f64) {
    let mut buffer = ryu::Buffer::new();
    out.push_str(buffer.format(value));
}

/// The time of `micros` as text, by `options`.
struct Times {
    format: TimeFormat,
    zone: chrono_tz::Tz,
}

impl Times {
    fn push(&self, out: &mut String, micros: i64) {
        use std::fmt::Write as _;
        match &self.format {
            TimeFormat::EpochMicros => {
                let _ = write!(out, "{micros}");
            }
            TimeFormat::EpochMillis => push_scaled(out, micros, 1_000),
            TimeFormat::EpochSeconds => push_scaled(out, micros, 1_000_000),
            TimeFormat::Rfc3339 if self.push_rfc3339(out, micros) => {}
            TimeFormat::Rfc3339 => match chrono::DateTime::from_timestamp_micros(micros) {
                Some(at) => {
                    let at = at.with_timezone(&self.zone);
                    let pattern = if micros % 1_000_000 == 0 {
                        "%Y-%m-%dT%H:%M:%S%:z"
                    } else if micros % 1_000 == 0 {
                        "%Y-%m-%dT%H:%M:%S%.3f%:z"
                    } else {
                        "%Y-%m-%dT%H:%M:%S%.6f%:z"
                    };
                    let start = out.len();
                    let _ = write!(out, "{}", at.format(pattern));
                    if out.ends_with("+00:00") && self.zone == chrono_tz::UTC {
                        out.truncate(out.len() - 6);
                        out.push('Z');
                    }
                    debug_assert!(out.len() > start);
                }
                None => {
                    let _ = write!(out, "{micros}");
                }
            },
            TimeFormat::Pattern(pattern) => match chrono::DateTime::from_timestamp_micros(micros) {
                Some(at) => {
                    let _ = write!(out, "{}", at.with_timezone(&self.zone).format(pattern));
                }
                None => {
                    let _ = write!(out, "{micros}");
                }
            },
        }
    }
}

impl Times {
    /// RFC 3339 without chrono's formatter (the hot path of text exports): the local time
    /// digit by digit, fractions only when there are some, `Z` in UTC or the zone's offset.
    /// False (nothing written) for a year outside 0 to 9999, which chrono then writes.
    fn push_rfc3339(&self, out: &mut String, micros: i64) -> bool {
        use chrono::{Offset, TimeZone};
        let offset = if self.zone == chrono_tz::UTC {
            None
        } else {
            let Some(at) = chrono::DateTime::from_timestamp_micros(micros) else { return false };
            Some(self.zone.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc())
        };
        if offset.is_some_and(|seconds| seconds % 60 != 0) {
            // A local mean time of old, offset by seconds: chrono writes it as it always has.
            return false;
        }
        let Some(local) = micros.checked_add(i64::from(offset.unwrap_or(0)) * 1_000_000) else {
            return false;
        };
        let seconds = local.div_euclid(1_000_000);
        let fraction = local.rem_euclid(1_000_000);
        let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            return false;
        }
        let mut text = [0u8; 32];
        let mut n = 0;
        put_digits(&mut text, &mut n, year as u32, 4, b'-');
        put_digits(&mut text, &mut n, month, 2, b'-');
        put_digits(&mut text, &mut n, day, 2, b'T');
        put_digits(&mut text, &mut n, (second_of_day / 3600) as u32, 2, b':');
        put_digits(&mut text, &mut n, (second_of_day / 60 % 60) as u32, 2, b':');
        let seconds = (second_of_day % 60) as u32;
        if fraction == 0 {
            put_digits(&mut text, &mut n, seconds, 2, 0);
        } else {
            put_digits(&mut text, &mut n, seconds, 2, b'.');
            if fraction % 1_000 == 0 {
                put_digits(&mut text, &mut n, (fraction / 1_000) as u32, 3, 0);
            } else {
                put_digits(&mut text, &mut n, fraction as u32, 6, 0);
            }
        }
        match offset {
            None => {
                text[n] = b'Z';
                n += 1;
            }
            Some(offset) => {
                text[n] = if offset < 0 { b'-' } else { b'+' };
                n += 1;
                let minutes = offset.unsigned_abs() / 60;
                put_digits(&mut text, &mut n, minutes / 60, 2, b':');
                put_digits(&mut text, &mut n, minutes % 60, 2, 0);
            }
        }
        // Only ASCII digits and punctuation were written.
        out.push_str(std::str::from_utf8(&text[..n]).unwrap_or_default());
        true
    }
}

/// Writes `value` as `width` digits at `text[*n..]`, then `separator` unless it is 0.
fn put_digits(text: &mut [u8; 32], n: &mut usize, value: u32, width: usize, separator: u8) {
    let mut value = value;
    for i in (0..width).rev() {
        text[*n + i] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    *n += width;
    if separator != 0 {
        text[*n] = separator;
        *n += 1;
    }
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `micros / unit`, exactly: an integer, or with the fraction's digits.
fn push_scaled(out: &mut String, micros: i64, unit: i64) {
    use std::fmt::Write as _;
    let (whole, rest) = (micros.div_euclid(unit), micros.rem_euclid(unit));
    if rest == 0 {
        let _ = write!(out, "{whole}");
        return;
    }
    // A negative time with a fraction: -1.5 is whole -2 and rest 0.5.
    let (whole, rest) = if micros < 0 { (whole + 1, unit - rest) } else { (whole, rest) };
    let digits = if unit == 1_000 { 3 } else { 6 };
    let fraction = format!("{rest:0digits$}");
    let sign = if micros < 0 && whole == 0 { "-" } else { "" };
    let _ = write!(out, "{sign}{whole}.{}", fraction.trim_end_matches('0'));
}

/// CSV, TSV and other delimited text.
struct Delimited<W: Write> {
    out: Sink<W>,
    delimiter: char,
    decimal_comma: bool,
    times: Times,
    line: String,
}

impl<W: Write> Delimited<W> {
    fn new(
        mut out: Sink<W>,
        schema: &arrow_schema::Schema,
        options: &ExportOptions,
    ) -> Result<Self, ExportError> {
        let delimiter = options.field_delimiter() as char;
        let mut header = String::new();
        for (i, field) in schema.fields().iter().enumerate() {
            if i > 0 {
                header.push(delimiter);
            }
            push_field(&mut header, field.name(), delimiter);
        }
        header.push('\n');
        out.write_all(header.as_bytes())?;
        Ok(Self {
            out,
            delimiter,
            decimal_comma: options.decimal_comma,
            times: Times { format: options.time.clone(), zone: options.zone },
            line: String::new(),
        })
    }
}

/// A field of delimited text, quoted when it holds the delimiter, a quote or a line break,
/// or starts or ends with a space.
fn push_field(line: &mut String, text: &str, delimiter: char) {
    let needs_quotes =
        text.contains([delimiter, '"', '\n', '\r']) || text.starts_with(' ') || text.ends_with(' ');
    if needs_quotes {
        line.push('"');
        line.push_str(&text.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(text);
    }
}

impl<W: Write + Send> BatchWriter for Delimited<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        let series = series_of(batch)?;
        let times = times_of(batch);
        let mut line = std::mem::take(&mut self.line);
        for (row, &at) in times.iter().enumerate() {
            line.clear();
            push_field(&mut line, series.value(row), self.delimiter);
            line.push(self.delimiter);
            self.times.push(&mut line, at);
            for column in batch.columns().iter().skip(2) {
                line.push(self.delimiter);
                if column.is_null(row) {
                    continue;
                }
                match column.data_type() {
                    DataType::Float64 => {
                        let start = line.len();
                        push_float(&mut line, column.as_primitive::<Float64Type>().value(row));
                        if self.decimal_comma
                            && let Some(at) = line[start..].find('.')
                        {
                            line.replace_range(start + at..start + at + 1, ",");
                        }
                    }
                    DataType::Int64 => {
                        use std::fmt::Write as _;
                        let _ = write!(line, "{}", column.as_primitive::<Int64Type>().value(row));
                    }
                    DataType::Boolean => {
                        line.push_str(if column.as_boolean().value(row) { "true" } else { "false" })
                    }
                    _ => {
                        push_field(&mut line, column.as_string::<i32>().value(row), self.delimiter)
                    }
                }
            }
            line.push('\n');
            self.out.write_all(line.as_bytes())?;
        }
        self.line = line;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), ExportError> {
        self.out.finish()
    }
}

/// JSON (an array of records, or records per series) and JSON Lines.
struct JsonWriter<W: Write> {
    out: Sink<W>,
    names: Vec<String>,
    layout: Option<JsonLayout>,
    times: Times,
    /// The series whose array is open (records per series).
    open: Option<String>,
    first: bool,
    line: String,
}

impl<W: Write> JsonWriter<W> {
    fn new(out: Sink<W>, schema: &arrow_schema::Schema, options: &ExportOptions) -> Self {
        let names = schema.fields().iter().map(|f| json_string(f.name())).collect();
        let layout = (options.format == Format::Json).then_some(options.json);
        Self {
            out,
            names,
            layout,
            times: Times { format: options.time.clone(), zone: options.zone },
            open: None,
            first: true,
            line: String::new(),
        }
    }

    fn push_time(&self, line: &mut String, micros: i64) {
        match self.times.format {
            TimeFormat::Rfc3339 | TimeFormat::Pattern(_) => {
                let mut text = String::new();
                self.times.push(&mut text, micros);
                line.push_str(&json_string(&text));
            }
            _ => self.times.push(line, micros),
        }
    }
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// What `series` and `at` name in an error.
fn row_label(series: &str, micros: i64) -> String {
    let at = chrono::DateTime::from_timestamp_micros(micros)
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| micros.to_string());
    format!("series {series:?} at {at}")
}

impl<W: Write + Send> BatchWriter for JsonWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        use std::fmt::Write as _;
        let series = series_of(batch)?;
        let times = times_of(batch);
        let mut line = std::mem::take(&mut self.line);
        for (row, &at) in times.iter().enumerate() {
            line.clear();
            let name = series.value(row);
            match self.layout {
                Some(JsonLayout::Records) => line.push_str(if self.first { "[\n" } else { ",\n" }),
                Some(JsonLayout::BySeries) => {
                    if self.open.as_deref() != Some(name) {
                        line.push_str(if self.first { "{\n" } else { "\n],\n" });
                        let _ = writeln!(line, "{}: [", json_string(name));
                        self.open = Some(name.to_owned());
                    } else {
                        line.push_str(",\n");
                    }
                }
                None => {}
            }
            self.first = false;
            line.push('{');
            let mut fields = 0;
            if self.layout != Some(JsonLayout::BySeries) {
                let _ = write!(line, "{}:{}", self.names[0], json_string(name));
                fields += 1;
            }
            if fields > 0 {
                line.push(',');
            }
            let _ = write!(line, "{}:", self.names[1]);
            self.push_time(&mut line, at);
            for (index, column) in batch.columns().iter().enumerate().skip(2) {
                let _ = write!(line, ",{}:", self.names[index]);
                if column.is_null(row) {
                    line.push_str("null");
                    continue;
                }
                match column.data_type() {
                    DataType::Float64 => {
                        let value = column.as_primitive::<Float64Type>().value(row);
                        if !value.is_finite() {
                            return Err(ExportError::Unrepresentable(format!(
                                "JSON has no {value}: the column {} of {} holds one; export \
                                 to CSV, Parquet or Arrow instead",
                                self.names[index],
                                row_label(name, at)
                            )));
                        }
                        push_float(&mut line, value);
                    }
                    DataType::Int64 => {
                        let _ = write!(line, "{}", column.as_primitive::<Int64Type>().value(row));
                    }
                    DataType::Boolean => {
                        line.push_str(if column.as_boolean().value(row) { "true" } else { "false" })
                    }
                    _ => line.push_str(&json_string(column.as_string::<i32>().value(row))),
                }
            }
            line.push('}');
            if self.layout.is_none() {
                line.push('\n');
            }
            self.out.write_all(line.as_bytes())?;
        }
        self.line = line;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        let end = match (self.layout, self.first) {
            (Some(JsonLayout::Records), true) => "[]\n",
            (Some(JsonLayout::Records), false) => "\n]\n",
            (Some(JsonLayout::BySeries), true) => "{}\n",
            (Some(JsonLayout::BySeries), false) => "\n]\n}\n",
            (None, _) => "",
        };
        self.out.write_all(end.as_bytes())?;
        self.out.finish()
    }
}

/// InfluxDB line protocol: the series is the measurement (commas and spaces escaped), the
/// value columns are fields, the time is in nanoseconds.
struct LineProtocol<W: Write> {
    out: Sink<W>,
    keys: Vec<String>,
    line: String,
}

impl<W: Write> LineProtocol<W> {
    fn new(out: Sink<W>, schema: &arrow_schema::Schema) -> Self {
        let keys = schema.fields().iter().map(|f| lp_escape(f.name(), &[',', '=', ' '])).collect();
        Self { out, keys, line: String::new() }
    }
}

/// `text` with each of `special` (and backslashes) escaped by a backslash.
fn lp_escape(text: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\\' || special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl<W: Write + Send> BatchWriter for LineProtocol<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        use std::fmt::Write as _;
        let series = series_of(batch)?;
        let times = times_of(batch);
        let mut line = std::mem::take(&mut self.line);
        // The series and its measurement, escaped once per run of rows.
        let mut measurement: Option<(String, String)> = None;
        for (row, &at) in times.iter().enumerate() {
            line.clear();
            let name = series.value(row);
            if measurement.as_ref().is_none_or(|(of, _)| of != name) {
                if name.contains(['\n', '\r']) {
                    return Err(ExportError::Unrepresentable(format!(
                        "line protocol cannot hold a line break in a measurement: the series \
                         {name:?}; export to CSV, Parquet or Arrow instead"
                    )));
                }
                measurement = Some((name.to_owned(), lp_escape(name, &[',', ' '])));
            }
            line.push_str(measurement.as_ref().map(|(_, m)| m.as_str()).unwrap_or_default());
            let mut fields = 0;
            for (index, column) in batch.columns().iter().enumerate().skip(2) {
                if column.is_null(row) {
                    continue;
                }
                line.push(if fields == 0 { ' ' } else { ',' });
                fields += 1;
                let _ = write!(line, "{}=", self.keys[index]);
                match column.data_type() {
                    DataType::Float64 => {
                        let value = column.as_primitive::<Float64Type>().value(row);
                        if !value.is_finite() {
                            return Err(ExportError::Unrepresentable(format!(
                                "line protocol has no {value}: the column {} of {} holds one; \
                                 export to CSV, Parquet or Arrow instead",
                                self.keys[index],
                                row_label(name, at)
                            )));
                        }
                        push_float(&mut line, value);
                    }
                    DataType::Int64 => {
                        let _ = write!(line, "{}i", column.as_primitive::<Int64Type>().value(row));
                    }
                    DataType::Boolean => {
                        line.push_str(if column.as_boolean().value(row) { "true" } else { "false" })
                    }
                    _ => {
                        let text = column.as_string::<i32>().value(row);
                        if text.contains(['\n', '\r']) {
                            return Err(ExportError::Unrepresentable(format!(
                                "line protocol cannot hold a line break in a string: the column \
                                 {} of {}; export to CSV, Parquet or Arrow instead",
                                self.keys[index],
                                row_label(name, at)
                            )));
                        }
                        let _ = write!(line, "\"{}\"", lp_escape(text, &['"']));
                    }
                }
            }
            if fields == 0 {
                return Err(ExportError::Unrepresentable(format!(
                    "line protocol needs a value in every row, and {} has none; export to \
                     CSV, Parquet or Arrow instead",
                    row_label(name, at)
                )));
            }
            let nanos = at.checked_mul(1_000).ok_or_else(|| {
                ExportError::Unrepresentable(format!(
                    "line protocol's nanoseconds cannot reach the time of {}",
                    row_label(name, at)
                ))
            })?;
            let _ = writeln!(line, " {nanos}");
            self.out.write_all(line.as_bytes())?;
        }
        self.line = line;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), ExportError> {
        self.out.finish()
    }
}

/// The series column as plain text, so that every reader (and every batch) agrees.
fn plain_series(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ExportError> {
    if batch.column(0).data_type() == schema.field(0).data_type() {
        return Ok(batch.clone());
    }
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns[0] = arrow_cast::cast(&columns[0], schema.field(0).data_type())?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

struct ParquetOut<W: Write + Send>(parquet::arrow::ArrowWriter<Sink<W>>, SchemaRef);

impl<W: Write + Send> BatchWriter for ParquetOut<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        let batch = plain_series(batch, &self.1)?;
        Ok(self.0.write(&batch)?)
    }

    fn finish(self: Box<Self>) -> Result<(), ExportError> {
        self.0.into_inner()?.finish()
    }
}

/// Arrow IPC, as a file (with its footer) or a stream.
enum Ipc<W: Write + Send> {
    File(arrow_ipc::writer::FileWriter<Sink<W>>, SchemaRef),
    Stream(arrow_ipc::writer::StreamWriter<Sink<W>>, SchemaRef),
}

impl<W: Write + Send> BatchWriter for Ipc<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        match self {
            Self::File(writer, schema) => Ok(writer.write(&plain_series(batch, schema)?)?),
            Self::Stream(writer, schema) => Ok(writer.write(&plain_series(batch, schema)?)?),
        }
    }

    fn finish(self: Box<Self>) -> Result<(), ExportError> {
        let sink = match *self {
            Self::File(mut writer, _) => {
                writer.finish()?;
                writer.into_inner()?
            }
            Self::Stream(mut writer, _) => {
                writer.finish()?;
                writer.into_inner()?
            }
        };
        sink.finish()
    }
}

/// The schema binary exports are written with: the canonical one, its series as plain
/// text (every batch the same, whatever dictionary each one had).
pub fn export_schema(schema: &arrow_schema::Schema) -> SchemaRef {
    let mut fields: Vec<arrow_schema::FieldRef> = schema.fields().iter().cloned().collect();
    if let Some(first) = fields.first_mut() {
        *first = Arc::new(first.as_ref().clone().with_data_type(DataType::Utf8));
    }
    Arc::new(arrow_schema::Schema::new_with_metadata(fields, schema.metadata().clone()))
}

#[cfg(test)]
mod tests {
    use arrow_array::{BooleanArray, Float64Array, Int64Array, TimestampMicrosecondArray};

    use super::*;

    fn batch(values: Vec<Option<f64>>) -> RecordBatch {
        let rows = values.len();
        let schema = Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("series_id", DataType::Utf8, false),
            arrow_schema::Field::new(
                "ts",
                DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            arrow_schema::Field::new("close", DataType::Float64, true),
            arrow_schema::Field::new("volume", DataType::Int64, true),
            arrow_schema::Field::new("halted", DataType::Boolean, true),
        ]));
        let times: Vec<i64> = (0..rows as i64).map(|i| -1_500_000 + i * 1_000_250).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["a, b \"c\""; rows])),
            Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC")),
            Arc::new(Float64Array::from(values)),
            Arc::new(Int64Array::from(vec![None; rows])),
            Arc::new(BooleanArray::from(vec![None; rows])),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    fn written(options: &ExportOptions, batch: &RecordBatch) -> Result<String, ExportError> {
        let (sender, receiver) = std::sync::mpsc::channel::<Vec<u8>>();
        struct Channel(std::sync::mpsc::Sender<Vec<u8>>);
        impl Write for Channel {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                let _ = self.0.send(bytes.to_vec());
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut writer = writer(Channel(sender), batch.schema(), options)?;
        writer.write(batch)?;
        writer.finish()?;
        Ok(String::from_utf8(receiver.try_iter().flatten().collect()).unwrap())
    }

    #[test]
    fn csv_quotes_what_needs_it_and_writes_times_and_floats_exactly() {
        let options =
            ExportOptions { time: TimeFormat::EpochSeconds, ..ExportOptions::new(Format::Csv) };
        let text = written(&options, &batch(vec![Some(0.1), Some(1.0), None])).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "series_id,ts,close,volume,halted");
        assert_eq!(lines[1], "\"a, b \"\"c\"\"\",-1.5,0.1,,");
        assert_eq!(lines[2], "\"a, b \"\"c\"\"\",-0.49975,1.0,,");
        assert_eq!(lines[3], "\"a, b \"\"c\"\"\",0.5005,,,");
    }

    #[test]
    fn what_a_format_cannot_hold_is_refused_with_its_row() {
        let nan = batch(vec![Some(2.0), Some(f64::NAN)]);
        let error = written(&ExportOptions::new(Format::Json), &nan).unwrap_err().to_string();
        assert!(
            error.contains("JSON has no NaN") && error.contains("1969-12-31T23:59:59.500250Z"),
            "{error}"
        );
        let empty = batch(vec![None]);
        let error =
            written(&ExportOptions::new(Format::LineProtocol), &empty).unwrap_err().to_string();
        assert!(error.contains("line protocol needs a value in every row"), "{error}");
        // CSV holds both.
        assert!(written(&ExportOptions::new(Format::Csv), &nan).unwrap().contains(",NaN,"));
    }

    #[test]
    fn line_protocol_escapes_measurements_and_writes_nanoseconds() {
        let text =
            written(&ExportOptions::new(Format::LineProtocol), &batch(vec![Some(1.5)])).unwrap();
        assert_eq!(text, "a\\,\\ b\\ \"c\" close=1.5 -1500000000\n");
    }

    #[test]
    fn formats_are_known_by_name_and_extension() {
        assert_eq!("ndjson".parse::<Format>().unwrap(), Format::JsonLines);
        assert!("xml".parse::<Format>().is_err());
        let found = format_for_path(Path::new("prices.CSV.gz"));
        assert_eq!(found, Some((Format::Csv, Packing::Gzip)));
        assert_eq!(format_for_path(Path::new("prices")), None);
    }

    #[test]
    fn openmetrics_writes_a_family_per_column_then_eof() {
        let text = written(
            &ExportOptions::new(Format::OpenMetrics),
            &batch(vec![Some(0.1), None, Some(f64::INFINITY)]),
        )
        .unwrap();
        let series = r#"series="a, b \"c\"""#;
        let expected = format!(
            "# TYPE close gauge\n# HELP close The column close.\n\
             close{{{series}}} 0.1 -1.5\n\
             close{{{series}}} +Inf 0.5005\n\
             # TYPE volume gauge\n# HELP volume The column volume.\n\
             # TYPE halted gauge\n# HELP halted The column halted.\n\
             # EOF\n"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn a_postgresql_script_creates_the_table_and_copies_the_rows() {
        let options = ExportOptions {
            table: Some("prices".to_owned()),
            ..ExportOptions::new(Format::Timescale)
        };
        let text = written(&options, &batch(vec![Some(f64::NEG_INFINITY), None])).unwrap();
        assert!(text.contains("CREATE TABLE IF NOT EXISTS \"prices\" (\n    \"series_id\" text NOT NULL,\n    \"ts\" timestamptz NOT NULL,\n    \"close\" double precision,\n    \"volume\" bigint,\n    \"halted\" boolean\n);"), "{text}");
        assert!(text.contains("create_hypertable('\"prices\"', 'ts'"), "{text}");
        assert!(
            text.ends_with(
                "COPY \"prices\" (\"series_id\", \"ts\", \"close\", \"volume\", \"halted\") FROM STDIN WITH (FORMAT csv);\n\
                 \"a, b \"\"c\"\"\",1969-12-31T23:59:58.500Z,-Infinity,,\n\
                 \"a, b \"\"c\"\"\",1969-12-31T23:59:59.500250Z,,,\n\
                 \\.\nCOMMIT;\n"
            ),
            "{text}"
        );
        let bad = ExportOptions { table: Some(String::new()), ..options };
        assert!(written(&bad, &batch(vec![])).is_err());
    }

    #[test]
    fn an_avro_export_keeps_names_avro_cannot_hold() {
        let schema = arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("series_id", DataType::Utf8, false),
            arrow_schema::Field::new("Adj Close", DataType::Float64, true),
            arrow_schema::Field::new("Adj_Close", DataType::Float64, true),
            arrow_schema::Field::new("2m", DataType::Float64, true),
        ]);
        let (renamed, _) = avro_schema(&schema);
        let names: Vec<&str> = renamed.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["series_id", "Adj_Close", "Adj_Close_2", "_2m"]);
        assert_eq!(renamed.field(1).metadata()[ORIGINAL_NAME_KEY], "Adj Close");
        assert!(!renamed.field(0).metadata().contains_key(ORIGINAL_NAME_KEY));
    }
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn rfc3339_is_written_digit_by_digit_as_chrono_writes_it() {
        let zones = [chrono_tz::UTC, chrono_tz::Europe::Berlin, chrono_tz::America::St_Johns];
        let samples = [
            0,
            -1,
            -1_500_000,
            951_782_400_000_000,
            1_700_000_000_123_000,
            1_700_000_000_123_456,
            253_402_214_400_000_001,
            -62_135_596_800_000_000,
        ];
        for zone in zones {
            let times = Times { format: TimeFormat::Rfc3339, zone };
            for micros in samples {
                let mut fast = String::new();
                if !times.push_rfc3339(&mut fast, micros) {
                    // Only an offset of seconds (a local mean time of old) is left to chrono.
                    assert!(micros < -2_000_000_000_000_000, "{micros} in {zone}");
                    continue;
                }
                let at =
                    chrono::DateTime::from_timestamp_micros(micros).unwrap().with_timezone(&zone);
                let mut expected = at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
                if zone == chrono_tz::UTC {
                    expected = expected.replace("+00:00", "Z");
                }
                assert_eq!(fast, expected, "{micros} in {zone}");
            }
        }
        let mut out = String::new();
        let far = Times { format: TimeFormat::Rfc3339, zone: chrono_tz::UTC };
        assert!(!far.push_rfc3339(&mut out, 253_402_300_800_000_000), "year 10000");
        assert!(out.is_empty());
    }

    #[test]
    fn floats_are_the_shortest_text_that_reads_back_to_the_same_bits() {
        for value in [0.1, 1.0, -0.0, 1e-7, 1e21, 123_456.789, f64::MAX, f64::MIN_POSITIVE, 5e-324]
        {
            let mut text = String::new();
            push_float(&mut text, value);
            assert_eq!(text.parse::<f64>().unwrap().to_bits(), value.to_bits(), "{text}");
            assert!(text.contains(['.', 'e']), "{text} reads back as a float");
        }
    }
}
