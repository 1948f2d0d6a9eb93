//! Excel workbooks, written row by row in constant memory (each finished row goes to a
//! temporary file): a frozen bold header, column widths, times as real Excel dates in the
//! chosen zone (to the millisecond, Excel's precision), numbers as numbers. One sheet of
//! every row, continued on a next sheet past Excel's 1,048,575 rows, or a sheet per series.
//!
//! What Excel cannot hold is refused with its row named rather than changed: a time with
//! microseconds (unless times are written as epoch numbers or text), an integer beyond
//! 2^53, text over 32,767 characters. NaN and infinities are written as the text `NaN`,
//! `inf` and `-inf`, which is how every other text export writes them.

use std::io::Write;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_schema::DataType;
use rust_xlsxwriter::{Format as CellFormat, FormatAlign, Workbook, Worksheet, XlsxError};

use super::{
    BatchWriter, ExportError, ExportOptions, SheetLayout, Sink, TimeFormat, Times, row_label,
    series_of, times_of,
};

/// Rows of data a sheet holds under its header.
const ROWS_PER_SHEET: u32 = 1_048_575;
/// The longest text a cell holds.
const MAX_TEXT: usize = 32_767;
/// Integers Excel's numbers hold exactly.
const MAX_EXACT_INTEGER: i64 = 1 << 53;
/// Days from Excel's epoch (1899-12-30) to 1970-01-01.
const EPOCH_DAYS: i64 = 25_569;
/// The first time Excel's dates count correctly (1900-03-01; before it Excel counts a
/// 29 February 1900 that never was), in microseconds since 1970.
const FIRST_EXCEL_DATE: i64 = -2_203_891_200_000_000;

fn encode(error: XlsxError) -> ExportError {
    ExportError::Encode(format!("the workbook cannot be written: {error}"))
}

pub(super) struct Xlsx<W: Write + Send> {
    out: Sink<W>,
    workbook: Workbook,
    sheet: Option<Worksheet>,
    /// The next row of the current sheet.
    row: u32,
    /// The sheets begun, for the next one's name.
    sheets: u32,
    layout: SheetLayout,
    /// The current sheet's series (a sheet per series).
    series: Option<String>,
    names: Vec<String>,
    used_names: Vec<String>,
    times: Times,
    header: CellFormat,
    date: CellFormat,
    date_ms: CellFormat,
    text: String,
}

impl<W: Write + Send> Xlsx<W> {
    pub(super) fn new(
        out: Sink<W>,
        schema: &arrow_schema::Schema,
        options: &ExportOptions,
    ) -> Result<Self, ExportError> {
        let mut workbook = Workbook::new();
        workbook.set_tempdir(std::env::temp_dir()).map_err(encode)?;
        Ok(Self {
            out,
            workbook,
            sheet: None,
            row: 0,
            sheets: 0,
            layout: options.sheets,
            series: None,
            names: schema.fields().iter().map(|f| f.name().clone()).collect(),
            used_names: Vec::new(),
            times: Times { format: options.time.clone(), zone: options.zone },
            header: CellFormat::new().set_bold().set_align(FormatAlign::Center),
            date: CellFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            date_ms: CellFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss.000"),
            text: String::new(),
        })
    }

