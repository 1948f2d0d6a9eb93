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

const CANDIDATES: [Delimiter; 5] = [
    Delimiter::Char(b','),
    Delimiter::Char(b'\t'),
    Delimiter::Char(b';'),
    Delimiter::Char(b'|'),
    Delimiter::Whitespace,
];

/// Decides the dialect from the first lines of a file (a few dozen are enough).
pub fn sniff(sample: &str) -> Result<Dialect, DialectError> {
    let lines: Vec<&str> =
        sample.lines().filter(|line| !line.trim().is_empty()).take(200).collect();
    if lines.is_empty() {
        return Err(DialectError::Empty);
    }
    // The best delimiter splits the lines into the same number (> 1) of fields; among
    // those, the one with the most fields wins (a comma inside "1,5" loses to ';').
    let mut best: Option<(Delimiter, usize)> = None;
    for delimiter in CANDIDATES {
        let counts: Vec<usize> =
            lines.iter().map(|line| split_line(line, delimiter).len()).collect();
        let first = counts[0];
        // Every line agrees, but for one (a file cut short, a trailing note) or a tenth.
        let agreeing = counts.iter().filter(|c| **c == first).count();
        let enough = agreeing + 1 >= counts.len() || agreeing * 10 >= counts.len() * 9;
        if first > 1 && enough && best.is_none_or(|(_, n)| first > n) {
            best = Some((delimiter, first));
        }
    }
    let (delimiter, _) = match best {
        Some(best) => best,
        // A single column: one value per line.
        None if lines.iter().all(|line| split_line(line, Delimiter::Char(b',')).len() == 1) => {
            (Delimiter::Char(b','), 1)
        }
        None => return Err(DialectError::NoDelimiter),
    };
    let rows: Vec<Vec<String>> = lines.iter().map(|line| split_line(line, delimiter)).collect();
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
