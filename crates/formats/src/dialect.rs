//! The dialect of delimited text, decided from a sample: the delimiter (comma, tab,
//! semicolon, pipe or runs of whitespace), whether the first line is a header, and the
//! decimal mark of its numbers.

use crate::numbers::{DecimalMark, detect_decimal_mark, is_null, parse_number};

/// What separates fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    /// One character: `,`, `\t`, `;` or `|`.
    Char(u8),
    /// One or more spaces or tabs (fixed-width-looking exports).
    Whitespace,
}

/// How a delimited file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// The field separator.
    pub delimiter: Delimiter,
    /// Whether the first line names the columns.
    pub has_header: bool,
    /// The decimal mark of numeric fields.
    pub decimal: DecimalMark,
}

impl Dialect {
    /// The separator of fields that may be quoted (none for runs of whitespace).
    pub fn quoting(&self) -> Option<u8> {
        match self.delimiter {
            Delimiter::Char(separator) => Some(separator),
            Delimiter::Whitespace => None,
        }
    }
}

/// Why no dialect fits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialectError {
    /// The sample has no line with text.
    #[error("the file is empty")]
    Empty,
    /// No delimiter splits the lines into a consistent number of fields.
    #[error(
        "no delimiter (comma, tab, semicolon, pipe or spaces) splits the lines into the same number of fields"
    )]
    NoDelimiter,
}

/// Splits one line into fields, honouring double quotes (with `""` as an escaped quote).
pub fn split_line(line: &str, delimiter: Delimiter) -> Vec<String> {
    if delimiter == Delimiter::Whitespace {
        return line.split_whitespace().map(str::to_owned).collect();
    }
    let Delimiter::Char(separator) = delimiter else { unreachable!("handled above") };
    let separator = char::from(separator);
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            c if c == separator && !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Where a quote-aware scan of delimited text stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// At the start of a field (only spaces so far).
    FieldStart,
    /// In a field that is not quoted.
    Plain,
    /// Inside quotes.
    Quoted,
    /// Just after a quote inside quotes: a second quote is an escaped one.
    QuoteInQuoted,
}

/// The end (just after the `\n`) of every record of `text`, where a record is a line, or
/// several when a quoted field holds line breaks. A quote opens a field only at its start,
/// as [`split_line`] reads it; `""` inside quotes is a quote. The text after the last end
/// is an unfinished record.
pub(crate) fn record_ends(text: &[u8], separator: u8) -> impl Iterator<Item = usize> + '_ {
    let mut state = Scan::FieldStart;
    text.iter().enumerate().filter_map(move |(i, &b)| {
        let (next, end) = match (state, b) {
            (Scan::Quoted, b'"') => (Scan::QuoteInQuoted, false),
            (Scan::Quoted, _) => (Scan::Quoted, false),
            (Scan::QuoteInQuoted, b'"') => (Scan::Quoted, false),
            (_, b'\n') => (Scan::FieldStart, true),
            (_, b) if b == separator => (Scan::FieldStart, false),
            (Scan::FieldStart, b'"') => (Scan::Quoted, false),
            (Scan::FieldStart, b' ' | b'\t' | b'\r') => (Scan::FieldStart, false),
            _ => (Scan::Plain, false),
        };
        state = next;
        end.then_some(i + 1)
    })
}

/// The records of `text` with the 0-based line each starts on, without their `\n`: lines,
/// or several lines where a quoted field holds line breaks (`separator` set). The flag is
/// false for a last record that holds a line break inside a quote that never closes.
pub(crate) fn records(
    text: &str,
    separator: Option<u8>,
) -> Box<dyn Iterator<Item = (usize, &str, bool)> + '_> {
    match separator {
        Some(separator) if memchr::memchr(b'"', text.as_bytes()).is_some() => {
            let mut ends = record_ends(text.as_bytes(), separator);
            let (mut start, mut line) = (0, 0);
            Box::new(std::iter::from_fn(move || {
                let (end, whole) = match ends.next() {
                    Some(end) => (end, true),
                    // The unfinished rest, if any, is the last record.
                    None if start < text.len() => (text.len(), false),
                    None => return None,
                };
                let record = &text[start..end];
                let first = line;
                let breaks = memchr::memchr_iter(b'\n', record.as_bytes()).count();
                line += breaks;
                start = end;
                let closed = whole || breaks == 0;
                Some((first, record.strip_suffix('\n').unwrap_or(record), closed))
            }))
        }
        _ => {
            // Lines found with the vectorised search (`str::split` searches a byte at a time).
            let mut start = 0;
            let mut ends = memchr::memchr_iter(b'\n', text.as_bytes());
            let mut done = false;
            Box::new(
                std::iter::from_fn(move || {
                    if done {
                        return None;
                    }
                    let record = match ends.next() {
                        Some(end) => {
                            let record = &text[start..end];
                            start = end + 1;
                            record
                        }
                        None => {
                            done = true;
                            &text[start..]
                        }
                    };
                    Some(record)
                })
                .enumerate()
                .map(|(line, record)| (line, record, true)),
            )
        }
    }
}

const CANDIDATES: [Delimiter; 5] = [
    Delimiter::Char(b','),
    Delimiter::Char(b'\t'),
    Delimiter::Char(b';'),
    Delimiter::Char(b'|'),
    Delimiter::Whitespace,
];

