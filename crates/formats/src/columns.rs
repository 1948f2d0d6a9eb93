//! What column names mean: the timestamp, date and time columns, the series column, and
//! OHLCV fields under their many spellings (`o`, `Open`, `<OPEN>`, `Adj Close`, `vol`...),
//! mapped to canonical names.

/// The role a column plays, as its name suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A full timestamp (`timestamp`, `datetime`, `ts`, `time` alone...).
    Timestamp,
    /// A date, possibly paired with a separate time column.
    Date,
    /// A time of day paired with a date column.
    TimeOfDay,
    /// The series a row belongs to (`ticker`, `symbol`, `series_id`...).
    Series,
    /// One of the canonical OHLCV fields.
    Field(Field),
}

/// Canonical financial fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Opening price.
    Open,
    /// Highest price.
    High,
    /// Lowest price.
    Low,
    /// Closing price.
    Close,
    /// Close adjusted for splits and dividends.
    AdjClose,
    /// Traded volume.
    Volume,
    /// Open interest.
    OpenInterest,
}

impl Field {
    /// The canonical column name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::High => "high",
            Self::Low => "low",
            Self::Close => "close",
            Self::AdjClose => "adj_close",
            Self::Volume => "volume",
            Self::OpenInterest => "open_interest",
        }
    }
}

/// A name reduced to lower-case letters and digits, so that `<Adj Close>`, `adj_close` and
/// `Adj-Close` compare equal.
pub fn normalize(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The role a column name suggests, if any.
pub fn role(name: &str) -> Option<Role> {
    let role = match normalize(name).as_str() {
        "timestamp" | "datetime" | "ts" | "time" | "dt" | "timestamputc" | "datetimeutc"
        | "observationdate" | "period" | "ds" => Role::Timestamp,
        "date" | "day" | "tradedate" | "tradingday" | "datum" => Role::Date,
        "hour" | "timeofday" | "clock" => Role::TimeOfDay,
        "ticker" | "symbol" | "seriesid" | "series" | "id" | "name" | "instrument" | "asset"
        | "code" | "uniqueid" | "sensor" | "station" => Role::Series,
        // English, then the German of European broker exports.
        "o" | "open" | "openprice" | "first" | "eröffnung" | "eroeffnung" | "erster" => {
            Role::Field(Field::Open)
        }
        "h" | "high" | "highprice" | "max" | "hoch" | "höchst" | "hoechst" => {
            Role::Field(Field::High)
        }
        "l" | "low" | "lowprice" | "min" | "tief" | "tiefst" => Role::Field(Field::Low),
        "c" | "close" | "closeprice" | "last" | "price" | "schluss" | "schlusskurs" | "letzter" => {
            Role::Field(Field::Close)
        }
        "adjclose" | "adjustedclose" | "adjusted" | "adjcloseprice" => Role::Field(Field::AdjClose),
        "v" | "vol" | "volume" | "qty" | "quantity" | "volumen" | "umsatz" => {
            Role::Field(Field::Volume)
        }
        "openint" | "openinterest" | "oi" => Role::Field(Field::OpenInterest),
        _ => return None,
    };
    Some(role)
}

/// A column name made safe for every output format: trimmed, angle brackets of Stooq
/// headers removed, characters other than letters, digits and `_` turned into `_`, never
/// empty, never starting with a digit.
pub fn sanitize(name: &str) -> String {
    let trimmed = name.trim().trim_start_matches('<').trim_end_matches('>');
    let mut out: String = trimmed
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '_' { c } else { '_' })
        .collect::<String>()
        .trim_matches('_')
        .to_owned();
    if out.is_empty() {
        out = "column".to_owned();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Makes names unique by suffixing repeats (`close`, `close_2`, ...), as files with
/// duplicate headers need.
pub fn deduplicate(names: &mut [String]) {
    let mut taken = std::collections::HashSet::new();
    for name in names.iter_mut() {
        if !taken.insert(name.clone()) {
            let base = name.clone();
            let mut n = 2;
            while taken.contains(&format!("{base}_{n}")) {
                n += 1;
            }
            *name = format!("{base}_{n}");
            taken.insert(name.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_spellings_of_financial_columns_are_recognised() {
        for (name, field) in [
            ("o", Field::Open),
            ("<OPEN>", Field::Open),
            ("High", Field::High),
            ("LOW", Field::Low),
            ("c", Field::Close),
            ("Adj Close", Field::AdjClose),
            ("adj_close", Field::AdjClose),
            ("vol", Field::Volume),
            ("<VOL>", Field::Volume),
            ("OpenInt", Field::OpenInterest),
            ("<OPENINT>", Field::OpenInterest),
        ] {
            assert_eq!(role(name), Some(Role::Field(field)), "{name}");
        }
        assert_eq!(role("<TICKER>"), Some(Role::Series));
        assert_eq!(role("series_id"), Some(Role::Series));
        assert_eq!(role("<DATE>"), Some(Role::Date));
        assert_eq!(
            role("<TIME>"),
            Some(Role::Timestamp),
            "alone, a time column is read as the timestamp"
        );
        assert_eq!(role("observation_date"), Some(Role::Timestamp), "FRED");
        assert_eq!(role("temperature"), None);
        for (name, field) in [
            ("Eröffnung", Field::Open),
            ("Hoch", Field::High),
            ("Tief", Field::Low),
            ("Schluss", Field::Close),
            ("Volumen", Field::Volume),
        ] {
            assert_eq!(role(name), Some(Role::Field(field)), "{name}");
        }
        assert_eq!(role("Datum"), Some(Role::Date));
    }

    #[test]
    fn names_are_made_safe_and_unique() {
        assert_eq!(sanitize(" <Adj Close> "), "Adj_Close");
        assert_eq!(sanitize("Température (°C)"), "Température___C");
        assert_eq!(sanitize("1st"), "_1st");
        assert_eq!(sanitize("///"), "column");
        let mut names =
            vec!["close".to_owned(), "close".to_owned(), "close_2".to_owned(), "close".to_owned()];
        deduplicate(&mut names);
        assert_eq!(names, ["close", "close_2", "close_2_2", "close_3"]);
    }
}
