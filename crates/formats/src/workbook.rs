//! Spreadsheets: Excel (xlsx, xlsm, xlsb, xls) and OpenDocument (ods) workbooks. One sheet
//! is read (the first, or the one the mapping names) as text cells and then understood like
//! any other table, so dates typed as dates, dates typed as text and Excel serial numbers all
//! work. A workbook is read whole into memory, which is how the format is laid out; the size
//! it may have is limited.

use std::io::{Cursor, Read};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use calamine::{Data, Reader as _, Sheets};

use crate::columnar::{Columnar, ColumnarReader};
use crate::delimited::{ReadError, ReadOptions};
use crate::numbers::DecimalMark;

/// The largest workbook file read.
pub const MAX_WORKBOOK_BYTES: u64 = 512 * 1024 * 1024;
/// Rows per batch handed on.
const BATCH_ROWS: usize = 64 * 1024;
/// Rows looked at to decide whether the first row names the columns.
const HEADER_SAMPLE_ROWS: usize = 100;

/// Whether a file starting with `head` is a workbook: an OLE2 compound file (xls) or a zip
/// archive holding a workbook's parts (xlsx, xlsb, ods).
pub fn sniff(head: &[u8]) -> bool {
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return true;
    }
    // The first entry of a zip archive: its name's length is at byte 26, the name at 30.
    if !head.starts_with(b"PK\x03\x04") || head.len() < 30 {
        return false;
    }
    let length = usize::from(u16::from_le_bytes([head[26], head[27]]));
    let Some(name) = head.get(30..30 + length) else {
        return false;
    };
    [&b"[Content_Types].xml"[..], b"_rels/", b"docProps/", b"xl/", b"mimetype"]
        .iter()
        .any(|part| name.starts_with(part))
}

