//! Reading timestamps as people and programs write them, and deciding from a sample of a
//! column which way it is written.
//!
//! Supported: ISO 8601 / RFC 3339 with or without offset (`T` or space, optional fraction),
//! date-only ISO, dates with separators in year-month-day, day-month-year or
//! month-day-year order (optionally followed by a time), compact `YYYYMMDD` and
//! `YYYYMMDD HHMMSS` (Stooq, MetaTrader), epoch seconds, milliseconds, microseconds and
//! nanoseconds (decided by magnitude), and Excel serial days. Every result is an instant in
//! UTC with microsecond precision; timestamps without an offset are read in a chosen zone.
//!
//! Day-first versus month-first is decided from the data: a first field above 12 proves
//! day-first, a second field above 12 proves month-first. When no value decides, detection
//! says so ([`Detection::ambiguous`]) instead of guessing silently.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};

/// The order of day, month and year in a date written with separators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateOrder {
    /// `2024/01/31`.
    YearMonthDay,
    /// `31.01.2024`, `31/01/2024`.
    DayMonthYear,
    /// `01/31/2024`.
    MonthDayYear,
}

/// What an epoch number counts since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EpochUnit {
    /// Seconds (fractions allowed).
    Seconds,
    /// Milliseconds.
    Millis,
    /// Microseconds.
    Micros,
    /// Nanoseconds.
    Nanos,
}

impl EpochUnit {
    /// The unit a value of this magnitude most plausibly has: the one that puts it between
    /// 1973 and 5138.
    pub fn for_magnitude(value: f64) -> Self {
        let magnitude = value.abs();
        if magnitude < 1e11 {
            Self::Seconds
        } else if magnitude < 1e14 {
            Self::Millis
        } else if magnitude < 1e17 {
            Self::Micros
        } else {
            Self::Nanos
        }
    }

    fn micros_per_unit(self) -> f64 {
        match self {
            Self::Seconds => 1e6,
            Self::Millis => 1e3,
            Self::Micros => 1.0,
            Self::Nanos => 1e-3,
        }
    }
}

/// How the timestamps of a column are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeFormat {
    /// ISO 8601 / RFC 3339, with or without time and offset.
    Iso,
    /// A date with `/`, `.` or `-` separators in the given order, optionally with a time.
    Dated(DateOrder),
    /// `YYYYMMDD`, optionally followed (with or without a space) by `HHMMSS` or `HHMM`.
    Compact,
    /// A number counting units since 1970.
    Epoch(EpochUnit),
    /// Days since 1899-12-30 with a fraction for the time of day (spreadsheets).
    ExcelSerial,
}

impl fmt::Display for TimeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Iso => "ISO 8601",
            Self::Dated(DateOrder::YearMonthDay) => "year-month-day",
            Self::Dated(DateOrder::DayMonthYear) => "day-month-year",
            Self::Dated(DateOrder::MonthDayYear) => "month-day-year",
            Self::Compact => "YYYYMMDD[ HHMMSS]",
            Self::Epoch(EpochUnit::Seconds) => "epoch seconds",
            Self::Epoch(EpochUnit::Millis) => "epoch milliseconds",
            Self::Epoch(EpochUnit::Micros) => "epoch microseconds",
            Self::Epoch(EpochUnit::Nanos) => "epoch nanoseconds",
            Self::ExcelSerial => "Excel serial date",
        };
        f.write_str(text)
    }
}

/// The zone in which timestamps without an offset are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// Coordinated Universal Time (the default).
    Utc,
    /// A fixed offset such as `+02:00`.
    Fixed(FixedOffset),
    /// A zone of the IANA database such as `Europe/Berlin`, with its daylight-saving rules.
    Named(chrono_tz::Tz),
}

impl FromStr for Zone {
    type Err = TimeError;

    /// `UTC`, `Z`, an offset (`+02:00`, `-0530`) or an IANA name (`America/New_York`).
    fn from_str(text: &str) -> Result<Self, TimeError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("utc") || text == "Z" || text.is_empty() {
            return Ok(Self::Utc);
        }
        if let Some(offset) = parse_offset(text) {
            return Ok(Self::Fixed(offset));
        }
        text.parse::<chrono_tz::Tz>()
            .map(Self::Named)
            .map_err(|_| TimeError::UnknownZone(text.to_owned()))
    }
}

