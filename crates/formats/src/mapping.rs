//! The proposed reading of a table: which column (or pair of columns) holds the time and in
//! what format, which columns name the series, whether the table is long (a row per series
//! and time) or wide (a column per series), and what the other columns are. Made from names
//! first and content second (a file without a header is read by content alone, and named
//! after the known layouts it matches); every choice is a plain value the person can
//! override, and the proposal says in its notes why it chose what it did by content.

use variosync_domain::time::{TimeFormat, Zone, detect};

use crate::columns::{Role, deduplicate, role, sanitize};
use crate::numbers::{DecimalMark, detect_decimal_mark, is_null, parse_number};

/// Where the timestamps come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    /// One column.
    Column {
        /// The column's position.
        index: usize,
        /// How it is written.
        format: TimeFormat,
    },
    /// A date column and a time-of-day column (Stooq, MetaTrader).
    DateAndTime {
        /// The date column's position.
        date: usize,
        /// The time column's position.
        time: usize,
        /// How the date is written.
        format: TimeFormat,
    },
}

impl TimeSource {
    fn uses(&self, index: usize) -> bool {
        match *self {
            Self::Column { index: i, .. } => i == index,
            Self::DateAndTime { date, time, .. } => date == index || time == index,
        }
    }
}

/// The type a value column is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Whole numbers (volumes, counts).
    Integer,
    /// Decimal numbers.
    Float,
    /// Anything else.
    Text,
}

/// A column that becomes a value column of the dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueColumn {
    /// Its position in the file.
    pub index: usize,
    /// Its name in the dataset: the canonical name of a recognised field, else the file's
    /// name made safe; unique.
    pub name: String,
    /// How it is read.
    pub kind: ValueKind,
}

/// How the rows of a table hold their series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// A row per series and time; the series (if several) is named in series columns.
    #[default]
    Long,
    /// A row per time and a column per series: each value column becomes a series of its
    /// own, named after the column, with one value column called `value`.
    Wide,
}

impl Layout {
    /// The name the mapping takes (`long`, `wide`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Long => "long",
            Self::Wide => "wide",
        }
    }
}

/// The value column of a wide table's series.
pub const WIDE_VALUE: &str = "value";

/// The proposed reading of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Where the time comes from.
    pub time: TimeSource,
    /// The columns whose values together name a row's series (joined with `/`), when rows
    /// belong to several series; empty for one series.
    pub series: Vec<usize>,
    /// Long (a row per series and time) or wide (a column per series).
    pub layout: Layout,
    /// Every other column.
    pub values: Vec<ValueColumn>,
    /// The decimal mark of the numeric columns.
    pub decimal: DecimalMark,
    /// Things the person should check (an ambiguous date order, empty columns).
    pub warnings: Vec<String>,
    /// Why the reading is what it is, where content rather than a name decided it.
    pub notes: Vec<String>,
}

impl Proposal {
    /// A suggestion for a file in which many rows repeat a series and time with other
    /// values: the columns that could name the series (or hold the time of day), as the
    /// mapping would choose them. `names` are the file's column names.
    pub fn repeat_hint(&self, names: &[String]) -> String {
        let text: Vec<&str> = self
            .values
            .iter()
            .filter(|v| v.kind == ValueKind::Text)
            .map(|v| names.get(v.index).map_or("", String::as_str))
            .collect();
        let mut hint = match (self.series.as_slice(), text.as_slice()) {
            ([], []) => "the file may hold several series without a column naming them, or a \
                 time of day in a column that was not recognised"
                .to_owned(),
            ([], [one]) => format!(
                "if column `{one}` names the series, choose it: mapping {{\"series\": \"{one}\"}}"
            ),
            ([], several) => format!(
                "if some of the columns {} name the series, choose them: mapping \
                 {{\"series\": \"{}\"}}",
                several.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
                several.join(",")
            ),
            (chosen, _) => format!(
                "the series were read from {}; if more columns are part of the series, add \
                 them to mapping `series` (joined with commas)",
                chosen
                    .iter()
                    .map(|i| format!("`{}`", names.get(*i).map_or("", String::as_str)))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        };
        if let TimeSource::Column { index, .. } = self.time {
            hint.push_str(&format!(
                "; if a column holds the time of day beside `{}`, choose it as `time_of_day`",
                names.get(index).map_or("", String::as_str)
            ));
        }
        hint
    }
}

/// Why no reading can be proposed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// No column holds timestamps.
    #[error(
        "no column holds timestamps: name one (for example `date` or `timestamp`) or choose it in the mapping"
    )]
    NoTimeColumn {
        /// The file's columns, to choose from.
        columns: Vec<String>,
    },
    /// A column holds times, written in more than one way.
    #[error(
        "column `{column}` holds times written in more than one way: most read as {format}, but \
         {} has `{value}`; write them one way, or choose `time_format` in the mapping (with \
         lenient mode, rows written otherwise are set aside)",
        .line.map_or_else(|| format!("data row {}", row + 1), |line| format!("line {line}"))
    )]
    MixedTimes {
        /// The column's name.
        column: String,
        /// The way most of its values are written.
        format: TimeFormat,
        /// The first value written otherwise: its 0-based row in the sample...
        row: usize,
        /// ...and its 1-based line in the file, where the reader knows it.
        line: Option<usize>,
        /// The value.
        value: String,
    },
    /// The table has no rows to learn from.
    #[error("the table has no rows")]
    NoRows,
    /// The mapping names a column the file does not have.
    #[error("the mapping names column {name:?}, which the file does not have (it has: {columns})")]
    UnknownColumn {
        /// The name given.
        name: String,
        /// The file's columns.
        columns: String,
    },
    /// The mapping is not valid.
    #[error("{0}")]
    Invalid(String),
}

fn column(rows: &[Vec<String>], index: usize) -> impl Iterator<Item = &str> + Clone {
    rows.iter().filter_map(move |row| row.get(index)).map(String::as_str).filter(|v| !is_null(v))
}