/// Decides the dialect from the first lines of a file (a few dozen are enough).
pub fn sniff(sample: &str) -> Result<Dialect, DialectError> {
    // The records the sample holds when split by `delimiter` (quoted fields may hold line
    // breaks, and only a quote-aware reading of the right delimiter sees whole records).
    let records_of = |delimiter: Delimiter| -> Vec<&str> {
        let quoting = match delimiter {
            Delimiter::Char(separator) => Some(separator),
            Delimiter::Whitespace => None,
        };
        records(sample, quoting)
            .map(|(_, record, _)| record.strip_suffix('\r').unwrap_or(record))
            .filter(|record| !record.trim().is_empty())
            .take(200)
            .collect()
    };
    if records_of(Delimiter::Whitespace).is_empty() {
        return Err(DialectError::Empty);
    }
    // The best delimiter splits the records into the same number (> 1) of fields; among
    // those, the one with the most fields wins (a comma inside "1,5" loses to ';').
    let mut best: Option<(Delimiter, usize)> = None;
    for delimiter in CANDIDATES {
        // Each record's fields, and how many hold text (the rest are empty ones at its end).
        let counts: Vec<(usize, usize)> = records_of(delimiter)
            .iter()
            .map(|line| {
                let fields = split_line(line, delimiter);
                let empty_tail = fields.iter().rev().take_while(|f| f.trim().is_empty()).count();
                (fields.len(), fields.len() - empty_tail)
            })
            .collect();
        let first = counts[0].0;
        // Most records fit the first (the header), empty fields at their end aside: the few
        // that do not (a file cut short, a trailing note, ragged rows) are for the reading
        // to report by line.
        let agreeing = counts.iter().filter(|(all, text)| *text <= first && first <= *all).count();
        let enough = agreeing + 1 >= counts.len() || agreeing * 2 > counts.len();
        if first > 1 && enough && best.is_none_or(|(_, n)| first > n) {
            best = Some((delimiter, first));
        }
    }
    let comma = Delimiter::Char(b',');
    let (delimiter, _) = match best {
        Some(best) => best,
        // A single column: one value per line.
        None if records_of(comma).iter().all(|line| split_line(line, comma).len() == 1) => {
            (comma, 1)
        }
        None => return Err(DialectError::NoDelimiter),
    };
    let rows: Vec<Vec<String>> =
        records_of(delimiter).iter().map(|line| split_line(line, delimiter)).collect();
    let decimal = detect_decimal_mark(rows.iter().skip(1).flatten().map(String::as_str));
    let has_header = rows.len() == 1 || first_line_is_header(&rows, decimal);
    Ok(Dialect { delimiter, has_header, decimal })
}

/// Whether a field reads as data: a number or a timestamp.
fn is_value(text: &str, decimal: DecimalMark) -> bool {
    parse_number(text, decimal).is_some() || variosync_domain::time::detect([text], false).is_ok()
}

/// The first line names the columns when, in some column, it holds text where every later
/// line holds data; or, in a file of text only, when none of its fields reads as data and
/// they are all different.
pub(crate) fn first_line_is_header(rows: &[Vec<String>], decimal: DecimalMark) -> bool {
    let first = &rows[0];
    let names_a_data_column = first.iter().enumerate().any(|(i, name)| {
        let mut body =
            rows[1..].iter().filter_map(|row| row.get(i)).filter(|v| !is_null(v)).peekable();
        !is_null(name)
            && !is_value(name, decimal)
            && body.peek().is_some()
            && body.all(|v| is_value(v, decimal))
    });
    let distinct: std::collections::HashSet<&String> = first.iter().collect();
    let all_text = first.iter().all(|name| !name.trim().is_empty() && !is_value(name, decimal));
    names_a_data_column
        || (all_text
            && distinct.len() == first.len()
            && rows.iter().skip(1).all(|row| row != first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_and_header_of_common_exports_are_found() {
        let yahoo = "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,187.15,188.44,183.89,185.64,185.4,82488700\n";
        assert_eq!(
            sniff(yahoo).unwrap(),
            Dialect {
                delimiter: Delimiter::Char(b','),
                has_header: true,
                decimal: DecimalMark::Point
            }
        );
        let european = "Datum;Schluss\n31.01.2024;1.234,5\n01.02.2024;1.240,25\n";
        let dialect = sniff(european).unwrap();
        assert_eq!(dialect.delimiter, Delimiter::Char(b';'));
        assert_eq!(dialect.decimal, DecimalMark::Comma);
        assert!(dialect.has_header);
        let tabs = "ts\tvalue\n2024-01-01\t1\n2024-01-02\t2\n";
        assert_eq!(sniff(tabs).unwrap().delimiter, Delimiter::Char(b'\t'));
        let pipes = "a|b|c\n1|2|3\n";
        assert_eq!(sniff(pipes).unwrap().delimiter, Delimiter::Char(b'|'));
        let spaced = "2024-01-01   1.5   2\n2024-01-02   1.7   3\n";
        let dialect = sniff(spaced).unwrap();
        assert_eq!(dialect.delimiter, Delimiter::Whitespace);
        assert!(!dialect.has_header, "no header: the first line holds values");
        let words = "2024-01-01,up\n2024-01-02,down\n";
        assert!(!sniff(words).unwrap().has_header, "dates are data, not names");
    }

    #[test]
    fn quoted_fields_keep_their_delimiters_and_quotes() {
        let fields = split_line(r#"ACME,"Big, Inc.","say ""hi""",3"#, Delimiter::Char(b','));
        assert_eq!(fields, ["ACME", "Big, Inc.", r#"say "hi""#, "3"]);
        let quoted = "name,price\n\"A, B\",1.5\n\"C\",2\n";
        assert_eq!(sniff(quoted).unwrap().delimiter, Delimiter::Char(b','));
    }

    #[test]
    fn files_without_a_usable_dialect_say_why() {
        assert_eq!(sniff(""), Err(DialectError::Empty));
        assert_eq!(sniff("\n\n  \n"), Err(DialectError::Empty));
        assert_eq!(sniff("a,b\n1,2,3\n4\n"), Err(DialectError::NoDelimiter));
    }
}
