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

/// The encoding of a text from its first bytes, and the length of its byte-order mark.
pub fn detect(head: &[u8]) -> (Encoding, usize) {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return (Encoding::Utf8, 3);
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return (Encoding::Utf16Le, 2);
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return (Encoding::Utf16Be, 2);
    }
    if let Some(order) = unmarked_utf16(head) {
        return (order, 0);
    }
    match std::str::from_utf8(head) {
        // A text cut inside a multi-byte character is still UTF-8.
        Err(error) if error.error_len().is_some() => (Encoding::Latin1, 0),
        _ => (Encoding::Utf8, 0),
    }
}

/// Decodes a whole text, choosing the encoding from its byte-order mark or its content.
/// The mark, if any, is not part of the result.
pub fn decode(bytes: &[u8]) -> (Cow<'_, str>, Encoding) {
    let (encoding, mark) = detect(bytes);
    let rest = &bytes[mark..];
    let text = match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(rest),
        Encoding::Utf16Le => Cow::Owned(utf16(rest, u16::from_le_bytes)),
        Encoding::Utf16Be => Cow::Owned(utf16(rest, u16::from_be_bytes)),
        Encoding::Latin1 => Cow::Owned(rest.iter().map(|&b| char::from(b)).collect()),
    };
    (text, encoding)
}

/// Turns a byte stream in one encoding into UTF-8, a block at a time, so a file of any size
/// is read in bounded memory. UTF-8 passes through untouched (invalid sequences are
/// replaced line by line later); a character split between two blocks is carried over.
pub struct Decoder<R> {
    inner: R,
    encoding: Encoding,
    carry: Vec<u8>,
    raw: Vec<u8>,
}

impl<R> std::fmt::Debug for Decoder<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("encoding", &self.encoding).finish_non_exhaustive()
    }
}

impl<R: std::io::Read> Decoder<R> {
    /// A decoder of `inner`, whose byte-order mark (if any) has been read already.
    pub fn new(inner: R, encoding: Encoding) -> Self {
        Self { inner, encoding, carry: Vec::new(), raw: Vec::new() }
    }

    /// Appends up to about `want` bytes of UTF-8 to `out`; returns how many were appended,
    /// 0 at the end of the input.
    pub fn read_into(&mut self, out: &mut Vec<u8>, want: usize) -> std::io::Result<usize> {
        let start = out.len();
        if self.encoding == Encoding::Utf8 {
            out.resize(start + want, 0);
            let n = read_some(&mut self.inner, &mut out[start..])?;
            out.truncate(start + n);
            return Ok(n);
        }
        loop {
            self.raw.clear();
            self.raw.extend_from_slice(&self.carry);
            self.carry.clear();
            let at = self.raw.len();
            self.raw.resize(at + want.max(4), 0);
            let n = read_some(&mut self.inner, &mut self.raw[at..])?;
            self.raw.truncate(at + n);
            let end = n == 0;
            match self.encoding {
                Encoding::Latin1 => {
                    for &b in &self.raw {
                        let mut buffer = [0u8; 2];
                        out.extend_from_slice(char::from(b).encode_utf8(&mut buffer).as_bytes());
                    }
                }
                Encoding::Utf16Le | Encoding::Utf16Be => {
                    let read = if self.encoding == Encoding::Utf16Le {
                        u16::from_le_bytes
                    } else {
                        u16::from_be_bytes
                    };
                    let mut whole = self.raw.len() & !1;
                    // A high surrogate waits for its pair in the next block.
                    if !end && whole >= 2 {
                        let last = read([self.raw[whole - 2], self.raw[whole - 1]]);
                        if (0xD800..0xDC00).contains(&last) {
                            whole -= 2;
                        }
                    }
                    let text = utf16(&self.raw[..whole], read);
                    out.extend_from_slice(text.as_bytes());
                    if end && whole < self.raw.len() {
                        out.extend_from_slice(char::REPLACEMENT_CHARACTER.to_string().as_bytes());
                    } else {
                        self.carry.extend_from_slice(&self.raw[whole..]);
                    }
                }
                Encoding::Utf8 => unreachable!("handled above"),
            }
            if out.len() > start || end {
                return Ok(out.len() - start);
            }
        }
    }
}

/// Reads at least one byte unless at the end, retrying interruptions.
fn read_some(reader: &mut impl std::io::Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match reader.read(buffer) {
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            result => return result,
        }
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

    fn decoded_in_blocks(bytes: &[u8], block: usize) -> String {
        let (encoding, mark) = detect(bytes);
        let mut decoder = Decoder::new(&bytes[mark..], encoding);
        let mut out = Vec::new();
        while decoder.read_into(&mut out, block).unwrap() > 0 {}
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_stream_decodes_to_the_same_text_whatever_the_block_size() {
        let text = "date,close\n2024-01-31,1.5 € 𝄞\n";
        for block in [1, 2, 3, 5, 64] {
            assert_eq!(decoded_in_blocks(text.as_bytes(), block), text);
            assert_eq!(decoded_in_blocks(&utf16le(text, true), block), text, "{block}");
            assert_eq!(decoded_in_blocks(b"caf\xe9,1\n", block), "café,1\n");
        }
        let odd = [utf16le("ab", true), vec![0x41]].concat();
        assert_eq!(decoded_in_blocks(&odd, 3), "ab\u{fffd}", "a cut last unit is replaced");
    }

    #[test]
    fn a_text_cut_inside_a_character_stays_utf8() {
        let cut = &"prix €".as_bytes()[..7];
        assert_eq!(decode(cut).1, Encoding::Utf8);
    }
}