/// Proposes how to read a table with these column names and sample rows.
pub fn propose(names: &[String], rows: &[Vec<String>]) -> Result<Proposal, MappingError> {
    propose_with(names, rows, &Override::default())
}

/// Choices a person makes instead of the detected ones; every field is optional, and
/// columns are named as in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// The column holding the time (or the date, with `time_of_day`).
    pub time: Option<String>,
    /// A separate time-of-day column.
    pub time_of_day: Option<String>,
    /// How the time is written: `iso`, `ymd`, `dmy`, `mdy`, `compact`, `epoch_s`,
    /// `epoch_ms`, `epoch_us`, `epoch_ns` or `excel`.
    pub time_format: Option<String>,
    /// The series column, several joined with commas (`store,dept`), or `none` for one
    /// series named after the file.
    pub series: Option<String>,
    /// `long` (a row per series and time) or `wide` (a column per series).
    pub layout: Option<String>,
    /// Only these value columns, in this order.
    pub columns: Option<Vec<String>>,
    /// Leave these columns out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Read these columns as `float`, `integer` or `text`.
    #[serde(default)]
    pub types: std::collections::BTreeMap<String, String>,
    /// The decimal mark: `point` or `comma`.
    pub decimal: Option<String>,
    /// The sheet of a workbook to read: its name or its 1-based number (the first if unset).
    pub sheet: Option<String>,
}

impl Override {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

fn parse_time_format(text: &str) -> Result<TimeFormat, MappingError> {
    use variosync_domain::time::{DateOrder, EpochUnit};
    Ok(match text {
        "iso" => TimeFormat::Iso,
        "ymd" => TimeFormat::Dated(DateOrder::YearMonthDay),
        "dmy" => TimeFormat::Dated(DateOrder::DayMonthYear),
        "mdy" => TimeFormat::Dated(DateOrder::MonthDayYear),
        "compact" => TimeFormat::Compact,
        "epoch_s" => TimeFormat::Epoch(EpochUnit::Seconds),
        "epoch_ms" => TimeFormat::Epoch(EpochUnit::Millis),
        "epoch_us" => TimeFormat::Epoch(EpochUnit::Micros),
        "epoch_ns" => TimeFormat::Epoch(EpochUnit::Nanos),
        "excel" => TimeFormat::ExcelSerial,
        other => {
            return Err(MappingError::Invalid(format!(
                "time_format {other:?} is not one of iso, ymd, dmy, mdy, compact, epoch_s, epoch_ms, epoch_us, epoch_ns, excel"
            )));
        }
    })
}

/// The mapping's name for a time format, as `time_format` takes it.
pub fn time_format_code(format: TimeFormat) -> &'static str {
    use variosync_domain::time::{DateOrder, EpochUnit};
    match format {
        TimeFormat::Iso => "iso",
        TimeFormat::Dated(DateOrder::YearMonthDay) => "ymd",
        TimeFormat::Dated(DateOrder::DayMonthYear) => "dmy",
        TimeFormat::Dated(DateOrder::MonthDayYear) => "mdy",
        TimeFormat::Compact => "compact",
        TimeFormat::Epoch(EpochUnit::Seconds) => "epoch_s",
        TimeFormat::Epoch(EpochUnit::Millis) => "epoch_ms",
        TimeFormat::Epoch(EpochUnit::Micros) => "epoch_us",
        TimeFormat::Epoch(EpochUnit::Nanos) => "epoch_ns",
        TimeFormat::ExcelSerial => "excel",
    }
}

/// Proposes how to read a table, taking the person's choices in `choice` over detection.
pub fn propose_with(
    names: &[String],
    rows: &[Vec<String>],
    choice: &Override,
) -> Result<Proposal, MappingError> {
    if rows.is_empty() {
        return Err(MappingError::NoRows);
    }
    let position = |name: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| MappingError::UnknownColumn {
            name: name.to_owned(),
            columns: names.join(", "),
        })
    };
    let forced_format = choice.time_format.as_deref().map(parse_time_format).transpose()?;
    let forced_decimal = match choice.decimal.as_deref() {
        None => None,
        Some("point") => Some(DecimalMark::Point),
        Some("comma") => Some(DecimalMark::Comma),
        Some(other) => {
            return Err(MappingError::Invalid(format!("decimal {other:?} is not point or comma")));
        }
    };
    let forced_time = match (&choice.time, &choice.time_of_day) {
        (Some(time), None) => Some((position(time)?, None)),
        (Some(date), Some(clock)) => Some((position(date)?, Some(position(clock)?))),
        (None, Some(_)) => {
            return Err(MappingError::Invalid(
                "time_of_day needs time (the date column)".to_owned(),
            ));
        }
        (None, None) => None,
    };
    let forced_series: Option<Vec<usize>> = match choice.series.as_deref() {
        None => None,
        Some("" | "none") => Some(Vec::new()),
        Some(name) if names.iter().any(|n| n == name) => Some(vec![position(name)?]),
        Some(list) => {
            Some(list.split(',').map(|name| position(name.trim())).collect::<Result<_, _>>()?)
        }
    };
    let forced_layout = match choice.layout.as_deref() {
        None => None,
        Some("long") => Some(Layout::Long),
        Some("wide") => Some(Layout::Wide),
        Some(other) => {
            return Err(MappingError::Invalid(format!("layout {other:?} is not long or wide")));
        }
    };
    let excluded: Vec<usize> =
        choice.exclude.iter().map(|name| position(name)).collect::<Result<_, _>>()?;
    let kept: Option<Vec<usize>> = choice
        .columns
        .as_ref()
        .map(|columns| columns.iter().map(|name| position(name)).collect::<Result<_, _>>())
        .transpose()?;
    let mut kinds = Vec::new();
    for (name, kind) in &choice.types {
        let kind = match kind.as_str() {
            "float" => ValueKind::Float,
            "integer" => ValueKind::Integer,
            "text" => ValueKind::Text,
            other => {
                return Err(MappingError::Invalid(format!(
                    "type {other:?} of {name:?} is not float, integer or text"
                )));
            }
        };
        kinds.push((position(name)?, kind));
    }
    let forced = Forced {
        time: forced_time,
        format: forced_format,
        decimal: forced_decimal,
        series: forced_series,
        layout: forced_layout,
    };
    let mut proposal = detect_mapping(names, rows, &forced)?;
    proposal.values.retain(|v| !excluded.contains(&v.index));
    if let Some(kept) = kept {
        let mut ordered = Vec::new();
        for index in kept {
            match proposal.values.iter().position(|v| v.index == index) {
                Some(at) => ordered.push(proposal.values.remove(at)),
                None => {
                    return Err(MappingError::Invalid(format!(
                        "column {:?} is the time or series column, not a value column",
                        names[index]
                    )));
                }
            }
        }
        proposal.values = ordered;
    }
    for (index, kind) in kinds {
        if let Some(value) = proposal.values.iter_mut().find(|v| v.index == index) {
            value.kind = kind;
        }
    }
    Ok(proposal)
}

