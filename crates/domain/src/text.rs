//! Small text helpers for the hot paths of reading files.

/// `text.trim()`, without its cost in the common case of nothing to trim (a value that
/// starts and ends with a visible ASCII character).
#[inline]
pub fn trimmed(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        [only] if only.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::trimmed;

    #[test]
    fn trims_as_trim_does() {
        for text in
            ["", " ", "a", " a", "a ", " a b ", "\u{a0}1,5\u{a0}", "ä", "\t7\r", "x\u{2003}"]
        {
            assert_eq!(trimmed(text), text.trim(), "{text:?}");
        }
    }
}
