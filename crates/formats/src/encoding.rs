//! Character encodings of text files: UTF-8 (with or without a byte-order mark), UTF-16 in
//! either byte order (with a mark, or recognised by its zero bytes), and Latin-1 for
//! anything else, which every byte sequence is.

use std::borrow::Cow;

/// An encoding a text file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8.
    Utf8,
    /// UTF-16, little-endian.
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
    /// ISO-8859-1: each byte is the character of the same number.
    Latin1,
}

/// Decodes a whole text, choosing the encoding from its byte-order mark or its content.
/// The mark, if any, is not part of the result.
pub fn decode(bytes: &[u8]) -> (Cow<'_, str>, Encoding) {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return (String::from_utf8_lossy(rest), Encoding::Utf8);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return (Cow::Owned(utf16(rest, u16::from_le_bytes)), Encoding::Utf16Le);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return (Cow::Owned(utf16(rest, u16::from_be_bytes)), Encoding::Utf16Be);
    }
    if let Some(order) = unmarked_utf16(bytes) {
        return match order {
            Encoding::Utf16Le => (Cow::Owned(utf16(bytes, u16::from_le_bytes)), order),
            _ => (Cow::Owned(utf16(bytes, u16::from_be_bytes)), order),
        };
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (Cow::Borrowed(text), Encoding::Utf8),
        // A file cut inside a multi-byte character is still UTF-8.
        Err(error) if error.error_len().is_none() => {
            (String::from_utf8_lossy(bytes), Encoding::Utf8)
        }
        Err(_) => (Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()), Encoding::Latin1),
    }
}

fn utf16(bytes: &[u8], read: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|pair| read([pair[0], pair[1]]));
    char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
}

/// UTF-16 without a mark: text of mostly ASCII characters has a zero in every other byte.
fn unmarked_utf16(bytes: &[u8]) -> Option<Encoding> {
    let sample = &bytes[..bytes.len().min(4096) & !1];
    if sample.len() < 4 {
        return None;
    }
    let pairs = sample.len() / 2;
    let zero_even = sample.iter().step_by(2).filter(|b| **b == 0).count();
    let zero_odd = sample.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
    if zero_odd * 10 >= pairs * 9 && zero_even == 0 {
        Some(Encoding::Utf16Le)
    } else if zero_even * 10 >= pairs * 9 && zero_odd == 0 {
        Some(Encoding::Utf16Be)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str, bom: bool) -> Vec<u8> {
        let mut bytes = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        bytes
    }

    #[test]
    fn every_common_encoding_decodes_to_the_same_text() {
        let text = "date,close\n2024-01-31,1.5 €\n";
        assert_eq!(decode(text.as_bytes()), (Cow::Borrowed(text), Encoding::Utf8));
        let with_bom = [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat();
        assert_eq!(decode(&with_bom).0, text);
        assert_eq!(decode(&utf16le(text, true)), (Cow::Owned(text.to_owned()), Encoding::Utf16Le));
        assert_eq!(decode(&utf16le(text, false)).1, Encoding::Utf16Le);
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode(&be).0, text);
        let latin1 = b"caf\xe9,1\n";
        assert_eq!(decode(latin1), (Cow::Owned("café,1\n".to_owned()), Encoding::Latin1));
    }

    #[test]
    fn a_text_cut_inside_a_character_stays_utf8() {
        let cut = &"prix €".as_bytes()[..7];
        assert_eq!(decode(cut).1, Encoding::Utf8);
    }
}
