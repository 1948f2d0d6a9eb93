//! InfluxDB line protocol: `measurement[,tag=value...] field=value[,field=value...] timestamp`.
//! Each line is a record whose series is the measurement with its tags
//! (`cpu,host=a,region=eu`), whose time is the timestamp (nanoseconds unless the mapping
//! says otherwise) and whose fields are the value columns: floats, integers (`12i`,
//! `12u`), strings (`"text"`) and booleans (`t`, `false`...). Lines starting with `#` are
//! comments. Backslash escapes follow the protocol's rules.

use std::io::BufRead;

use serde_json::{Map, Value};

use crate::delimited::ReadError;
use crate::json::{Row, json_error};
use crate::mapping::Override;

/// The column the series is read from.
const SERIES: &str = "series_id";
/// The column the time is read from.
const TIME: &str = "time";

/// Splits `text` at the first unescaped `stop` byte outside double quotes.
fn split_unescaped(text: &str, stop: u8, quotes: bool) -> (&str, Option<&str>) {
    let bytes = text.as_bytes();
    let (mut escaped, mut quoted) = (false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if quotes && b == b'"' {
            quoted = !quoted;
        } else if b == stop && !quoted {
            return (&text[..i], Some(&text[i + 1..]));
        }
    }
    (text, None)
}

/// Every piece of `text` between unescaped `stop` bytes.
fn split_all(mut text: &str, stop: u8, quotes: bool) -> Vec<&str> {
    let mut parts = Vec::new();
    loop {
        let (part, rest) = split_unescaped(text, stop, quotes);
        parts.push(part);
        match rest {
            Some(rest) => text = rest,
            None => return parts,
        }
    }
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn field_value(text: &str) -> Option<Value> {
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return Some(Value::String(unescape(inner)));
    }
    match text {
        "t" | "T" | "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "f" | "F" | "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    if let Some(digits) = text.strip_suffix(['i', 'u']) {
        return digits.parse::<i64>().ok().map(Value::from);
    }
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .and_then(|v| serde_json::Number::from_f64(v).map(Value::Number))
}

/// Parses one line into a record; `Err` says what is wrong.
pub fn parse_line(line: &str) -> Result<Map<String, Value>, String> {
    let (key, rest) = split_unescaped(line, b' ', true);
    let rest = rest.ok_or("expected a space between the measurement and the fields")?;
    let (fields, timestamp) = split_unescaped(rest.trim_start(), b' ', true);
    let timestamp = timestamp.map(str::trim).filter(|t| !t.is_empty()).ok_or(
        "expected a timestamp after the fields (lines without one cannot be placed in time)",
    )?;
    if !timestamp.bytes().enumerate().all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-')) {
        return Err(format!("the timestamp {timestamp:?} is not a whole number"));
    }
    let mut parts = split_all(key, b',', false).into_iter();
    let measurement = unescape(parts.next().unwrap_or_default());
    if measurement.is_empty() {
        return Err("the measurement name is empty".to_owned());
    }
    let mut series = measurement;
    let mut tags: Vec<String> = parts.map(str::to_owned).collect();
    tags.sort();
    for tag in &tags {
        if !matches!(split_unescaped(tag, b'=', false), (k, Some(v)) if !k.is_empty() && !v.is_empty())
        {
            return Err(format!("the tag {tag:?} is not key=value"));
        }
        series.push(',');
        series.push_str(&unescape(tag));
    }
    let mut record = Map::new();
    record.insert(SERIES.to_owned(), Value::String(series));
    record.insert(TIME.to_owned(), Value::String(timestamp.to_owned()));
    for field in split_all(fields, b',', true) {
        let (name, value) = match split_unescaped(field, b'=', true) {
            (name, Some(value)) if !name.is_empty() => (unescape(name), value),
            _ => return Err(format!("the field {field:?} is not key=value")),
        };
        let value = field_value(value).ok_or_else(|| {
            format!("the value of field {name:?} is not a number, string or boolean")
        })?;
        // A field may not take the place of the series or time.
        let name = if name == SERIES || name == TIME { format!("{name}_field") } else { name };
        record.insert(name, value);
    }
    Ok(record)
}

/// Whether the start of a file reads as line protocol.
pub fn sniff(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    // The last line of the head may be cut short: look at the whole lines before it.
    let whole: Vec<&str> = lines.by_ref().take(5).collect();
    let complete =
        if head.len() >= 64 * 1024 { &whole[..whole.len().saturating_sub(1)] } else { &whole[..] };
    // The first line must parse, and most of the others (a bad line is the reader's to
    // report, not a reason to read the file as something else).
    let parsed = complete.iter().filter(|line| parse_line(line).is_ok()).count();
    complete.first().is_some_and(|line| parse_line(line).is_ok()) && parsed * 2 >= complete.len()
}

/// The records of a line protocol stream (comment lines skipped).
pub(crate) fn records(
    input: impl BufRead + Send + 'static,
) -> impl Iterator<Item = Result<Row, ReadError>> + Send {
    crate::json::numbered_lines(input).filter_map(|line| {
        let (number, line) = match line {
            Ok(line) => line,
            Err(error) => return Some(Err(error)),
        };
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches('\r');
        if text.starts_with('#') {
            return None;
        }
        Some(parse_line(text).map(|record| (number, record)).map_err(|m| json_error(number, m)))
    })
}

/// The mapping of line protocol: the series and time columns are fixed, the time is in
/// nanoseconds unless the person chose another unit.
pub(crate) fn mapping(choice: &Override) -> Override {
    Override {
        time: Some(TIME.to_owned()),
        time_of_day: None,
        time_format: Some(choice.time_format.clone().unwrap_or_else(|| "epoch_ns".to_owned())),
        series: Some(SERIES.to_owned()),
        ..choice.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_with_tags_escapes_and_every_field_type() {
        let record = parse_line(r#"weather,site=Oslo\ North,unit=C temp=-3.5,rh=81i,ok=t,note="say \"hi\", ok" 1700000000000000000"#).unwrap();
        assert_eq!(record["series_id"], "weather,site=Oslo North,unit=C");
        assert_eq!(record["time"], "1700000000000000000");
        assert_eq!(record["temp"], -3.5);
        assert_eq!(record["rh"], 81);
        assert_eq!(record["ok"], true);
        assert_eq!(record["note"], r#"say "hi", ok"#);
        let sorted = parse_line("cpu,z=1,a=2 v=1 1").unwrap();
        assert_eq!(sorted["series_id"], "cpu,a=2,z=1", "tags in one order whatever the file's");
        for (bad, why) in [
            ("cpu", "space"),
            ("cpu v=1", "timestamp"),
            ("cpu v=1 soon", "whole number"),
            ("cpu v 1", "key=value"),
            ("cpu,host v=1 1", "tag"),
            ("cpu v=abc 1", "not a number"),
        ] {
            let error = parse_line(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
        assert!(sniff(b"# comment\ncpu,host=a usage=0.5 1700000000000000000\n"));
        assert!(!sniff(b"date,close\n2024-01-01,1.5\n"));
        assert!(!sniff(b"{\"a\": 1}\n"));
    }
}
