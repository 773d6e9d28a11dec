//! Format detection from a file's first bytes and its length.

use super::Format;
use super::rapidbin;
use super::std_text;

/// What detection says when nothing fits.
pub(crate) const UNKNOWN_FORMAT: &str =
    "expected a native trace, JSON Lines, RAPID STD text or RapidBin";

/// The format of a file whose first bytes are `prefix` and whose length is `len`.
pub(crate) fn detect(prefix: &[u8], len: u64) -> Result<Format, String> {
    if prefix.is_empty() {
        return Err(format!("empty file, {UNKNOWN_FORMAT}"));
    }
    // A file cut inside the magic is still a native trace: the reader then
    // reports the truncated header instead of "unknown format".
    let magic = &sync_trace::codec::MAGIC;
    if sync_trace::codec::has_magic(prefix)
        || (prefix.len() < magic.len() && magic.starts_with(prefix))
    {
        return Ok(Format::Native);
    }
    let first_non_blank = prefix.iter().find(|b| !b.is_ascii_whitespace());
    if first_non_blank == Some(&b'{') {
        return Ok(Format::Jsonl);
    }
    if looks_like_std(prefix) {
        return Ok(Format::Std);
    }
    if rapidbin::plausible_header(prefix, len) {
        return Ok(Format::RapidBin);
    }
    Err(UNKNOWN_FORMAT.to_owned())
}

/// Whether the first non-blank line of `prefix` is an STD event.
fn looks_like_std(prefix: &[u8]) -> bool {
    let Some(line) = prefix
        .split(|&b| b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))
    else {
        return false;
    };
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    std::str::from_utf8(line)
        .ok()
        .and_then(std_text::parse_line)
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        assert_eq!(detect(b"T0|begin|0\nT0|acq(L1)|3\n", 22), Ok(Format::Std));
        assert_eq!(detect(b"T0|acq(L1)|3", 12), Ok(Format::Std));
        assert_eq!(detect(b"\n  {\"End\":null}", 15), Ok(Format::Jsonl));
        assert_eq!(detect(&sync_trace::codec::MAGIC, 8), Ok(Format::Native));
        assert_eq!(
            detect(&sync_trace::codec::MAGIC[..3], 3),
            Ok(Format::Native)
        );
        let mut rb = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        rb.extend_from_slice(&0x1800u64.to_be_bytes());
        assert_eq!(detect(&rb, rb.len() as u64), Ok(Format::RapidBin));
        assert!(detect(b"", 0).unwrap_err().contains("empty file"));
        assert_eq!(detect(b"hello world", 11).unwrap_err(), UNKNOWN_FORMAT);
    }
}
