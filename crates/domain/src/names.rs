//! The one rule for the names people give and see (datasets, series, columns, tags),
//! wherever a name enters: a file, a mapping, the API or a page. A name is trimmed, not
//! empty, at most a set number of characters, and holds no control character and no
//! bidirectional text control (which would make it read differently than it is written:
//! `invoice\u{202E}fdp.exe` shows as `invoiceexe.pdf`).

/// What a name names: its length limit and how messages call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A dataset's name.
    Dataset,
    /// A series' name.
    Series,
    /// A column's name.
    Column,
    /// A tag.
    Tag,
    /// An API key's name.
    Key,
}

impl NameKind {
    /// The most characters a name of this kind may have.
    pub const fn max_chars(self) -> usize {
        match self {
            Self::Dataset | Self::Series | Self::Column => 200,
            Self::Tag => 50,
            Self::Key => 100,
        }
    }

    /// How messages call it.
    pub const fn noun(self) -> &'static str {
        match self {
            Self::Dataset => "dataset name",
            Self::Series => "series name",
            Self::Column => "column name",
            Self::Tag => "tag",
            Self::Key => "key name",
        }
    }
}

/// Characters [`check`] refuses inside a name, as the body of a regular-expression class:
/// control characters and bidirectional text controls.
const HIDDEN: &str = r"\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069";
/// The white space [`check`] trims from both ends (Unicode `White_Space`, as `str::trim`
/// takes it), likewise: for patterns of other trimmed values.
pub const SPACE: &str =
    r"\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// The regular expression (JSON Schema `pattern`, ECMA-262) that matches exactly the texts
/// [`check`] takes as names of `kind`, for API documents to state the rule.
pub fn json_pattern(kind: NameKind) -> String {
    let inner = kind.max_chars().saturating_sub(2);
    format!("^[{SPACE}]*[^{SPACE}{HIDDEN}]([^{HIDDEN}]{{0,{inner}}}[^{SPACE}{HIDDEN}])?[{SPACE}]*$")
}

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing but spaces.
    #[error("the {} is empty", .kind.noun())]
    Empty {
        /// What was named.
        kind: NameKind,
    },
    /// Over the limit.
    #[error("the {} is {chars} characters long; at most {} are allowed", .kind.noun(), .kind.max_chars())]
    TooLong {
        /// What was named.
        kind: NameKind,
        /// Its length in characters.
        chars: usize,
    },
    /// A character that is not shown as itself.
    #[error(
        "the {} holds {what} (U+{code:04X}) at character {at}; names may hold only visible text",
        .kind.noun()
    )]
    Hidden {
        /// What was named.
        kind: NameKind,
        /// `a control character` or `a bidirectional text control`.
        what: &'static str,
        /// The character's code point.
        code: u32,
        /// Its position, counted from 1 in the trimmed name.
        at: usize,
    },
}

/// Whether `c` changes the direction text is shown in (the embeddings, overrides and
/// isolates, and the marks that steer them).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// `text` as a name of `kind`: trimmed, or why it cannot be one.
pub fn check(kind: NameKind, text: &str) -> Result<String, NameError> {
    let name = text.trim();
    if name.is_empty() {
        return Err(NameError::Empty { kind });
    }
    let mut chars = 0;
    for (i, c) in name.chars().enumerate() {
        chars += 1;
        let what = if c.is_control() {
            "a control character"
        } else if is_bidi_control(c) {
            "a bidirectional text control"
        } else {
            continue;
        };
        return Err(NameError::Hidden { kind, what, code: u32::from(c), at: i + 1 });
    }
    if chars > kind.max_chars() {
        return Err(NameError::TooLong { kind, chars });
    }
    Ok(name.to_owned())
}

