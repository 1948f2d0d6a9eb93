//! Numbers and missing values as people write them in files: `1234.5`, `1,234.5`,
//! `1.234,5`, `1 234,5`, `1'234.5`, `-3e-5`, and `NA`, `NaN`, `null` or nothing for missing.

/// Texts that mean "no value" in the files people download (compared without case).
const NULL_TOKENS: &[&str] = &["", "na", "n/a", "nan", "null", "none", "nil", "-", "#n/a", "."];

/// Whether the text stands for a missing value.
pub fn is_null(text: &str) -> bool {
    let text = text.trim();
    // Every token is at most four bytes long.
    if text.len() > 4 {
        return false;
    }
    NULL_TOKENS.iter().any(|token| text.eq_ignore_ascii_case(token))
}

/// The decimal separator of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalMark {
    /// `1,234.5`.
    Point,
    /// `1.234,5`.
    Comma,
}

/// Reads a number; `None` if the text is not one. Group separators (`,` or `.` opposite
/// the decimal mark, space, no-break space, apostrophe) are accepted only between groups of
/// three digits, so `1,5` is never silently read as fifteen.
pub fn parse_number(text: &str, mark: DecimalMark) -> Option<f64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    // The common case goes straight to the standard reader. What it accepts is plain digits
    // with a sign, a point and an exponent, on which the general path below agrees, or an
    // infinity or NaN, which are not finite and so not numbers here either.
    if mark == DecimalMark::Point {
        if let Ok(value) = text.parse::<f64>() {
            return value.is_finite().then_some(value);
        }
    } else if text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'e' | b'E')) {
        return text.parse::<f64>().ok().filter(|v| v.is_finite());
    }
    parse_general(text, mark)
}

/// Reads any number `parse_number` accepts, from trimmed, non-empty text.
fn parse_general(text: &str, mark: DecimalMark) -> Option<f64> {
    let (decimal, group) = match mark {
        DecimalMark::Point => ('.', ','),
        DecimalMark::Comma => (',', '.'),
    };
    let (sign, body) = match text.strip_prefix(['-', '+']) {
        Some(rest) => (&text[..1], rest),
        None => ("", text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (integer, fraction) = match mantissa.split_once(decimal) {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (mantissa, None),
    };
    let is_group =
        |c: char| c == group || c == ' ' || c == '\u{a0}' || c == '\u{202f}' || c == '\'';
    let digits: String = if integer.contains(is_group) {
        let groups: Vec<&str> = integer.split(is_group).collect();
        let well_formed = !groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3);
        if !well_formed {
            return None;
        }
        groups.concat()
    } else {
        integer.to_owned()
    };
    if digits.is_empty() && fraction.is_none_or(str::is_empty) {
        return None;
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(&digits) || !fraction.is_none_or(all_digits) {
        return None;
    }
    let mut normalized = format!("{sign}{}", if digits.is_empty() { "0" } else { &digits });
    if let Some(fraction) = fraction.filter(|f| !f.is_empty()) {
        normalized.push('.');
        normalized.push_str(fraction);
    }
    if let Some(exponent) = exponent {
        let (exp_sign, exp_digits) = match exponent.strip_prefix(['-', '+']) {
            Some(rest) => (&exponent[..1], rest),
            None => ("", exponent),
        };
        if exp_digits.is_empty() || !all_digits(exp_digits) {
            return None;
        }
        normalized.push('e');
        normalized.push_str(exp_sign);
        normalized.push_str(exp_digits);
    }
    normalized.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Decides the decimal mark of a column from sample values: a comma followed by other
/// than exactly three digits, or a point used as a group separator, means decimal comma.
pub fn detect_decimal_mark<'a>(samples: impl IntoIterator<Item = &'a str>) -> DecimalMark {
    let (mut point, mut comma) = (0usize, 0usize);
    for value in samples {
        let value = value.trim();
        if is_null(value) {
            continue;
        }
        match (parse_number(value, DecimalMark::Point), parse_number(value, DecimalMark::Comma)) {
            (Some(_), None) => point += 1,
            (None, Some(_)) => comma += 1,
            _ => {}
        }
    }
    if comma > point { DecimalMark::Comma } else { DecimalMark::Point }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_with_group_separators_and_either_decimal_mark() {
        use DecimalMark::{Comma, Point};
        assert_eq!(parse_number("1234.5", Point), Some(1234.5));
        assert_eq!(parse_number("1,234.5", Point), Some(1234.5));
        assert_eq!(parse_number("1.234,5", Comma), Some(1234.5));
        assert_eq!(parse_number("1 234,5", Comma), Some(1234.5));
        assert_eq!(parse_number("1'234'567.25", Point), Some(1_234_567.25));
        assert_eq!(parse_number("-3e-5", Point), Some(-3e-5));
        assert_eq!(parse_number("+.5", Point), Some(0.5));
        assert_eq!(parse_number("12,5", Comma), Some(12.5));
        // Misplaced group separators are not numbers: never read 1,5 as fifteen.
        assert_eq!(parse_number("1,5", Point), None);
        assert_eq!(parse_number("12,34.5", Point), None);
        for garbage in ["", "-", "e5", "1e", "1.2.3", "abc", "1 2", "inf", "NaN", "1e400", "١٢"] {
            assert_eq!(parse_number(garbage, Point), None, "{garbage:?}");
        }
    }

    #[test]
    fn the_fast_path_agrees_with_the_general_reader() {
        let samples = [
            "0",
            "12",
            "-12",
            "+12",
            "1.5",
            "-0.25",
            ".5",
            "5.",
            "+.5",
            "1e5",
            "1E+05",
            "-3e-5",
            "e5",
            "1e",
            "1.2.3",
            "--1",
            "1-2",
            ".",
            "1e+",
            "1.5e3.2",
            "007",
            "1e400",
            "-",
            "+",
            "inf",
            "-infinity",
            "NaN",
            "nan",
            "1,5",
            "1.234,5",
        ];
        for text in samples {
            for mark in [DecimalMark::Point, DecimalMark::Comma] {
                let general = if text.is_empty() { None } else { parse_general(text, mark) };
                assert_eq!(parse_number(text, mark), general, "{text:?} with {mark:?}");
            }
        }
    }

    #[test]
    fn missing_values_are_recognised_in_their_usual_spellings() {
        for token in ["", "  ", "NA", "n/a", "NaN", "null", "NULL", "None", "-", "#N/A"] {
            assert!(is_null(token), "{token:?}");
        }
        assert!(!is_null("0"));
    }

    #[test]
    fn the_decimal_mark_is_decided_by_the_values() {
        assert_eq!(detect_decimal_mark(["1.5", "2.25", "NA"]), DecimalMark::Point);
        assert_eq!(detect_decimal_mark(["1,5", "2,25", "3"]), DecimalMark::Comma);
        assert_eq!(detect_decimal_mark(["1.234,5", "2"]), DecimalMark::Comma);
        assert_eq!(
            detect_decimal_mark(["1,234", "5"]),
            DecimalMark::Point,
            "three digits after a comma read as a group"
        );
    }
}