/// The person's choices, resolved to column positions.
struct Forced {
    time: Option<(usize, Option<usize>)>,
    format: Option<TimeFormat>,
    decimal: Option<DecimalMark>,
    series: Option<Vec<usize>>,
    layout: Option<Layout>,
}

/// Whether the names are the ones made up for a file without a header.
fn generated(names: &[String]) -> bool {
    names.iter().enumerate().all(|(i, name)| *name == format!("column_{}", i + 1))
}

/// The span of plausible epoch times, in seconds: 1990 to 2100.
const PLAUSIBLE_EPOCH: std::ops::RangeInclusive<f64> = 631_152_000.0..=4_102_444_800.0;

/// Whether a column's sample reads as epoch times by its content alone: whole numbers of one
/// width, all between 1990 and 2100 in the unit their magnitude suggests. In a file with a
/// header, a column whose name says nothing must also be in milliseconds or finer (thirteen
/// digits or more) and never go back in time, so that counts and ids are not taken for times.
fn epoch_by_content<'a>(values: impl Iterator<Item = &'a str> + Clone, headerless: bool) -> bool {
    use variosync_domain::time::EpochUnit;
    let mut width = None;
    let mut previous = f64::MIN;
    let mut sorted = true;
    let mut count = 0usize;
    for value in values {
        let value = value.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        if *width.get_or_insert(value.len()) != value.len() {
            return false;
        }
        let Ok(number) = value.parse::<f64>() else { return false };
        let unit = EpochUnit::for_magnitude(number);
        let seconds = match unit {
            EpochUnit::Seconds => number,
            EpochUnit::Millis => number / 1e3,
            EpochUnit::Micros => number / 1e6,
            EpochUnit::Nanos => number / 1e9,
        };
        if !PLAUSIBLE_EPOCH.contains(&seconds) || (!headerless && unit == EpochUnit::Seconds) {
            return false;
        }
        sorted &= number >= previous;
        previous = number;
        count += 1;
    }
    count > 0 && (headerless || sorted)
}

/// Whether every sample value of a column is a time of day (`09:30`, `09:30:15`,
/// `09:30:15.250`).
fn times_of_day<'a>(mut values: impl Iterator<Item = &'a str>) -> bool {
    let mut any = false;
    let all = values.all(|value| {
        any = true;
        variosync_domain::time::is_time_of_day(value)
    });
    any && all
}

/// The sample rows' times (UTC), `None` where a row's time does not read.
fn sample_times(rows: &[Vec<String>], time: TimeSource) -> Vec<Option<i64>> {
    let zone = variosync_domain::time::Zone::Utc;
    fn cell(row: &[String], i: usize) -> &str {
        row.get(i).map_or("", String::as_str)
    }
    rows.iter()
        .map(|row| {
            let parsed = match time {
                TimeSource::Column { index, format } => format.parse(cell(row, index), &zone),
                TimeSource::DateAndTime { date, time, format } => {
                    variosync_domain::time::parse_date_and_time(
                        cell(row, date),
                        cell(row, time),
                        format,
                        &zone,
                    )
                }
            };
            parsed.ok().map(|at| at.timestamp_micros())
        })
        .collect()
}

/// How many sample rows repeat an earlier row's time and key (the values of `key`).
fn repeats(rows: &[Vec<String>], times: &[Option<i64>], key: &[usize]) -> usize {
    let mut seen = std::collections::HashSet::new();
    rows.iter()
        .zip(times)
        .filter_map(|(row, time)| time.map(|t| (row, t)))
        .filter(|(row, time)| {
            let parts: Vec<&str> =
                key.iter().map(|i| row.get(*i).map_or("", |v| v.trim())).collect();
            !seen.insert((*time, parts))
        })
        .count()
}

/// The columns that together name the series, found by content: when the sample's times
/// repeat, the fewest columns (text first, then whole numbers that repeat) that make every
/// time and key unique, or as nearly unique as they can. Numbers with fractions, recognised
/// price and volume fields, and whole-number columns nearly all of whose values differ
/// (volumes, counts) never name series.
fn series_by_content(
    names: &[String],
    rows: &[Vec<String>],
    times: &[Option<i64>],
    candidates: &[usize],
    whole_numbers: &dyn Fn(usize) -> bool,
) -> Option<(Vec<usize>, String)> {
    let base = repeats(rows, times, &[]);
    if base == 0 {
        return None;
    }
    let distinct = |index: usize| {
        column(rows, index).map(str::trim).collect::<std::collections::HashSet<_>>().len()
    };
    let total = times.iter().filter(|t| t.is_some()).count();
    let eligible: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|i| {
            let count = distinct(*i);
            count >= 2 && (!whole_numbers(*i) || count * 2 <= total)
        })
        .collect();
    let mut key: Vec<usize> = Vec::new();
    let mut left = base;
    while left > 0 && key.len() < 3 {
        let best = eligible
            .iter()
            .filter(|i| !key.contains(i))
            .map(|i| {
                let mut tried = key.clone();
                tried.push(*i);
                // Fewer repeats first; text before numbers; the earlier column first.
                (repeats(rows, times, &tried), whole_numbers(*i), *i)
            })
            .min();
        match best {
            Some((remaining, _, index)) if remaining < left => {
                key.push(index);
                left = remaining;
            }
            _ => break,
        }
    }
    if key.is_empty() {
        return None;
    }
    key.sort_unstable();
    let named: Vec<String> = key.iter().map(|i| format!("`{}`", names[*i])).collect();
    let (subject, verb) = match named.as_slice() {
        [one] => (one.clone(), "names"),
        _ => (named.join(" and "), "together name"),
    };
    let why = if left == 0 {
        format!(
            "{subject} {verb} the series: the times repeat ({base} of {total} sample rows share \
             a time) and each series has one row per time"
        )
    } else {
        format!(
            "{subject} {verb} the series: the times repeat ({base} of {total} sample rows share \
             a time); with the series, {left} still do"
        )
    };
    Some((key, why))
}