/// A readable name made from a file's name: its stem (the part before the first dot of the
/// last path segment), with characters that are not letters, digits or common punctuation
/// turned into spaces, spaces collapsed, and cut to the dataset name's length.
/// `<script>alert(1)</script>.csv` gives `script alert(1) script`. `None` when nothing
/// readable is left.
pub fn from_file_name(file_name: &str) -> Option<String> {
    // Browsers send a bare name; other clients may send a path, with either separator. A
    // separator inside a name the person typed (`a</b>.csv`) is not a folder: only the last
    // segment that has a dot before the extension counts, and the rest is kept as text.
    let base = match file_name.rsplit_once(['/', '\\']) {
        Some((folder, last)) if !last.is_empty() && !folder.contains(['<', '>']) => last,
        _ => file_name,
    };
    let stem = match base.split_once('.') {
        Some((stem, _)) if !stem.trim().is_empty() => stem,
        _ => base,
    };
    let mut name = String::with_capacity(stem.len());
    for c in stem.chars() {
        let keep =
            c.is_alphanumeric() || matches!(c, '-' | '_' | '(' | ')' | '&' | '+' | ',' | '\'');
        if keep {
            name.push(c);
        } else if !name.ends_with(' ') {
            name.push(' ');
        }
    }
    let name: String = name.trim().chars().take(NameKind::Dataset.max_chars()).collect();
    let name = name.trim_end();
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_pattern_takes_exactly_what_check_takes() {
        let texts = [
            "prices",
            " prices ",
            "\tprices\n",
            "a",
            "a b",
            "",
            " ",
            "\t",
            "a\tb",
            "a\u{0}b",
            "\u{0}a",
            "a\u{1c}",
            "\u{1c}a",
            "a\u{85}b",
            "\u{85}a",
            "a\u{a0}b",
            "\u{a0}a",
            "a\u{202E}b",
            "\u{2066}a",
            "a\u{200B}b",
            "\u{3000}a\u{3000}",
            "é",
            "日本",
            "a\u{2028}",
            "\u{7f}",
            "\u{9f}a",
            "x\u{61c}",
        ];
        for kind in [NameKind::Dataset, NameKind::Tag, NameKind::Key] {
            let pattern = regex::Regex::new(&json_pattern(kind)).unwrap();
            let long = |n: usize| format!(" {} ", "x".repeat(n));
            let lengths = [kind.max_chars() - 1, kind.max_chars(), kind.max_chars() + 1];
            let sized = lengths.map(long);
            for text in texts.iter().copied().chain(sized.iter().map(String::as_str)) {
                assert_eq!(pattern.is_match(text), check(kind, text).is_ok(), "{kind:?} {text:?}");
            }
        }
    }

    #[test]
    fn names_are_trimmed_and_refused_with_the_reason_and_place() {
        assert_eq!(check(NameKind::Dataset, "  prices 2024 "), Ok("prices 2024".to_owned()));
        assert_eq!(check(NameKind::Tag, " \t "), Err(NameError::Empty { kind: NameKind::Tag }));
        let long = "x".repeat(201);
        assert_eq!(
            check(NameKind::Series, &long),
            Err(NameError::TooLong { kind: NameKind::Series, chars: 201 })
        );
        assert_eq!(check(NameKind::Tag, &"é".repeat(50)).map(|t| t.chars().count()), Ok(50));
        let nul = check(NameKind::Series, "../../s\0").unwrap_err();
        assert_eq!(
            nul,
            NameError::Hidden {
                kind: NameKind::Series,
                what: "a control character",
                code: 0,
                at: 8
            }
        );
        assert_eq!(
            nul.to_string(),
            "the series name holds a control character (U+0000) at character 8; names may hold \
             only visible text"
        );
        let flipped = check(NameKind::Column, "invoice\u{202E}fdp.exe").unwrap_err();
        assert!(flipped.to_string().contains("bidirectional text control (U+202E) at character 8"));
        for c in ['\u{2066}', '\u{2069}', '\u{200F}', '\u{061C}'] {
            assert!(check(NameKind::Dataset, &format!("a{c}b")).is_err(), "{c:?}");
        }
        // Right-to-left text itself is welcome.
        assert_eq!(check(NameKind::Dataset, "מחירים"), Ok("מחירים".to_owned()));
    }

    #[test]
    fn file_names_give_readable_dataset_names() {
        assert_eq!(
            from_file_name("<script>alert(1)</script>.csv").as_deref(),
            Some("script alert(1) script")
        );
        assert_eq!(from_file_name("C:\\exports\\EURUSD_M1.csv").as_deref(), Some("EURUSD_M1"));
        assert_eq!(from_file_name("/tmp/prices.2024.csv.gz").as_deref(), Some("prices"));
        assert_eq!(from_file_name("kurse vom 31.01.csv").as_deref(), Some("kurse vom 31"));
        assert_eq!(from_file_name(".hidden").as_deref(), Some("hidden"));
        assert_eq!(from_file_name("a\u{202E}b\0c.csv").as_deref(), Some("a b c"));
        assert_eq!(from_file_name("***.csv"), None);
        assert_eq!(from_file_name(""), None);
        let long = format!("{}.csv", "y".repeat(500));
        assert_eq!(from_file_name(&long).map(|n| n.len()), Some(200));
    }
}