/// One cell as text, the way a person would type it.
fn cell_text(cell: &Data) -> Option<String> {
    match cell {
        Data::Empty | Data::Error(_) => None,
        Data::String(text) if text.trim().is_empty() => None,
        Data::String(text) | Data::DateTimeIso(text) | Data::DurationIso(text) => {
            Some(text.clone())
        }
        Data::Int(value) => Some(value.to_string()),
        Data::Float(value) => Some(value.to_string()),
        Data::Bool(value) => Some(value.to_string()),
        Data::DateTime(value) if value.is_duration() => Some(value.as_f64().to_string()),
        Data::DateTime(value) => match value.as_datetime() {
            Some(at) if at.time() == chrono::NaiveTime::MIN => {
                Some(at.format("%Y-%m-%d").to_string())
            }
            Some(at) => Some(at.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
            None => Some(value.as_f64().to_string()),
        },
    }
}

fn workbook_error(error: impl std::fmt::Display) -> ReadError {
    ReadError::Unsupported(format!("the workbook cannot be read: {error}"))
}

/// A sheet read as text cells: the table's body in batches, with the sheet row of each row
/// and what the person should check.
pub(crate) struct Sheet {
    pub(crate) schema: Arc<Schema>,
    pub(crate) batches: Vec<RecordBatch>,
    pub(crate) line_numbers: Vec<usize>,
    pub(crate) warnings: Vec<String>,
}

/// Opens the workbook in `input`, reading the sheet `options.mapping.sheet` names (a name,
/// or a 1-based number), or the first: in a child process where the program isolates
/// decoders (see [`crate::isolation`]).
pub fn open(
    input: Box<dyn Read + Send>,
    options: &ReadOptions,
) -> Result<ColumnarReader, ReadError> {
    let sheet = options.mapping.sheet.as_deref();
    let sheet = match crate::isolation::program() {
        Some(program) => crate::isolation::workbook(program, input, sheet)?,
        None => {
            let mut bytes = Vec::new();
            input.take(MAX_WORKBOOK_BYTES + 1).read_to_end(&mut bytes)?;
            read_sheet(bytes, sheet)?
        }
    };
    let batches = Box::new(sheet.batches.into_iter().map(Ok));
    let mut reader = ColumnarReader::from_batches(Columnar::Workbook, batches, options)?;
    reader.set_line_numbers(sheet.line_numbers);
    for warning in sheet.warnings {
        reader.warn(warning);
    }
    Ok(reader)
}

/// Reads the sheet `sheet` names (or the first) of the workbook `bytes`, in this process.
pub(crate) fn read_sheet(bytes: Vec<u8>, sheet: Option<&str>) -> Result<Sheet, ReadError> {
    if bytes.len() as u64 > MAX_WORKBOOK_BYTES {
        return Err(ReadError::Unsupported(format!(
            "a workbook over {} MiB cannot be read; save the sheet as CSV instead",
            MAX_WORKBOOK_BYTES >> 20
        )));
    }
    // A zip archive ends with its directory (within the last 64 KiB, after a comment); one
    // without it was cut short, whatever a lenient unzipper might still recover.
    let end = &bytes[bytes.len().saturating_sub(64 * 1024 + 22)..];
    if bytes.starts_with(b"PK") && memchr::memmem::rfind(end, b"PK\x05\x06").is_none() {
        return Err(ReadError::Unsupported(
            "the workbook is truncated: its zip directory is missing; upload the whole file"
                .to_owned(),
        ));
    }
    let data: Arc<[u8]> = bytes.into();
    // The workbook library panics on some damaged files (a sector cut short in an `.xls`):
    // that is a damaged file, said as such, not a crash.
    let opened = std::panic::catch_unwind(move || -> Result<_, ReadError> {
        let mut sheets = calamine::open_workbook_auto_from_rs(Cursor::new(data))
            .map_err(|_| ReadError::Unsupported(
                "the file looks like a workbook (xlsx, xls, xlsb or ods) but cannot be opened: it may be damaged, encrypted or another Office document".to_owned(),
            ))?;
        let names = sheets.sheet_names();
        let chosen = choose_sheet(&names, sheet)?;
        let range = worksheet(&mut sheets, &chosen)?;
        Ok((names, chosen, range))
    });
    let (names, chosen, range) = opened.unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no reason given");
        Err(ReadError::Unsupported(format!(
            "the workbook is damaged: its decoder gave up ({why}); save it again, or as CSV"
        )))
    })?;
    let (first_row, _) = range.start().unwrap_or((0, 0));
    // Each row with its number as the spreadsheet shows it (from 1); empty rows are skipped.
    let rows = range
        .rows()
        .enumerate()
        .map(|(i, row)| (first_row as usize + i + 1, row.iter().map(cell_text).collect::<Vec<_>>()))
        .filter(|(_, row)| row.iter().any(Option::is_some));
    let mut rows: Vec<(usize, Vec<Option<String>>)> = rows.collect();
    drop(range);
    // Titles and notes above the table are skipped: it starts at the first row that is as
    // full as the fullest row near the top.
    let filled = |row: &[Option<String>]| row.iter().filter(|cell| cell.is_some()).count();
    let fullest = rows.iter().take(HEADER_SAMPLE_ROWS).map(|(_, row)| filled(row)).max();
    let Some(fullest) = fullest else {
        return Err(ReadError::Unsupported(format!(
            "sheet {chosen:?} is empty{}",
            others(&names, &chosen)
        )));
    };
    let start = rows.iter().position(|(_, row)| filled(row) == fullest).unwrap_or(0);
    let skipped: Vec<usize> = rows.drain(..start).map(|(line, _)| line).collect();
    let mut rows = rows.into_iter();
    let (header_row, first) = rows.next().expect("the fullest row is kept");
    let rest: Vec<(usize, Vec<Option<String>>)> = rows.collect();
    let width = std::iter::once(&first).chain(rest.iter().map(|(_, row)| row)).map(Vec::len).max();
    let width = width.unwrap_or(0);
    let as_text = |row: &[Option<String>]| -> Vec<String> {
        (0..width).map(|i| row.get(i).cloned().flatten().unwrap_or_default()).collect()
    };
    let sample: Vec<Vec<String>> = std::iter::once(&first)
        .chain(rest.iter().take(HEADER_SAMPLE_ROWS).map(|(_, row)| row))
        .map(|row| as_text(row))
        .collect();
    let header =
        sample.len() > 1 && crate::dialect::first_line_is_header(&sample, DecimalMark::Point);
    let (column_names, body) = if header {
        (as_text(&first), rest)
    } else {
        let names = (1..=width).map(|i| format!("column_{i}")).collect();
        (names, std::iter::once((header_row, first)).chain(rest).collect())
    };
    let schema = Arc::new(Schema::new(
        column_names.iter().map(|name| Field::new(name, DataType::Utf8, true)).collect::<Vec<_>>(),
    ));
    let batches = body
        .chunks(BATCH_ROWS)
        .map(|chunk| {
            let columns: Vec<ArrayRef> = (0..width)
                .map(|i| {
                    let cells = chunk.iter().map(|(_, row)| row.get(i).cloned().flatten());
                    Arc::new(cells.collect::<StringArray>()) as ArrayRef
                })
                .collect();
            RecordBatch::try_new(schema.clone(), columns)
        })
        .collect::<Result<Vec<_>, ArrowError>>()
        .map_err(workbook_error)?;
    let line_numbers = body.iter().map(|(line, _)| *line).collect();
    let mut warnings = Vec::new();
    if let (Some(first), Some(last)) = (skipped.first(), skipped.last()) {
        warnings.push(if first == last {
            format!("row {first} of sheet {chosen:?}, above the table, was skipped")
        } else {
            format!("rows {first}-{last} of sheet {chosen:?}, above the table, were skipped")
        });
    }
    if names.len() > 1 {
        warnings.push(format!("sheet {chosen:?} was read{}", others(&names, &chosen)));
    }
    Ok(Sheet { schema, batches, line_numbers, warnings })
}

/// The sheets other than `chosen`, for messages.
fn others(names: &[String], chosen: &str) -> String {
    let rest: Vec<&str> = names.iter().map(String::as_str).filter(|n| *n != chosen).collect();
    if rest.is_empty() {
        String::new()
    } else {
        format!("; the workbook's other sheets: {}", rest.join(", "))
    }
}

/// The sheet named by `wanted` (its name, or its 1-based number), or the first.
fn choose_sheet(names: &[String], wanted: Option<&str>) -> Result<String, ReadError> {
    let missing = || {
        ReadError::Mapping(crate::mapping::MappingError::Invalid(format!(
            "the workbook has no sheet {:?}; its sheets: {}",
            wanted.unwrap_or_default(),
            names.join(", ")
        )))
    };
    match wanted {
        None => names
            .first()
            .cloned()
            .ok_or_else(|| ReadError::Unsupported("the workbook has no sheet".to_owned())),
        Some(wanted) => match names.iter().find(|name| *name == wanted) {
            Some(name) => Ok(name.clone()),
            None => match wanted.parse::<usize>() {
                Ok(number) if number >= 1 => names.get(number - 1).cloned().ok_or_else(missing),
                _ => Err(missing()),
            },
        },
    }
}

fn worksheet(
    sheets: &mut Sheets<Cursor<Arc<[u8]>>>,
    name: &str,
) -> Result<calamine::Range<Data>, ReadError> {
    sheets.worksheet_range(name).map_err(|e| workbook_error(format!("sheet {name:?}: {e}")))
}