    /// Ends the current sheet (if any) and begins the next, named `wanted` (made a valid,
    /// unique sheet name), with its header.
    fn begin_sheet(&mut self, wanted: &str) -> Result<(), ExportError> {
        if let Some(sheet) = self.sheet.take() {
            self.workbook.push_worksheet(sheet);
        }
        self.sheets += 1;
        let name = self.sheet_name(wanted);
        let mut sheet = self.workbook.new_worksheet_with_constant_memory().map_err(encode)?;
        sheet.set_name(&name).map_err(encode)?;
        for (column, name) in self.names.iter().enumerate() {
            let column = column as u16;
            sheet.write_string_with_format(0, column, name, &self.header).map_err(encode)?;
            let width = match column {
                0 => 18.0,
                1 => 22.0,
                _ => (name.chars().count() as f64 + 2.0).clamp(12.0, 40.0),
            };
            sheet.set_column_width(column, width).map_err(encode)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(encode)?;
        self.sheet = Some(sheet);
        self.row = 1;
        Ok(())
    }

    /// `wanted` as a sheet name: no `[]:*?/\`, at most 31 characters, not `History`, and
    /// unlike every earlier one (ignoring case), with a number added where it was.
    fn sheet_name(&mut self, wanted: &str) -> String {
        let clean: String = wanted
            .chars()
            .map(|c| if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') { '_' } else { c })
            .filter(|c| !c.is_control())
            .collect();
        let clean = clean.trim_matches('\'').trim();
        let clean = if clean.is_empty() || clean.eq_ignore_ascii_case("history") {
            "data".to_owned()
        } else {
            clean.to_owned()
        };
        let mut n = 1;
        loop {
            let suffix = if n == 1 { String::new() } else { format!(" {n}") };
            let keep = 31 - suffix.chars().count();
            let name: String = clean.chars().take(keep).collect::<String>() + &suffix;
            if !self.used_names.iter().any(|used| used.eq_ignore_ascii_case(&name)) {
                self.used_names.push(name.clone());
                return name;
            }
            n += 1;
        }
    }
}

/// Excel's serial date of `micros` (UTC) shown in `zone`, to the millisecond.
fn excel_date(micros: i64, zone: chrono_tz::Tz) -> Option<f64> {
    use chrono::{Offset, TimeZone};
    let at = chrono::DateTime::from_timestamp_micros(micros)?;
    let offset = zone.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc();
    let local = micros.checked_add(i64::from(offset) * 1_000_000)?;
    if local < FIRST_EXCEL_DATE {
        return None;
    }
    let millis = local / 1_000;
    let days = millis.div_euclid(86_400_000);
    let rest = millis.rem_euclid(86_400_000);
    Some((days + EPOCH_DAYS) as f64 + rest as f64 / 86_400_000.0)
}

impl<W: Write + Send> BatchWriter for Xlsx<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        let series = series_of(batch)?;
        let times = times_of(batch);
        for (row, &at) in times.iter().enumerate() {
            let name = series.value(row);
            let new_series = self.series.as_deref() != Some(name);
            if self.sheet.is_none()
                || self.row > ROWS_PER_SHEET
                || (self.layout == SheetLayout::PerSeries && new_series)
            {
                let wanted = match self.layout {
                    SheetLayout::One => "data".to_owned(),
                    SheetLayout::PerSeries => name.to_owned(),
                };
                self.begin_sheet(&wanted)?;
            }
            if new_series {
                self.series = Some(name.to_owned());
            }
            let line = self.row;
            let Some(sheet) = self.sheet.as_mut() else { continue };
            if name.len() > MAX_TEXT {
                return Err(ExportError::Unrepresentable(format!(
                    "an Excel cell holds at most {MAX_TEXT} characters, and the name of the \
                     series at row {line} is longer; export to CSV, Parquet or Arrow instead"
                )));
            }
            sheet.write_string(line, 0, name).map_err(encode)?;
            match &self.times.format {
                TimeFormat::Rfc3339 => {
                    if at % 1_000 != 0 {
                        return Err(ExportError::Unrepresentable(format!(
                            "Excel holds times to the millisecond, and {} has microseconds; \
                             write times as epoch microseconds (time=us) or export to CSV, \
                             Parquet or Arrow instead",
                            row_label(name, at)
                        )));
                    }
                    match excel_date(at, self.times.zone) {
                        Some(serial) => {
                            let format =
                                if at % 1_000_000 == 0 { &self.date } else { &self.date_ms };
                            sheet.write_number_with_format(line, 1, serial, format)
                        }
                        // Before 1900-03-01 Excel has no dates: the time as text.
                        None => {
                            self.text.clear();
                            self.times.push(&mut self.text, at);
                            sheet.write_string(line, 1, &self.text)
                        }
                    }
                    .map_err(encode)?;
                }
                TimeFormat::EpochMicros if at.unsigned_abs() > MAX_EXACT_INTEGER as u64 => {
                    return Err(ExportError::Unrepresentable(format!(
                        "Excel's numbers cannot hold the microseconds of {} exactly; export to \
                         CSV, Parquet or Arrow instead",
                        row_label(name, at)
                    )));
                }
                TimeFormat::EpochMicros => {
                    sheet.write_number(line, 1, at as f64).map_err(encode)?;
                }
                _ => {
                    self.text.clear();
                    self.times.push(&mut self.text, at);
                    match self.text.parse::<f64>() {
                        // Epoch seconds or milliseconds: a number where it reads back exact.
                        Ok(number)
                            if !matches!(self.times.format, TimeFormat::Pattern(_))
                                && number.to_string() == self.text =>
                        {
                            sheet.write_number(line, 1, number)
                        }
                        _ => sheet.write_string(line, 1, &self.text),
                    }
                    .map_err(encode)?;
                }
            }
            for (index, column) in batch.columns().iter().enumerate().skip(2) {
                if column.is_null(row) {
                    continue;
                }
                let cell = index as u16;
                match column.data_type() {
                    DataType::Float64 => {
                        let value = column.as_primitive::<Float64Type>().value(row);
                        if value.is_finite() {
                            sheet.write_number(line, cell, value)
                        } else {
                            sheet.write_string(line, cell, format!("{value:?}"))
                        }
                    }
                    DataType::Int64 => {
                        let value = column.as_primitive::<Int64Type>().value(row);
                        if value.unsigned_abs() > MAX_EXACT_INTEGER as u64 {
                            return Err(ExportError::Unrepresentable(format!(
                                "Excel's numbers hold integers exactly up to 2^53, and the \
                                 column {} of {} holds {value}; export to CSV, Parquet or \
                                 Arrow instead",
                                self.names[index],
                                row_label(name, at)
                            )));
                        }
                        sheet.write_number(line, cell, value as f64)
                    }
                    DataType::Boolean => {
                        sheet.write_boolean(line, cell, column.as_boolean().value(row))
                    }
                    _ => {
                        let text = column.as_string::<i32>().value(row);
                        if text.chars().count() > MAX_TEXT {
                            return Err(ExportError::Unrepresentable(format!(
                                "an Excel cell holds at most {MAX_TEXT} characters, and the \
                                 column {} of {} is longer; export to CSV, Parquet or Arrow \
                                 instead",
                                self.names[index],
                                row_label(name, at)
                            )));
                        }
                        sheet.write_string(line, cell, text)
                    }
                }
                .map_err(encode)?;
            }
            self.row += 1;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        if self.sheet.is_none() {
            // No rows: a sheet with the header alone.
            self.begin_sheet("data")?;
        }
        if let Some(sheet) = self.sheet.take() {
            self.workbook.push_worksheet(sheet);
        }
        let Xlsx { mut workbook, mut out, .. } = *self;
        workbook.save_to_writer(&mut out).map_err(encode)?;
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_dates_count_days_from_1899_12_30() {
        // 1970-01-01 is day 25,569; noon is half a day.
        assert_eq!(excel_date(0, chrono_tz::UTC), Some(25_569.0));
        assert_eq!(excel_date(43_200_000_000, chrono_tz::UTC), Some(25_569.5));
        // Shown in Berlin, midnight UTC is one in the morning.
        let berlin = excel_date(0, chrono_tz::Europe::Berlin).unwrap();
        assert!((berlin - (25_569.0 + 1.0 / 24.0)).abs() < 1e-9);
        // Before 1900-03-01 there are no Excel dates.
        assert_eq!(excel_date(FIRST_EXCEL_DATE - 1_000, chrono_tz::UTC), None);
        assert_eq!(excel_date(FIRST_EXCEL_DATE, chrono_tz::UTC), Some(61.0));
    }
}