impl Zone {
    /// The instant a wall-clock time in this zone denotes. In the hour a daylight-saving
    /// change repeats, the earlier instant; a wall-clock time the change skips is an error.
    pub fn to_utc(&self, local: NaiveDateTime) -> Result<DateTime<Utc>, TimeError> {
        let resolved = match self {
            Self::Utc => return Ok(Utc.from_utc_datetime(&local)),
            Self::Fixed(offset) => {
                offset.from_local_datetime(&local).map(|t| t.with_timezone(&Utc))
            }
            Self::Named(zone) => zone.from_local_datetime(&local).map(|t| t.with_timezone(&Utc)),
        };
        match resolved {
            LocalResult::Single(instant) | LocalResult::Ambiguous(instant, _) => Ok(instant),
            LocalResult::None => Err(TimeError::SkippedByDst(local.to_string())),
        }
    }
}

/// Why a timestamp or zone could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The text is not a timestamp in the expected format.
    #[error("{value:?} is not a timestamp in the {expected} format")]
    Unreadable {
        /// The text, shortened to 64 characters.
        value: String,
        /// The format that was expected.
        expected: String,
    },
    /// The value reads, but as a time outside the years 1 to 9999.
    #[error("{0:?} is outside the years 1 to 9999")]
    OutOfRange(String),
    /// The zone name is not an offset, `UTC` or an IANA zone.
    #[error(
        "unknown time zone {0:?}: expected UTC, an offset such as +02:00, or a name such as Europe/Berlin"
    )]
    UnknownZone(String),
    /// The wall-clock time does not exist in the zone (skipped by a daylight-saving change).
    #[error("{0} does not exist in this time zone (a daylight-saving change skips it)")]
    SkippedByDst(String),
    /// No supported format reads every sample value.
    #[error("no timestamp format reads all of these values; for example {0:?}")]
    NoFormat(String),
}

fn shortened(text: &str) -> String {
    text.chars().take(64).collect()
}

fn unreadable(text: &str, format: TimeFormat) -> TimeError {
    TimeError::Unreadable { value: shortened(text), expected: format.to_string() }
}

fn parse_offset(text: &str) -> Option<FixedOffset> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !(digits.len() == 2 || digits.len() == 4) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 { digits[2..].parse().ok()? } else { 0 };
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// Splits ISO text into its local part and its offset, if any (`Z`, `+02:00`, `+0200`, `+02`).
fn split_offset(text: &str) -> (&str, Option<FixedOffset>) {
    if let Some(local) = text.strip_suffix(['Z', 'z']) {
        return (local, Some(FixedOffset::east_opt(0).expect("zero is a valid offset")));
    }
    // An offset starts with the last + or - after the time's colon (dates contain '-' too).
    let Some(t) = text.find(['T', 't', ' ']) else { return (text, None) };
    match text[t..].rfind(['+', '-']) {
        Some(at) => {
            let at = t + at;
            match parse_offset(&text[at..]) {
                Some(offset) => (text[..at].trim_end(), Some(offset)),
                None => (text, None),
            }
        }
        None => (text, None),
    }
}

/// Whether `text` is a time of day (`09:30`, `09:30:15`, `09:30:15.250`), as a column beside
/// a date column holds it.
pub fn is_time_of_day(text: &str) -> bool {
    text.contains(':') && parse_time_of_day(text).is_some()
}

fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M"]
        .iter()
        .find_map(|format| NaiveTime::parse_from_str(text, format).ok())
}

/// Two ASCII digits at `at`, as a number.
fn two_digits(bytes: &[u8], at: usize) -> Option<u32> {
    let (tens, ones) = (*bytes.get(at)?, *bytes.get(at + 1)?);
    (tens.is_ascii_digit() && ones.is_ascii_digit())
        .then(|| u32::from(tens - b'0') * 10 + u32::from(ones - b'0'))
}

std::thread_local! {
    /// The date last read by [`fast_iso`]: consecutive rows nearly always share it.
    static LAST_DATE: std::cell::Cell<Option<([u8; 10], NaiveDate)>> =
        const { std::cell::Cell::new(None) };
}

