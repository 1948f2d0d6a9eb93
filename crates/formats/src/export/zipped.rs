//! A zip with one file per series, each in the export's format: streamed (the zip's sizes
//! follow each entry), so nothing is held but the entry being written. Entry names are the
//! series made safe for any disk, unique within the zip.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use zip::write::{SimpleFileOptions, StreamWriter};

use super::{BatchWriter, ExportError, ExportOptions, Packing, Sink, series_of};

type Archive<W> = zip::ZipWriter<StreamWriter<Sink<W>>>;

fn zip_error(error: zip::result::ZipError) -> ExportError {
    match error {
        zip::result::ZipError::Io(error) => ExportError::Io(error),
        other => ExportError::Encode(format!("the zip cannot be written: {other}")),
    }
}

/// The entry being written: what its format's writer writes goes into the zip.
struct Entry<W: Write>(Arc<Mutex<Option<Archive<W>>>>);

impl<W: Write> Write for Entry<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut archive = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match archive.as_mut() {
            Some(archive) => archive.write(bytes),
            None => Err(std::io::Error::other("the zip is already finished")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut archive = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        archive.as_mut().map_or(Ok(()), |archive| archive.flush())
    }
}

pub(super) struct Zipped<W: Write + Send + 'static> {
    archive: Arc<Mutex<Option<Archive<W>>>>,
    schema: SchemaRef,
    /// The options of each entry (the same format, not packed).
    entry: ExportOptions,
    /// The series being written and its entry's writer.
    current: Option<(String, Box<dyn BatchWriter>)>,
    names: Vec<String>,
}

impl<W: Write + Send + 'static> Zipped<W> {
    pub(super) fn new(
        out: W,
        schema: SchemaRef,
        options: &ExportOptions,
    ) -> Result<Self, ExportError> {
        let sink = Sink::new(out, Packing::Plain)?;
        Ok(Self {
            archive: Arc::new(Mutex::new(Some(zip::ZipWriter::new_stream(sink)))),
            schema,
            entry: ExportOptions { packing: Packing::Plain, ..options.clone() },
            current: None,
            names: Vec::new(),
        })
    }

    /// Finishes the entry being written, if any.
    fn end_entry(&mut self) -> Result<(), ExportError> {
        if let Some((_, writer)) = self.current.take() {
            writer.finish()?;
        }
        Ok(())
    }

    /// Begins the entry of `series`.
    fn begin_entry(&mut self, series: &str) -> Result<(), ExportError> {
        self.end_entry()?;
        let stem = entry_stem(series);
        let mut name = format!("{stem}.{}", self.entry.format.extension());
        let mut n = 2;
        while self.names.iter().any(|used| used.eq_ignore_ascii_case(&name)) {
            name = format!("{stem}-{n}.{}", self.entry.format.extension());
            n += 1;
        }
        self.names.push(name.clone());
        let method = if self.entry.format.is_text() {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default().compression_method(method).large_file(true);
        {
            let mut archive = self.archive.lock().unwrap_or_else(PoisonError::into_inner);
            let archive = archive
                .as_mut()
                .ok_or_else(|| ExportError::Encode("the zip is already finished".to_owned()))?;
            archive.start_file(name, options).map_err(zip_error)?;
        }
        let writer =
            super::unzipped_writer(Entry(self.archive.clone()), self.schema.clone(), &self.entry)?;
        self.current = Some((series.to_owned(), writer));
        Ok(())
    }
}

/// A series as a file name's stem: letters, digits, `-`, `_` and `.` kept, anything else
/// `_`, at most 100 characters; `series` if nothing is left.
fn entry_stem(series: &str) -> String {
    let stem: String = series
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .take(100)
        .collect();
    let stem = stem.trim_matches('.');
    if stem.is_empty() { "series".to_owned() } else { stem.to_owned() }
}

impl<W: Write + Send + 'static> BatchWriter for Zipped<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        let series = series_of(batch)?;
        let mut start = 0;
        while start < batch.num_rows() {
            let name = series.value(start);
            let mut end = start + 1;
            while end < batch.num_rows() && series.value(end) == name {
                end += 1;
            }
            if self.current.as_ref().is_none_or(|(of, _)| of != name) {
                self.begin_entry(name)?;
            }
            if let Some((_, writer)) = self.current.as_mut() {
                writer.write(&batch.slice(start, end - start))?;
            }
            start = end;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        self.end_entry()?;
        let archive = self.archive.lock().unwrap_or_else(PoisonError::into_inner).take();
        let Some(archive) = archive else { return Ok(()) };
        let stream = archive.finish().map_err(zip_error)?;
        stream.into_inner().finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_safe() {
        assert_eq!(entry_stem("../etc/passwd"), "_etc_passwd");
        assert_eq!(entry_stem("AAPL.US"), "AAPL.US");
        assert_eq!(entry_stem("..."), "series");
    }
}