/// Whether a column name looks like the name of a series (a ticker, a code, a place code):
/// short, no lower-case letters, some letter or digit (`AAPL`, `BRK.B`, `^GSPC`, `DGS10`,
/// `EUR/USD`, `DE`).
fn looks_like_code(name: &str) -> bool {
    let name = name.trim();
    !name.is_empty()
        && name.chars().count() <= 20
        && !name.chars().any(char::is_lowercase)
        && name.chars().any(|c| c.is_alphabetic())
        && name.chars().all(|c| c.is_alphanumeric() || "._-^=/:&".contains(c))
}

/// The names of known layouts of files without a header, for `values` (in file order), when
/// the shape and content match: MetaTrader history (after its date and time columns: open,
/// high, low, close, tick volume[, volume, spread]) and exchange klines (after the open
/// time: open, high, low, close, volume, close time, quote volume, trades, taker base volume,
/// taker quote volume, ignore).
fn known_layout(
    time: TimeSource,
    width: usize,
    values: &[ValueColumn],
    ohlc: &dyn Fn([usize; 4]) -> bool,
) -> Option<(&'static str, &'static [&'static str])> {
    const METATRADER: &[&str] =
        &["open", "high", "low", "close", "tick_volume", "volume", "spread"];
    const KLINES: &[&str] = &[
        "open",
        "high",
        "low",
        "close",
        "volume",
        "close_time",
        "quote_volume",
        "trades",
        "taker_base_volume",
        "taker_quote_volume",
        "ignore",
    ];
    let numeric = values.iter().all(|v| v.kind != ValueKind::Text);
    let prices = |first: usize| {
        values.len() >= first + 4
            && ohlc([
                values[first].index,
                values[first + 1].index,
                values[first + 2].index,
                values[first + 3].index,
            ])
    };
    match time {
        TimeSource::DateAndTime { date: 0, time: 1, .. }
            if numeric && (width == 7 || width == 9) && prices(0) =>
        {
            Some(("MetaTrader history", &METATRADER[..width - 2]))
        }
        TimeSource::Column { index: 0, format: TimeFormat::Epoch(_) }
            if numeric && width == 12 && prices(0) =>
        {
            Some(("exchange klines", KLINES))
        }
        TimeSource::Column { index: 0, .. }
            if numeric && (width == 5 || width == 6) && prices(0) =>
        {
            Some(("time, open, high, low, close[, volume]", &KLINES[..width - 1]))
        }
        _ => None,
    }
}

fn detect_mapping(
    names: &[String],
    rows: &[Vec<String>],
    forced: &Forced,
) -> Result<Proposal, MappingError> {
    let headerless = generated(names);
    let roles: Vec<Option<Role>> = names.iter().map(|name| role(name)).collect();
    let find = |wanted: Role| roles.iter().position(|r| *r == Some(wanted));
    // A format must read the column; a few unreadable values (a row cut short, a stray
    // note) are left for the reading to report, as long as they are under a tenth.
    let detected = |index: usize| {
        detect(column(rows, index), false).ok().or_else(|| {
            let readable: Vec<&str> =
                column(rows, index).filter(|v| detect([*v], false).is_ok()).collect();
            let total = column(rows, index).count();
            let few_bad = !readable.is_empty() && (total - readable.len()) * 10 <= total.max(10);
            few_bad.then(|| detect(readable, false).ok()).flatten()
        })
    };
    // Times written several ways: the way most are written, and the first written otherwise.
    let mixed = |index: usize| -> Option<MappingError> {
        let values: Vec<(usize, &str)> = rows
            .iter()
            .enumerate()
            .filter_map(|(row, cells)| Some((row, cells.get(index)?.trim())))
            .filter(|(_, value)| !value.is_empty())
            .collect();
        let formats: Vec<Option<TimeFormat>> =
            values.iter().map(|(_, v)| detect([*v], false).ok().map(|d| d.format)).collect();
        let mut counts: Vec<(TimeFormat, usize)> = Vec::new();
        for format in formats.iter().flatten() {
            match counts.iter_mut().find(|(f, _)| f == format) {
                Some((_, n)) => *n += 1,
                None => counts.push((*format, 1)),
            }
        }
        let (format, count) = counts.into_iter().max_by_key(|(_, n)| *n)?;
        if count < 2 || count * 2 < values.len() || count == values.len() {
            return None;
        }
        let (row, value) = values
            .iter()
            .zip(&formats)
            .find(|((_, value), found)| {
                found.is_none_or(|f| f != format) && format.parse(value, &Zone::Utc).is_err()
            })
            .map(|((row, value), _)| (*row, (*value).to_owned()))?;
        Some(MappingError::MixedTimes {
            column: names[index].clone(),
            format,
            row,
            line: None,
            value,
        })
    };
    let mut warnings = Vec::new();
    let mut notes = Vec::new();

    let chosen = match forced.time {
        Some((index, clock)) => {
            let found = match forced.format {
                Some(format) => variosync_domain::time::Detection { format, ambiguous: false },
                None => detected(index).ok_or_else(|| {
                    if let Some(mixed) = mixed(index) {
                        return mixed;
                    }
                    MappingError::Invalid(format!(
                        "column {:?} does not hold times in a known format: choose time_format",
                        names[index]
                    ))
                })?,
            };
            let source = match clock {
                Some(time) => TimeSource::DateAndTime { date: index, time, format: found.format },
                None => TimeSource::Column { index, format: found.format },
            };
            Some((source, found))
        }
        None => None,
    };
    let time = chosen.or_else(|| {
        let date = find(Role::Date);
        let clock = find(Role::TimeOfDay).or_else(|| date.and(find(Role::Timestamp)));
        match (date, clock) {
            (Some(date), Some(time)) => detected(date)
                .map(|found| (TimeSource::DateAndTime { date, time, format: found.format }, found)),
            _ => None,
        }
        .or_else(|| {
            // A named time column, then the first column whose content reads as dates.
            // Numbers count when the name says they are times, or when they read as epoch
            // times by their content (see `epoch_by_content`).
            let named = [Role::Timestamp, Role::Date].into_iter().filter_map(find);
            let by_content = (0..names.len()).filter(|i| roles[*i].is_none());
            named.chain(by_content).find_map(|index| {
                let found = detected(index)?;
                let numeric =
                    matches!(found.format, TimeFormat::Epoch(_) | TimeFormat::ExcelSerial);
                let accepted = !numeric
                    || roles[index].is_some()
                    || (matches!(found.format, TimeFormat::Epoch(_))
                        && epoch_by_content(column(rows, index), headerless));
                if accepted && numeric && roles[index].is_none() {
                    notes.push(format!(
                        "`{}` holds the time: its numbers read as {} from {} on",
                        names[index],
                        found.format,
                        first_year(rows, index, found.format)
                    ));
                }
                accepted.then_some((TimeSource::Column { index, format: found.format }, found))
            })
        })
    });
    // A date column with a time-of-day column beside it is read as one timestamp.
    let time = time.map(|(source, found)| match source {
        TimeSource::Column { index, format }
            if forced.time.is_none()
                && !matches!(format, TimeFormat::Epoch(_) | TimeFormat::ExcelSerial)
                && column(rows, index).all(|v| !v.contains(':'))
                && index + 1 < names.len()
                && times_of_day(column(rows, index + 1)) =>
        {
            notes.push(format!(
                "`{}` holds the time of day of the dates in `{}`: they are read together",
                names[index + 1],
                names[index]
            ));
            (TimeSource::DateAndTime { date: index, time: index + 1, format }, found)
        }
        other => (other, found),
    });
    // A format chosen for a detected column replaces the detected one.
    let time = time.map(|(source, found)| match (forced.format, source) {
        (Some(format), TimeSource::Column { index, .. }) => (
            TimeSource::Column { index, format },
            variosync_domain::time::Detection { format, ambiguous: false },
        ),
        (Some(format), TimeSource::DateAndTime { date, time, .. }) => (
            TimeSource::DateAndTime { date, time, format },
            variosync_domain::time::Detection { format, ambiguous: false },
        ),
        (None, _) => (source, found),
    });
    let Some((time, found)) = time else {
        // A column that mostly holds times, written several ways, is named with the value
        // that breaks it: named time columns first, then any.
        let named = [Role::Timestamp, Role::Date, Role::TimeOfDay].into_iter().filter_map(find);
        if let Some(mixed) = named.chain(0..names.len()).find_map(mixed) {
            return Err(mixed);
        }
        return Err(MappingError::NoTimeColumn { columns: names.to_vec() });
    };
    if found.ambiguous {
        warnings.push(
            "the dates read both day-first and month-first; they were read day-first: check, or choose the order"
                .to_owned(),
        );
    }

    let decimal = forced.decimal.unwrap_or_else(|| {
        detect_decimal_mark(
            (0..names.len()).filter(|i| !time.uses(*i)).flat_map(|i| column(rows, i)),
        )
    });
    // A column is numeric when nine in ten of its sample values are numbers: the others are
    // mistakes to report row by row, not a reason to read the whole column as text.
    let numbers = |index: usize| {
        let (mut parsed, mut total) = (0usize, 0usize);
        for value in column(rows, index) {
            total += 1;
            parsed += usize::from(parse_number(value, decimal).is_some());
        }
        (parsed, total)
    };
    let numeric = |index: usize| {
        let (parsed, total) = numbers(index);
        // A value with a control character in it (a NUL inside a number) is damaged, not
        // text: it does not make a column of numbers text; reading reports it by line.
        let damaged = column(rows, index).filter(|v| v.chars().any(char::is_control)).count();
        parsed > 0 && parsed * 10 >= (total - damaged) * 9
    };
    let whole = |index: usize| {
        column(rows, index)
            .filter_map(|v| parse_number(v, decimal))
            .all(|n| n.fract() == 0.0 && n.abs() < 9.0e15)
    };
    let series = match &forced.series {
        Some(series) => {
            if let Some(index) = series.iter().find(|i| time.uses(**i)) {
                return Err(MappingError::Invalid(format!(
                    "column {:?} cannot be both the time and the series",
                    names[*index]
                )));
            }
            series.clone()
        }
        None => {
            let named = (0..names.len())
                .filter(|i| roles[*i] == Some(Role::Series) && !time.uses(*i))
                .find(|i| column(rows, *i).next().is_some() && !numeric(*i));
            match named {
                Some(index) => vec![index],
                None => {
                    let times = sample_times(rows, time);
                    let candidates: Vec<usize> = (0..names.len())
                        .filter(|i| !time.uses(*i))
                        .filter(|i| !matches!(roles[*i], Some(Role::Field(_))))
                        .filter(|i| column(rows, *i).next().is_some())
                        .filter(|i| !numeric(*i) || whole(*i))
                        .collect();
                    // The candidates that are numbers are whole numbers (filtered above).
                    match series_by_content(names, rows, &times, &candidates, &numeric) {
                        Some((key, why)) => {
                            notes.push(why);
                            key
                        }
                        None => Vec::new(),
                    }
                }
            }
        }
    };

    let mut values = Vec::new();
    for index in (0..names.len()).filter(|i| !time.uses(*i) && !series.contains(i)) {
        let mut cells = column(rows, index).peekable();
        let kind = if cells.peek().is_none() {
            warnings.push(format!("column `{}` has no values in the sample", names[index]));
            ValueKind::Float
        } else if numeric(index) {
            let (parsed, total) = numbers(index);
            if parsed < total {
                warnings.push(format!(
                    "column `{}`: {} of {total} sample values are not numbers; their rows are set aside (lenient) or stop the import (strict)",
                    names[index],
                    total - parsed
                ));
            }
            let is_price = matches!(roles[index], Some(Role::Field(field)) if field.name() != "volume" && field.name() != "open_interest");
            if whole(index) && !is_price { ValueKind::Integer } else { ValueKind::Float }
        } else {
            ValueKind::Text
        };
        let name = match roles[index] {
            Some(Role::Field(field)) => field.name().to_owned(),
            _ => sanitize(&names[index]),
        };
        values.push(ValueColumn { index, name, kind });
    }
    if headerless {
        let ohlc = |[open, high, low, close]: [usize; 4]| {
            let cell =
                |row: &Vec<String>, i: usize| row.get(i).and_then(|v| parse_number(v, decimal));
            let mut any = false;
            let all = rows.iter().all(|row| {
                match (cell(row, open), cell(row, high), cell(row, low), cell(row, close)) {
                    (Some(o), Some(h), Some(l), Some(c)) => {
                        any = true;
                        h >= o.max(c).max(l) && l <= o.min(c)
                    }
                    _ => true,
                }
            });
            any && all
        };
        if let Some((layout, named)) = known_layout(time, names.len(), &values, &ohlc) {
            for (value, name) in values.iter_mut().zip(named) {
                value.name = (*name).to_owned();
                if matches!(value.name.as_str(), "open" | "high" | "low" | "close") {
                    value.kind = ValueKind::Float;
                }
            }
            notes.push(format!(
                "the file has no header; its shape and values match {layout}, whose names its \
                 columns were given"
            ));
        }
    }
    let mut unique: Vec<String> = values.iter().map(|v| v.name.clone()).collect();
    deduplicate(&mut unique);
    for (value, name) in values.iter_mut().zip(unique) {
        if value.name != name {
            let column = value.index + 1;
            warnings.push(format!(
                "column {column} is named `{}` like a column before it: it is kept as `{name}`",
                value.name
            ));
        }
        value.name = name;
    }

    // Wide: a time and a column per series, each named like a ticker or a code.
    let could_be_wide = series.is_empty()
        && values.len() >= 2
        && values.iter().all(|v| v.kind != ValueKind::Text)
        && values.iter().all(|v| !matches!(roles[v.index], Some(Role::Field(_))))
        && !headerless;
    // Whole numbers of a like size in every column (page views, counts per place) are the
    // same measure of different things.
    let counts_alike = || {
        let medians: Vec<f64> = values
            .iter()
            .filter(|v| v.kind == ValueKind::Integer)
            .filter_map(|v| {
                let mut sample: Vec<f64> =
                    column(rows, v.index).filter_map(|x| parse_number(x, decimal)).collect();
                sample.sort_by(f64::total_cmp);
                sample.get(sample.len() / 2).map(|m| m.abs())
            })
            .collect();
        let (low, high) =
            medians.iter().fold((f64::MAX, 0.0f64), |(lo, hi), m| (lo.min(*m), hi.max(*m)));
        medians.len() == values.len() && low > 0.0 && high <= low * 10.0
    };
    let layout = match forced.layout {
        Some(layout) => layout,
        None if could_be_wide && counts_alike() => {
            notes.push(format!(
                "the columns {} hold whole numbers of a like size: each becomes a series of its \
                 own (choose layout long for one series with a column each)",
                values
                    .iter()
                    .map(|v| format!("`{}`", names[v.index]))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            Layout::Wide
        }
        None if could_be_wide && values.iter().all(|v| looks_like_code(&names[v.index])) => {
            notes.push(format!(
                "the columns {} are named like series (tickers or codes): each becomes a series \
                 of its own (choose layout long for one series with a column each)",
                values
                    .iter()
                    .map(|v| format!("`{}`", names[v.index]))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            Layout::Wide
        }
        None => {
            if could_be_wide {
                notes.push(
                    "if each value column is a series of its own, choose layout wide".to_owned(),
                );
            }
            Layout::Long
        }
    };
    if layout == Layout::Wide {
        if !series.is_empty() {
            return Err(MappingError::Invalid(
                "a wide table has a column per series: it cannot also have a series column"
                    .to_owned(),
            ));
        }
        if let Some(text) = values.iter().find(|v| v.kind == ValueKind::Text) {
            return Err(MappingError::Invalid(format!(
                "a wide table's columns are numbers, and `{}` holds text: leave it out \
                 (exclude) or choose layout long",
                names[text.index]
            )));
        }
    }
    Ok(Proposal { time, series, layout, values, decimal, warnings, notes })
}

/// The year of a column's first sample time, for a note.
fn first_year(rows: &[Vec<String>], index: usize, format: TimeFormat) -> String {
    column(rows, index)
        .find_map(|v| format.parse(v, &variosync_domain::time::Zone::Utc).ok())
        .map_or_else(String::new, |at| at.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let mut lines =
            text.lines().map(|line| line.split(',').map(str::to_owned).collect::<Vec<_>>());
        let names = lines.next().unwrap();
        (names, lines.collect())
    }

    #[test]
    fn a_long_table_of_several_series_is_understood() {
        let (names, rows) = table(
            "symbol,date,close,volume\nAAPL,2024-01-02,185.6,82488700\nMSFT,2024-01-02,370.9,25258600\n",
        );
        let proposal = propose(&names, &rows).unwrap();
        assert_eq!(proposal.time, TimeSource::Column { index: 1, format: TimeFormat::Iso });
        assert_eq!(proposal.series, [0]);
        assert_eq!(
            proposal.values,
            [
                ValueColumn { index: 2, name: "close".into(), kind: ValueKind::Float },
                ValueColumn { index: 3, name: "volume".into(), kind: ValueKind::Integer },
            ]
        );
        assert!(proposal.warnings.is_empty());
    }

    fn headerless(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let rows: Vec<Vec<String>> =
            text.lines().map(|line| line.split(',').map(str::to_owned).collect()).collect();
        let names = (1..=rows[0].len()).map(|i| format!("column_{i}")).collect();
        (names, rows)
    }

    fn value_names(proposal: &Proposal) -> Vec<&str> {
        proposal.values.iter().map(|v| v.name.as_str()).collect()
    }

    #[test]
    fn exchange_klines_without_a_header_read_by_content_and_layout() {
        let (names, rows) = headerless(
            "1704067200000,42283.58,42554.57,42261.02,42475.23,1271.68,1704070799999,53957248.97,47134,682.57,28957416.82,0\n\
             1704070800000,42475.23,42775.00,42431.65,42613.56,1196.37,1704074399999,50984893.89,45811,578.19,24638094.02,0\n",
        );
        let proposal = propose(&names, &rows).unwrap();
        use variosync_domain::time::EpochUnit;
        assert_eq!(
            proposal.time,
            TimeSource::Column { index: 0, format: TimeFormat::Epoch(EpochUnit::Millis) }
        );
        assert_eq!(
            value_names(&proposal),
            [
                "open",
                "high",
                "low",
                "close",
                "volume",
                "close_time",
                "quote_volume",
                "trades",
                "taker_base_volume",
                "taker_quote_volume",
                "ignore"
            ]
        );
        assert!(
            proposal.notes.iter().any(|n| n.contains("exchange klines")),
            "{:?}",
            proposal.notes
        );
        assert!(proposal.notes.iter().any(|n| n.contains("2024-01-01")), "{:?}", proposal.notes);
    }

    #[test]
    fn metatrader_history_joins_its_date_and_time_columns() {
        let (names, rows) = headerless(
            "2024.01.15,09:30,1.09480,1.09510,1.09470,1.09500,125\n\
             2024.01.15,09:31,1.09500,1.09530,1.09490,1.09520,98\n\
             2024.01.15,09:32,1.09520,1.09525,1.09480,1.09490,143\n",
        );
        let proposal = propose(&names, &rows).unwrap();
        use variosync_domain::time::DateOrder;
        assert_eq!(
            proposal.time,
            TimeSource::DateAndTime {
                date: 0,
                time: 1,
                format: TimeFormat::Dated(DateOrder::YearMonthDay)
            }
        );
        assert_eq!(value_names(&proposal), ["open", "high", "low", "close", "tick_volume"]);
        assert!(proposal.series.is_empty());
    }

    #[test]
    fn epoch_numbers_under_a_name_that_says_nothing_need_to_look_like_times() {
        // Milliseconds in time order: times, whatever the column is called.
        let (names, rows) = table("t0,v\n1704067200000,1\n1704067260000,2\n");
        assert!(matches!(
            propose(&names, &rows).unwrap().time,
            TimeSource::Column { index: 0, .. }
        ));
        // Going back in time, or in seconds: not taken for times under such a name.
        let (names, rows) = table("t0,v\n1704067260000,1\n1704067200000,2\n");
        assert!(propose(&names, &rows).is_err());
        let (names, rows) = table("count,value\n1700000000,1\n1700000060,2\n");
        assert!(propose(&names, &rows).is_err());
        // Without a header, seconds in a plausible span are times.
        let (names, rows) = headerless("1700000000,1.5\n1700000060,2.5\n");
        assert!(matches!(
            propose(&names, &rows).unwrap().time,
            TimeSource::Column { index: 0, .. }
        ));
        // But not numbers that would be times before 1990.
        let (names, rows) = headerless("100,1.5\n200,2.5\n");
        assert!(propose(&names, &rows).is_err());
    }

    #[test]
    fn the_series_column_is_found_by_content_whatever_its_name() {
        let mut text = String::from("when,desk_ref,price,size\n");
        for day in 1..=9 {
            for desk in ["alpha", "beta", "gamma"] {
                text.push_str(&format!("2024-01-0{day},{desk},{}.5,{}\n", day * 10, day * 100 + 7));
            }
        }
        let (names, rows) = table(&text);
        let proposal = propose(&names, &rows).unwrap();
        assert_eq!(proposal.series, [1]);
        assert_eq!(value_names(&proposal), ["close", "size"], "`price` is a known alias");
        assert!(proposal.notes[0].contains("`desk_ref` names the series"), "{:?}", proposal.notes);
    }

    #[test]
    fn several_columns_together_may_name_the_series() {
        let mut text = String::from("Store,Dept,Date,Weekly_Sales,IsHoliday\n");
        for week in ["2010-02-05", "2010-02-12", "2010-02-19"] {
            for store in 1..=3 {
                for dept in [1, 2, 3, 4] {
                    let sales = 1000.0 * f64::from(store) + f64::from(dept) * 13.25;
                    text.push_str(&format!("{store},{dept},{week},{sales},FALSE\n"));
                }
            }
        }
        let (names, rows) = table(&text);
        let proposal = propose(&names, &rows).unwrap();
        assert_eq!(proposal.series, [0, 1]);
        assert_eq!(value_names(&proposal), ["Weekly_Sales", "IsHoliday"]);
        assert!(proposal.notes[0].contains("together name the series"), "{:?}", proposal.notes);
        // Named in the mapping, joined with commas.
        let choice = Override { series: Some("Store, Dept".into()), ..Override::default() };
        assert_eq!(propose_with(&names, &rows, &choice).unwrap().series, [0, 1]);
    }

    #[test]
    fn a_table_of_tickers_is_wide_and_a_table_of_measures_stays_long() {
        let (names, rows) =
            table("Date,AAPL,MSFT,BRK.B\n2024-01-02,185.6,370.9,362.5\n2024-01-03,184.2,370.6,\n");
        let proposal = propose(&names, &rows).unwrap();
        assert_eq!(proposal.layout, Layout::Wide);
        assert!(proposal.series.is_empty());
        // Page views of articles: counts of a like size, a series each.
        let (names, rows) = table(
            "Date,Python (programming language),Rust (programming language)\n\
             2024-01-01,15234,3120\n2024-01-02,16001,3350\n",
        );
        assert_eq!(propose(&names, &rows).unwrap().layout, Layout::Wide);
        let (names, rows) =
            table("date,temperature,humidity\n2024-01-02,3.5,80\n2024-01-03,4.0,75\n");
        let proposal = propose(&names, &rows).unwrap();
        assert_eq!(proposal.layout, Layout::Long);
        assert!(proposal.notes.iter().any(|n| n.contains("layout wide")));
        let wide = Override { layout: Some("wide".into()), ..Override::default() };
        assert_eq!(propose_with(&names, &rows, &wide).unwrap().layout, Layout::Wide);
        let bad = Override { layout: Some("tall".into()), ..Override::default() };
        assert!(propose_with(&names, &rows, &bad).is_err());
    }

    #[test]
    fn a_repeat_hint_names_the_columns_that_could_be_the_series() {
        let (names, rows) = table("date,where,value\n2024-01-02,x,1\n2024-01-03,y,2\n");
        let proposal = propose(&names, &rows).unwrap();
        let hint = proposal.repeat_hint(&names);
        assert!(hint.contains(r#"{"series": "where"}"#), "{hint}");
        assert!(hint.contains("time_of_day"), "{hint}");
    }

    #[test]
    fn time_format_codes_read_back_as_the_same_format() {
        for code in [
            "iso", "ymd", "dmy", "mdy", "compact", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns",
            "excel",
        ] {
            let format = super::parse_time_format(code).unwrap();
            assert_eq!(super::time_format_code(format), code);
        }
    }

    #[test]
    fn an_unnamed_time_column_is_found_by_its_content() {
        let (names, rows) = table("month,passengers\n1949-01-01,112\n1949-02-01,118\n");
        let proposal = propose(&names, &rows).unwrap();
        assert_eq!(proposal.time, TimeSource::Column { index: 0, format: TimeFormat::Iso });
        assert!(proposal.series.is_empty());
        assert_eq!(proposal.values[0].name, "passengers");
    }

    #[test]
    fn ambiguous_dates_and_empty_columns_are_reported() {
        let (names, rows) = table("date,value,notes\n01/02/2024,1,\n03/04/2024,2,\n");
        let proposal = propose(&names, &rows).unwrap();
        assert_eq!(proposal.warnings.len(), 2, "{:?}", proposal.warnings);
        assert!(proposal.warnings[0].contains("day-first and month-first"));
        assert!(proposal.warnings[1].contains("`notes` has no values"));
    }

    #[test]
    fn a_table_without_times_says_so() {
        let (names, rows) = table("a,b\nx,1\ny,2\n");
        assert_eq!(
            propose(&names, &rows),
            Err(MappingError::NoTimeColumn { columns: names.clone() })
        );
        let (names, _) = table("a,b\n");
        assert_eq!(propose(&names, &[]), Err(MappingError::NoRows));
        // Plain numbers are not taken for times unless the name says so.
        let (names, rows) = table("count,value\n1700000000,1\n1700000060,2\n");
        assert_eq!(
            propose(&names, &rows),
            Err(MappingError::NoTimeColumn { columns: names.clone() })
        );
        let (names, rows) = table("timestamp,value\n1700000000,1\n1700000060,2\n");
        assert!(propose(&names, &rows).is_ok());
    }

    #[test]
    fn every_detected_choice_can_be_overridden_by_column_name() {
        let (names, rows) =
            table("when,label,price,qty\n05/03/2024,A,1.5,10\n06/03/2024,B,2.5,20\n");
        let detected = propose(&names, &rows).unwrap();
        assert!(
            detected.series.is_empty(),
            "`label` is not a known series name, and the times do not repeat"
        );
        let choice = Override {
            time_format: Some("mdy".into()),
            series: Some("label".into()),
            columns: Some(vec!["qty".into(), "price".into()]),
            types: [("qty".to_owned(), "float".to_owned())].into(),
            ..Override::default()
        };
        let chosen = propose_with(&names, &rows, &choice).unwrap();
        use variosync_domain::time::DateOrder;
        assert_eq!(
            chosen.time,
            TimeSource::Column { index: 0, format: TimeFormat::Dated(DateOrder::MonthDayYear) }
        );
        assert_eq!(chosen.series, [1]);
        let values: Vec<(&str, ValueKind)> =
            chosen.values.iter().map(|v| (v.name.as_str(), v.kind)).collect();
        assert_eq!(
            values,
            [("volume", ValueKind::Float), ("close", ValueKind::Float)],
            "known aliases"
        );

        // A time column detection would not pick, chosen with its format.
        let (names, rows) = table("n,v\n1700000000,1\n1700000060,2\n");
        assert_eq!(
            propose(&names, &rows),
            Err(MappingError::NoTimeColumn { columns: names.clone() })
        );
        let epoch = Override {
            time: Some("n".into()),
            time_format: Some("epoch_s".into()),
            ..Override::default()
        };
        let chosen = propose_with(&names, &rows, &epoch).unwrap();
        assert_eq!(
            chosen.time,
            TimeSource::Column {
                index: 0,
                format: TimeFormat::Epoch(variosync_domain::time::EpochUnit::Seconds)
            }
        );

        for (choice, message) in [
            (
                Override { time: Some("nope".into()), ..Override::default() },
                "which the file does not have",
            ),
            (
                Override { time_format: Some("julian".into()), ..Override::default() },
                "is not one of",
            ),
            (
                Override {
                    series: Some("n".into()),
                    time: Some("n".into()),
                    time_format: Some("epoch_s".into()),
                    ..Override::default()
                },
                "both the time and the series",
            ),
            (Override { decimal: Some("dot".into()), ..Override::default() }, "not point or comma"),
        ] {
            let error = propose_with(&names, &rows, &choice).unwrap_err().to_string();
            assert!(error.contains(message), "{error}");
        }
    }
}