/// The date written `YYYY-MM-DD` in `text`, from the last one read when it is the same.
fn cached_date(text: &[u8; 10]) -> Option<NaiveDate> {
    if let Some((last, date)) = LAST_DATE.get()
        && last == *text
    {
        return Some(date);
    }
    let year = two_digits(text, 0)? * 100 + two_digits(text, 2)?;
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(year).ok()?,
        two_digits(text, 5)?,
        two_digits(text, 8)?,
    )?;
    LAST_DATE.set(Some((*text, date)));
    Some(date)
}

/// The shapes nearly every file uses (`2024-01-31`, `2024-01-31T09:30`,
/// `2024-01-31 09:30:00.250+02:00`, `...Z`), read without allocating; `None` sends anything
/// else to the general reader, which accepts a superset of these.
fn fast_iso(text: &str) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let b = text.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let date = cached_date(b[..10].try_into().expect("ten bytes"))?;
    if b.len() == 10 {
        return Some((date.and_time(NaiveTime::MIN), None));
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.get(13) != Some(&b':') {
        return None;
    }
    let (hour, minute) = (two_digits(b, 11)?, two_digits(b, 14)?);
    let (mut at, mut second, mut nanos) = (16, 0, 0);
    if b.get(at) == Some(&b':') {
        second = two_digits(b, 17)?;
        at = 19;
        if b.get(at) == Some(&b'.') {
            let start = at + 1;
            at = start;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            let digits = &b[start..at];
            if digits.is_empty() || digits.len() > 9 {
                return None;
            }
            let value = digits.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
            nanos = value * 10u32.pow(9 - digits.len() as u32);
        }
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    let offset = match &text[at..] {
        "" => None,
        "Z" | "z" => Some(FixedOffset::east_opt(0)?),
        rest => Some(parse_offset(rest)?),
    };
    Some((date.and_time(time), offset))
}

fn parse_iso(text: &str) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    if let Some(fast) = fast_iso(crate::text::trimmed(text)) {
        return Some(fast);
    }
    let (local, offset) = split_offset(text.trim());
    let (date, time) = match local.find(['T', 't', ' ']) {
        Some(at) => (&local[..at], Some(&local[at + 1..])),
        None => (local, None),
    };
    if date.len() != 10 || date.as_bytes().get(4) != Some(&b'-') {
        return None;
    }
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let time = match time {
        Some(time) => parse_time_of_day(time)?,
        None if offset.is_some() => return None,
        None => NaiveTime::MIN,
    };
    Some((date.and_time(time), offset))
}

