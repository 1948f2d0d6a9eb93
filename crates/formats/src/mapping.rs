//! The proposed reading of a table: which column (or pair of columns) holds the time and in
//! what format, which holds the series, and what the other columns are. Made from names
//! first and content second; every choice is a plain value the person can override.

use variosync_domain::time::{TimeFormat, detect};

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

/// The proposed reading of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Where the time comes from.
    pub time: TimeSource,
    /// The series column, when rows belong to several series.
    pub series: Option<usize>,
    /// Every other column.
    pub values: Vec<ValueColumn>,
    /// The decimal mark of the numeric columns.
    pub decimal: DecimalMark,
    /// Things the person should check (an ambiguous date order, empty columns).
    pub warnings: Vec<String>,
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
    /// The series column, or `none` for one series named after the file.
    pub series: Option<String>,
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
    let forced_series = match choice.series.as_deref() {
        None => None,
        Some("" | "none") => Some(None),
        Some(name) => Some(Some(position(name)?)),
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
    let mut proposal =
        detect_mapping(names, rows, forced_time, forced_format, forced_decimal, forced_series)?;
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

fn detect_mapping(
    names: &[String],
    rows: &[Vec<String>],
    forced_time: Option<(usize, Option<usize>)>,
    forced_format: Option<TimeFormat>,
    forced_decimal: Option<DecimalMark>,
    forced_series: Option<Option<usize>>,
) -> Result<Proposal, MappingError> {
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
    let mut warnings = Vec::new();

    let forced = match forced_time {
        Some((index, clock)) => {
            let found = match forced_format {
                Some(format) => variosync_domain::time::Detection { format, ambiguous: false },
                None => detected(index).ok_or_else(|| {
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
    let time = forced.or_else(|| {
        let date = find(Role::Date);
        let clock = find(Role::TimeOfDay).or_else(|| date.and(find(Role::Timestamp)));
        match (date, clock) {
            (Some(date), Some(time)) => detected(date)
                .map(|found| (TimeSource::DateAndTime { date, time, format: found.format }, found)),
            _ => None,
        }
        .or_else(|| {
            // A named time column, then the first column whose content reads as dates
            // (numbers count only when the name says they are times).
            let named = [Role::Timestamp, Role::Date].into_iter().filter_map(find);
            let by_content = (0..names.len()).filter(|i| roles[*i].is_none());
            named.chain(by_content).find_map(|index| {
                let found = detected(index)?;
                let numeric =
                    matches!(found.format, TimeFormat::Epoch(_) | TimeFormat::ExcelSerial);
                (!numeric || roles[index].is_some())
                    .then_some((TimeSource::Column { index, format: found.format }, found))
            })
        })
    });
    // A format chosen for a detected column replaces the detected one.
    let time = time.map(|(source, found)| match (forced_format, source) {
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
        return Err(MappingError::NoTimeColumn { columns: names.to_vec() });
    };
    if found.ambiguous {
        warnings.push(
            "the dates read both day-first and month-first; they were read day-first: check, or choose the order"
                .to_owned(),
        );
    }

    let decimal = forced_decimal.unwrap_or_else(|| {
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
        parsed > 0 && parsed * 10 >= total * 9
    };
    let series = match forced_series {
        Some(Some(index)) if time.uses(index) => {
            return Err(MappingError::Invalid(format!(
                "column {:?} cannot be both the time and the series",
                names[index]
            )));
        }
        Some(series) => series,
        None => (0..names.len())
            .filter(|i| roles[*i] == Some(Role::Series) && !time.uses(*i))
            .find(|i| column(rows, *i).next().is_some() && !numeric(*i)),
    };

    let mut values = Vec::new();
    for index in (0..names.len()).filter(|i| !time.uses(*i) && Some(*i) != series) {
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
            let whole = column(rows, index)
                .filter_map(|v| parse_number(v, decimal))
                .all(|n| n.fract() == 0.0 && n.abs() < 9.0e15);
            let is_price = matches!(roles[index], Some(Role::Field(field)) if field.name() != "volume" && field.name() != "open_interest");
            if whole && !is_price { ValueKind::Integer } else { ValueKind::Float }
        } else {
            ValueKind::Text
        };
        let name = match roles[index] {
            Some(Role::Field(field)) => field.name().to_owned(),
            _ => sanitize(&names[index]),
        };
        values.push(ValueColumn { index, name, kind });
    }
    let mut unique: Vec<String> = values.iter().map(|v| v.name.clone()).collect();
    deduplicate(&mut unique);
    for (value, name) in values.iter_mut().zip(unique) {
        value.name = name;
    }
    Ok(Proposal { time, series, values, decimal, warnings })
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
        assert_eq!(proposal.series, Some(0));
        assert_eq!(
            proposal.values,
            [
                ValueColumn { index: 2, name: "close".into(), kind: ValueKind::Float },
                ValueColumn { index: 3, name: "volume".into(), kind: ValueKind::Integer },
            ]
        );
        assert!(proposal.warnings.is_empty());
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
        assert_eq!(proposal.series, None);
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
        assert_eq!(detected.series, None, "`label` is not a known series name");
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
        assert_eq!(chosen.series, Some(1));
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
