//! Numbers and missing values as people write them in files: `1234.5`, `1,234.5`,
//! `1.234,5`, `1 234,5`, `1'234.5`, `-3e-5`, and `NA`, `NaN`, `null` or nothing for missing.

/// Texts that mean "no value" in the files people download (compared without case).
const NULL_TOKENS: &[&str] = &["", "na", "n/a", "nan", "null", "none", "nil", "-", "#n/a", "."];

/// Whether the text stands for a missing value.
pub fn is_null(text: &str) -> bool {
    // No token starts with a digit: numbers, the common case, are decided at once.
    if text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
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
    let text = variosync_domain::text::trimmed(text);
    if text.is_empty() {
        return None;
    }
    // The common case goes straight to the standard reader. What it accepts is plain digits
    // with a sign, a point and an exponent, on which the general path below agrees, or an
    // infinity or NaN, which are not finite and so not numbers here either.
    if mark == DecimalMark::Point {
        if let Some(value) = simple_decimal(text.as_bytes()) {
            return Some(value);
        }
        if let Ok(value) = text.parse::<f64>() {
            return value.is_finite().then_some(value);
        }
    } else if text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'e' | b'E')) {
        return text.parse::<f64>().ok().filter(|v| v.is_finite());
    }
    parse_general(text, mark)
}

/// Powers of ten that a double holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Reads `[+-]digits[.digits]` when its digits, as a whole number, fit a double exactly
/// (below 2^53) and it has at most 22 decimals: then the number is that whole number
/// divided by an exact power of ten, and one correctly rounded division gives exactly what
/// a full reader gives (Clinger's fast path). `None` for anything else.
fn simple_decimal(text: &[u8]) -> Option<f64> {
    let (negative, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let mut mantissa: u64 = 0;
    let mut seen = 0usize;
    let mut decimals = None;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                // 19 digits always fit a u64; the bound is checked below.
                if seen == 19 {
                    return None;
                }
                mantissa = mantissa * 10 + u64::from(b - b'0');
                seen += 1;
            }
            b'.' if decimals.is_none() => decimals = Some(i),
            _ => return None,
        }
    }
    if seen == 0 || mantissa >= 1 << 53 {
        return None;
    }
    let decimals = decimals.map_or(0, |at| digits.len() - at - 1);
    let value = mantissa as f64 / *EXACT_POWERS_OF_TEN.get(decimals)?;
    Some(if negative { -value } else { value })
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
    fn simple_decimals_read_exactly_as_the_standard_reader_reads_them() {
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "5.",
            ".5",
            "-.5",
            "+1.25",
            "123.456",
            "0.1",
            "0.3",
            "9007199254740991",
            "9007199254740992",
            "9007199254740993",
            "1234567890123456789",
            "12345678901234567890",
            "0.00000000000000000000001",
            "1.0000000000000000000000",
            "28.18000030517578",
            "27.770000457763672",
            "100000000000000000000000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // A spread of prices, volumes and small numbers with many decimals.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let whole = state % 1_000_000;
            let decimals = (state >> 20) % 17;
            let fraction = (state >> 30) % 10u64.pow(decimals as u32).max(1);
            texts.push(if decimals == 0 {
                whole.to_string()
            } else {
                format!("{whole}.{fraction:0width$}", width = decimals as usize)
            });
        }
        for text in &texts {
            let standard = text.parse::<f64>().ok();
            if let Some(fast) = simple_decimal(text.as_bytes()) {
                assert_eq!(Some(fast.to_bits()), standard.map(f64::to_bits), "{text}");
            }
            assert_eq!(parse_number(text, DecimalMark::Point), standard, "{text}");
        }
        for not_simple in ["", "-", ".", "1e5", "1.2.3", "1,5", " 1", "0x10", "١"] {
            assert_eq!(simple_decimal(not_simple.as_bytes()), None, "{not_simple:?}");
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