/// The three numeric fields of a date with separators, and the time after it, if any.
fn dated_fields(text: &str) -> Option<([u32; 3], [usize; 3], Option<&str>)> {
    let text = text.trim();
    let (date, time) = match text.find([' ', 'T']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let separator = date.chars().find(|c| matches!(c, '/' | '.' | '-'))?;
    let parts: Vec<&str> = date.split(separator).collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut values = [0u32; 3];
    let mut widths = [0usize; 3];
    for (i, part) in parts.iter().enumerate() {
        values[i] = part.parse().ok()?;
        widths[i] = part.len();
    }
    Some((values, widths, time))
}

fn parse_dated(text: &str, order: DateOrder) -> Option<NaiveDateTime> {
    let (values, widths, time) = dated_fields(text)?;
    let (year, month, day, year_width) = match order {
        DateOrder::YearMonthDay => (values[0], values[1], values[2], widths[0]),
        DateOrder::DayMonthYear => (values[2], values[1], values[0], widths[2]),
        DateOrder::MonthDayYear => (values[2], values[0], values[1], widths[2]),
    };
    let year = match year_width {
        4 => i32::try_from(year).ok()?,
        // Two-digit years: 70-99 are the 1900s, 00-69 the 2000s.
        2 => i32::try_from(if year >= 70 { 1900 + year } else { 2000 + year }).ok()?,
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let time = match time {
        Some(time) => parse_time_of_day(time)?,
        None => NaiveTime::MIN,
    };
    Some(date.and_time(time))
}

fn parse_compact(text: &str) -> Option<NaiveDateTime> {
    let digits: String = text.trim().chars().filter(|c| !c.is_whitespace()).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let date = NaiveDate::parse_from_str(digits.get(..8)?, "%Y%m%d").ok()?;
    let time = match digits.len() {
        8 => NaiveTime::MIN,
        12 => NaiveTime::parse_from_str(&digits[8..], "%H%M").ok()?,
        14 => NaiveTime::parse_from_str(&digits[8..], "%H%M%S").ok()?,
        _ => return None,
    };
    Some(date.and_time(time))
}

fn from_micros(micros: f64, text: &str) -> Result<DateTime<Utc>, TimeError> {
    // Years 1 to 9999, the range every backend and format can carry.
    const MIN: f64 = -62_135_596_800_000_000.0;
    const MAX: f64 = 253_402_300_799_999_999.0;
    if !micros.is_finite() || !(MIN..=MAX).contains(&micros) {
        return Err(TimeError::OutOfRange(shortened(text)));
    }
    DateTime::from_timestamp_micros(micros.round() as i64)
        .ok_or_else(|| TimeError::OutOfRange(shortened(text)))
}

/// Days from 1899-12-30 (Excel's day zero, which absorbs its 1900 leap-year bug) to 1970.
const EXCEL_EPOCH_OFFSET_DAYS: f64 = 25_569.0;

impl TimeFormat {
    /// Reads one timestamp written in this format; values without an offset are read in
    /// `zone`.
    pub fn parse(self, text: &str, zone: &Zone) -> Result<DateTime<Utc>, TimeError> {
        let trimmed = crate::text::trimmed(text);
        let naive = match self {
            Self::Iso => {
                let (local, offset) = parse_iso(trimmed).ok_or_else(|| unreadable(text, self))?;
                return match offset {
                    Some(offset) => offset
                        .from_local_datetime(&local)
                        .single()
                        .map(|t| t.with_timezone(&Utc))
                        .ok_or_else(|| unreadable(text, self)),
                    None => zone.to_utc(local),
                };
            }
            Self::Dated(order) => parse_dated(trimmed, order),
            Self::Compact => parse_compact(trimmed),
            Self::Epoch(unit) => {
                let value: f64 = trimmed.parse().map_err(|_| unreadable(text, self))?;
                return from_micros(value * unit.micros_per_unit(), text);
            }
            Self::ExcelSerial => {
                let days: f64 = trimmed.parse().map_err(|_| unreadable(text, self))?;
                let micros = (days - EXCEL_EPOCH_OFFSET_DAYS) * 86_400e6;
                // Serial dates are wall-clock times of the sheet's zone.
                let instant = from_micros(micros, text)?;
                return zone.to_utc(instant.naive_utc());
            }
        };
        zone.to_utc(naive.ok_or_else(|| unreadable(text, self))?)
    }
}

/// Reads a date and a time kept in separate columns (Stooq, MetaTrader) as one timestamp.
pub fn parse_date_and_time(
    date: &str,
    time: &str,
    format: TimeFormat,
    zone: &Zone,
) -> Result<DateTime<Utc>, TimeError> {
    let time = time.trim();
    // Compact times (HHMMSS, as Stooq writes them) become HH:MM:SS for the dated formats.
    let time = if time.len() == 6
        && time.bytes().all(|b| b.is_ascii_digit())
        && format != TimeFormat::Compact
    {
        format!("{}:{}:{}", &time[..2], &time[2..4], &time[4..])
    } else {
        time.to_owned()
    };
    let joined =
        if time.is_empty() { date.trim().to_owned() } else { format!("{} {time}", date.trim()) };
    format.parse(&joined, zone)
}

/// What detection concluded about a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detection {
    /// The format that reads every sample value.
    pub format: TimeFormat,
    /// Whether day-first and month-first both read every value, so the data cannot decide
    /// between them. `format` is then day-first; the caller should warn and let the person
    /// choose.
    pub ambiguous: bool,
}

/// Decides how the timestamps in `samples` are written. Empty values are ignored.
/// `spreadsheet` says the numbers come from a spreadsheet cell, where they are serial days
/// rather than epoch values.
pub fn detect<'a>(
    samples: impl IntoIterator<Item = &'a str>,
    spreadsheet: bool,
) -> Result<Detection, TimeError> {
    let values: Vec<&str> = samples.into_iter().map(str::trim).filter(|v| !v.is_empty()).collect();
    let Some(first) = values.first() else {
        return Err(TimeError::NoFormat(String::new()));
    };
    let all = |format: TimeFormat| values.iter().all(|v| format.parse(v, &Zone::Utc).is_ok());
    let unambiguous = |format| Ok(Detection { format, ambiguous: false });

    if all(TimeFormat::Iso) {
        return unambiguous(TimeFormat::Iso);
    }
    let numeric: Option<Vec<f64>> = values.iter().map(|v| v.parse::<f64>().ok()).collect();
    // Eight or fourteen digits that read as calendar dates are YYYYMMDD, not epoch seconds.
    let compact_shaped = values.iter().all(|v| {
        let digits = v.chars().filter(|c| !c.is_whitespace()).count();
        matches!(digits, 8 | 12 | 14) && v.chars().all(|c| c.is_ascii_digit() || c == ' ')
    });
    if compact_shaped && all(TimeFormat::Compact) {
        let plausible = values
            .iter()
            .all(|v| v[..4].parse::<u32>().is_ok_and(|year| (1800..=2200).contains(&year)));
        if plausible {
            return unambiguous(TimeFormat::Compact);
        }
    }
    if let Some(numbers) = numeric {
        if spreadsheet && all(TimeFormat::ExcelSerial) {
            return unambiguous(TimeFormat::ExcelSerial);
        }
        let largest = numbers.iter().fold(0.0f64, |max, v| max.max(v.abs()));
        let format = TimeFormat::Epoch(EpochUnit::for_magnitude(largest));
        if all(format) {
            return unambiguous(format);
        }
    }
    let orders: Vec<DateOrder> =
        [DateOrder::YearMonthDay, DateOrder::DayMonthYear, DateOrder::MonthDayYear]
            .into_iter()
            .filter(|order| all(TimeFormat::Dated(*order)))
            .collect();
    match orders.as_slice() {
        [] => Err(TimeError::NoFormat(shortened(
            values
                .iter()
                .find(|v| TimeFormat::Dated(DateOrder::DayMonthYear).parse(v, &Zone::Utc).is_err())
                .unwrap_or(first),
        ))),
        [only] => unambiguous(TimeFormat::Dated(*only)),
        [DateOrder::DayMonthYear, DateOrder::MonthDayYear] => {
            Ok(Detection { format: TimeFormat::Dated(DateOrder::DayMonthYear), ambiguous: true })
        }
        [first, ..] => unambiguous(TimeFormat::Dated(*first)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn read(format: TimeFormat, text: &str) -> DateTime<Utc> {
        format.parse(text, &Zone::Utc).unwrap()
    }

    #[test]
    fn iso_timestamps_read_with_and_without_offsets() {
        let iso = TimeFormat::Iso;
        assert_eq!(read(iso, "2024-01-31"), utc("2024-01-31T00:00:00Z"));
        assert_eq!(read(iso, "2024-01-31T12:30:00Z"), utc("2024-01-31T12:30:00Z"));
        assert_eq!(read(iso, "2024-01-31 12:30"), utc("2024-01-31T12:30:00Z"));
        assert_eq!(
            read(iso, "2024-01-31T12:30:00.123456+02:00"),
            utc("2024-01-31T10:30:00.123456Z")
        );
        assert_eq!(read(iso, "2024-01-31T12:30:00-0500"), utc("2024-01-31T17:30:00Z"));
        assert!(iso.parse("2024-13-01", &Zone::Utc).is_err());
        assert!(iso.parse("31.01.2024", &Zone::Utc).is_err());
    }

    #[test]
    fn the_fast_iso_reader_agrees_with_the_general_one() {
        let samples = [
            "2024-01-31",
            "2024-01-31T09:30",
            "2024-01-31 09:30:15",
            "2024-01-31T09:30:15.25Z",
            "2024-01-31T09:30:15.123456789+02:00",
            "2024-01-31T09:30:15-0530",
            "2024-01-31T09:30+02",
            "2024-02-30",
            "2024-01-31T25:00",
            "2024-01-31T09:30:15.",
            "2024-01-31T09:30:15.1234567891",
            "2024-01-31T09:30:15+24:00",
            "2024-01-31X09:30",
            "2024-01-31T09:3",
            "20240131",
        ];
        for text in samples {
            if let Some(fast) = fast_iso(text) {
                let (local, offset) = split_offset(text);
                let (date, time) = local.split_at(10.min(local.len()));
                let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
                let time = match time.get(1..) {
                    Some(time) if !time.is_empty() => parse_time_of_day(time).unwrap(),
                    _ => NaiveTime::MIN,
                };
                assert_eq!(fast, (date.and_time(time), offset), "{text}");
            }
        }
        assert!(fast_iso("2024-02-30").is_none() && fast_iso("2024-01-31T25:00").is_none());
    }

    #[test]
    fn naive_timestamps_are_read_in_the_chosen_zone() {
        let berlin: Zone = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            TimeFormat::Iso.parse("2024-01-31 12:00", &berlin).unwrap(),
            utc("2024-01-31T11:00:00Z")
        );
        assert_eq!(
            TimeFormat::Iso.parse("2024-07-31 12:00", &berlin).unwrap(),
            utc("2024-07-31T10:00:00Z")
        );
        let skipped = TimeFormat::Iso.parse("2024-03-31 02:30", &berlin).unwrap_err();
        assert!(matches!(skipped, TimeError::SkippedByDst(_)), "{skipped}");
        // The repeated hour reads as its first occurrence.
        assert_eq!(
            TimeFormat::Iso.parse("2024-10-27 02:30", &berlin).unwrap(),
            utc("2024-10-27T00:30:00Z")
        );
        let fixed: Zone = "+05:30".parse().unwrap();
        assert_eq!(
            TimeFormat::Iso.parse("2024-01-31 12:00", &fixed).unwrap(),
            utc("2024-01-31T06:30:00Z")
        );
        // An explicit offset wins over the zone.
        assert_eq!(
            TimeFormat::Iso.parse("2024-01-31T12:00Z", &berlin).unwrap(),
            utc("2024-01-31T12:00:00Z")
        );
        assert!(matches!("Mars/Olympus".parse::<Zone>(), Err(TimeError::UnknownZone(_))));
    }

    #[test]
    fn compact_and_separate_date_and_time_columns_read_like_stooq_writes_them() {
        assert_eq!(read(TimeFormat::Compact, "20240131"), utc("2024-01-31T00:00:00Z"));
        assert_eq!(read(TimeFormat::Compact, "20240131 093000"), utc("2024-01-31T09:30:00Z"));
        assert_eq!(read(TimeFormat::Compact, "202401310930"), utc("2024-01-31T09:30:00Z"));
        let joined =
            parse_date_and_time("20240131", "093000", TimeFormat::Compact, &Zone::Utc).unwrap();
        assert_eq!(joined, utc("2024-01-31T09:30:00Z"));
        let dated = TimeFormat::Dated(DateOrder::YearMonthDay);
        let joined = parse_date_and_time("2024.01.31", "09:30", dated, &Zone::Utc).unwrap();
        assert_eq!(joined, utc("2024-01-31T09:30:00Z"));
        let joined = parse_date_and_time("2024.01.31", "093015", dated, &Zone::Utc).unwrap();
        assert_eq!(joined, utc("2024-01-31T09:30:15Z"));
    }

    #[test]
    fn epoch_numbers_are_read_in_the_unit_their_magnitude_implies() {
        let instant = utc("2024-01-31T12:00:00Z");
        let seconds = instant.timestamp();
        for (text, unit) in [
            (seconds.to_string(), EpochUnit::Seconds),
            ((seconds * 1_000).to_string(), EpochUnit::Millis),
            ((seconds * 1_000_000).to_string(), EpochUnit::Micros),
            ((seconds * 1_000_000_000).to_string(), EpochUnit::Nanos),
        ] {
            let detected = detect([text.as_str()], false).unwrap();
            assert_eq!(detected.format, TimeFormat::Epoch(unit), "{text}");
            assert_eq!(read(detected.format, &text), instant);
        }
        assert_eq!(
            read(TimeFormat::Epoch(EpochUnit::Seconds), "1706702400.5"),
            utc("2024-01-31T12:00:00.5Z")
        );
        assert!(matches!(
            TimeFormat::Epoch(EpochUnit::Seconds).parse("1e300", &Zone::Utc),
            Err(TimeError::OutOfRange(_))
        ));
    }

    #[test]
    fn excel_serial_days_read_from_spreadsheets() {
        assert_eq!(read(TimeFormat::ExcelSerial, "45322"), utc("2024-01-31T00:00:00Z"));
        assert_eq!(read(TimeFormat::ExcelSerial, "45322.5"), utc("2024-01-31T12:00:00Z"));
        assert_eq!(detect(["45322", "45323.25"], true).unwrap().format, TimeFormat::ExcelSerial);
    }

    #[test]
    fn day_first_or_month_first_is_decided_by_the_data_or_reported_as_ambiguous() {
        let day_first = detect(["01/02/2024", "13/02/2024"], false).unwrap();
        assert_eq!(
            day_first,
            Detection { format: TimeFormat::Dated(DateOrder::DayMonthYear), ambiguous: false }
        );
        let month_first = detect(["01/02/2024", "02/13/2024"], false).unwrap();
        assert_eq!(month_first.format, TimeFormat::Dated(DateOrder::MonthDayYear));
        let undecided = detect(["01/02/2024", "03/04/2024"], false).unwrap();
        assert!(undecided.ambiguous);
        let german = detect(["31.01.2024 09:30", "01.02.2024 10:00"], false).unwrap();
        assert_eq!(german.format, TimeFormat::Dated(DateOrder::DayMonthYear));
        assert_eq!(read(german.format, "31.01.2024 09:30"), utc("2024-01-31T09:30:00Z"));
        let year_first = detect(["2024/01/31", "2024/02/01"], false).unwrap();
        assert_eq!(year_first.format, TimeFormat::Dated(DateOrder::YearMonthDay));
        assert_eq!(
            read(TimeFormat::Dated(DateOrder::DayMonthYear), "31/01/99"),
            utc("1999-01-31T00:00:00Z")
        );
    }

    #[test]
    fn detection_prefers_iso_then_compact_and_refuses_mixtures() {
        assert_eq!(
            detect(["2024-01-31", "", "2024-02-01T10:00:00Z"], false).unwrap().format,
            TimeFormat::Iso
        );
        assert_eq!(detect(["20240131", "20240201"], false).unwrap().format, TimeFormat::Compact);
        let mixed = detect(["2024-01-31", "31/01/2024"], false).unwrap_err();
        assert!(matches!(mixed, TimeError::NoFormat(_)), "{mixed}");
        assert!(detect(["not a date"], false).is_err());
        assert!(detect(std::iter::empty(), false).is_err());
    }

    #[test]
    fn no_input_panics_the_parsers() {
        let nasty = [
            "",
            " ",
            "-",
            "+",
            "T",
            "2024-",
            "9999999999999999999999",
            "NaN",
            "inf",
            "-1e400",
            "2024-01-31T25:00",
            "0000-00-00",
            "31/31/31",
            "\u{0}",
            "٢٠٢٤-٠١-٣١",
            "2024-01-31T12:00:00+99:99",
            "20240231",
            "1/2/3/4",
            "12:00",
            "Z",
            "2024-01-31 12:00 +02",
            "00000000000000",
        ];
        let formats = [
            TimeFormat::Iso,
            TimeFormat::Compact,
            TimeFormat::ExcelSerial,
            TimeFormat::Dated(DateOrder::DayMonthYear),
            TimeFormat::Dated(DateOrder::MonthDayYear),
            TimeFormat::Dated(DateOrder::YearMonthDay),
            TimeFormat::Epoch(EpochUnit::Nanos),
        ];
        for text in nasty {
            for format in formats {
                let _ = format.parse(text, &Zone::Utc);
            }
            let _ = detect([text], false);
            let _ = detect([text], true);
        }
    }
}
