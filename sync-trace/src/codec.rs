//! The native binary trace format (see `FORMAT.md` at the repository root).
//!
//! ```text
//! header : magic (8 bytes: 89 'I' 'S' 'T' 'R' 0D 0A 1A) · version u16 LE · flags u16 LE
//! frame* : length u32 LE · crc32 u32 LE (of the payload) · payload (postcard-encoded Record)
//! ```
//!
//! Each frame is written with one `write_all` call, so a process killed at any
//! moment leaves a file whose complete frames are all readable; a torn last
//! frame is reported as [`DecodeError::Truncated`] with its offset.

use std::io::{self, Read, Write};

use thiserror::Error;

use crate::record::Record;

/// The first eight bytes of every native trace file.
pub const MAGIC: [u8; 8] = [0x89, b'I', b'S', b'T', b'R', b'\r', b'\n', 0x1a];
/// The format version this crate writes, and the newest it reads.
pub const VERSION: u16 = 1;
/// Size of the file header in bytes.
pub const HEADER_LEN: u64 = 12;
/// Frames larger than this are treated as corruption rather than allocated.
pub const MAX_FRAME_LEN: u32 = 64 << 20;

/// Why a trace could not be decoded. Every variant names the byte offset.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// The file has no bytes at all.
    #[error("byte 0: empty file, expected a trace header")]
    Empty,
    /// The magic number is missing.
    #[error(
        "byte 0: not an instrumented-sync trace (expected the magic bytes 89 49 53 54 52 0D 0A 1A)"
    )]
    BadMagic,
    /// The file ends inside the header.
    #[error("byte {found}: truncated header, expected {HEADER_LEN} bytes")]
    TruncatedHeader {
        /// How many bytes there were.
        found: u64,
    },
    /// Written by a newer version of the format.
    #[error(
        "byte 8: trace format version {found} is newer than this reader supports (version {VERSION}); upgrade the analyzer"
    )]
    FutureVersion {
        /// The version in the header.
        found: u16,
    },
    /// The file ends inside a frame.
    #[error(
        "byte {offset}: truncated frame, expected {expected} bytes but the file ends after {found} (the recording process probably died)"
    )]
    Truncated {
        /// Where the torn frame starts.
        offset: u64,
        /// Bytes the frame should have (including its 8-byte frame header).
        expected: u64,
        /// Bytes actually present.
        found: u64,
    },
    /// A frame length beyond [`MAX_FRAME_LEN`].
    #[error(
        "byte {offset}: frame length {len} exceeds the maximum of {MAX_FRAME_LEN} bytes; the file is corrupt"
    )]
    FrameTooLarge {
        /// Where the frame starts.
        offset: u64,
        /// The claimed length.
        len: u32,
    },
    /// The checksum does not match the payload.
    #[error("byte {offset}: frame checksum mismatch; the file is corrupt")]
    Checksum {
        /// Where the frame starts.
        offset: u64,
    },
    /// The payload is not a valid record.
    #[error("byte {offset}: undecodable record: {source}")]
    Record {
        /// Where the frame starts.
        offset: u64,
        /// The decoder's complaint.
        source: postcard::Error,
    },
    /// Reading failed.
    #[error("byte {offset}: read error: {source}")]
    Io {
        /// How far reading got.
        offset: u64,
        /// The I/O error.
        source: io::Error,
    },
}

impl DecodeError {
    /// Whether this error only means the file ends early, which a killed process causes.
    pub fn is_truncation(&self) -> bool {
        matches!(
            self,
            DecodeError::Truncated { .. } | DecodeError::TruncatedHeader { .. }
        )
    }
}

/// Whether `bytes` (the start of a file) look like a native trace.
pub fn has_magic(bytes: &[u8]) -> bool {
    bytes.len() >= MAGIC.len() && bytes[..MAGIC.len()] == MAGIC
}

/// Writes a native trace: the header on creation, then one frame per record.
pub struct TraceWriter<W: Write> {
    out: W,
    scratch: Vec<u8>,
}

impl<W: Write> TraceWriter<W> {
    /// Writes the header to `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut header = [0u8; HEADER_LEN as usize];
        header[..8].copy_from_slice(&MAGIC);
        header[8..10].copy_from_slice(&VERSION.to_le_bytes());
        out.write_all(&header)?;
        Ok(TraceWriter {
            out,
            scratch: Vec::with_capacity(4096),
        })
    }

    /// Appends one record as a single frame (one `write_all` call).
    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        encode_frame(record, &mut self.scratch)?;
        self.out.write_all(&self.scratch)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Encodes `record` as a complete frame into `buf` (cleared first).
pub fn encode_frame(record: &Record, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    buf.extend_from_slice(&[0u8; 8]);
    let encoded = postcard::to_extend(record, std::mem::take(buf))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    *buf = encoded;
    let payload_len = u32::try_from(buf.len() - 8)
        .ok()
        .filter(|&n| n <= MAX_FRAME_LEN)
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "record too large for one frame")
        })?;
    let crc = crc32fast::hash(&buf[8..]);
    buf[..4].copy_from_slice(&payload_len.to_le_bytes());
    buf[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Reads a native trace record by record, with the byte offset of each.
/// Stops after the first error.
pub struct TraceReader<R: Read> {
    input: R,
    offset: u64,
    payload: Vec<u8>,
    done: bool,
    /// The format version from the header.
    pub version: u16,
}

impl<R: Read> TraceReader<R> {
    /// Reads and checks the header.
    pub fn new(mut input: R) -> Result<Self, DecodeError> {
        let mut header = [0u8; HEADER_LEN as usize];
        let n = read_full(&mut input, &mut header)
            .map_err(|source| DecodeError::Io { offset: 0, source })?;
        if n == 0 {
            return Err(DecodeError::Empty);
        }
        if !header[..n.min(8)].iter().zip(MAGIC).all(|(a, b)| *a == b) {
            return Err(DecodeError::BadMagic);
        }
        if n < header.len() {
            return Err(DecodeError::TruncatedHeader { found: n as u64 });
        }
        let version = u16::from_le_bytes([header[8], header[9]]);
        if version > VERSION {
            return Err(DecodeError::FutureVersion { found: version });
        }
        Ok(TraceReader {
            input,
            offset: HEADER_LEN,
            payload: Vec::new(),
            done: false,
            version,
        })
    }

    /// The offset of the next frame (after iteration: how many bytes were read cleanly).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn next_record(&mut self) -> Result<Option<Record>, DecodeError> {
        let start = self.offset;
        let io_err = |source| DecodeError::Io {
            offset: start,
            source,
        };
        let mut frame_header = [0u8; 8];
        let n = read_full(&mut self.input, &mut frame_header).map_err(io_err)?;
        if n == 0 {
            return Ok(None);
        }
        let len = u32::from_le_bytes(frame_header[..4].try_into().expect("4 bytes"));
        if n < 8 {
            return Err(DecodeError::Truncated {
                offset: start,
                expected: 8,
                found: n as u64,
            });
        }
        if len > MAX_FRAME_LEN {
            return Err(DecodeError::FrameTooLarge { offset: start, len });
        }
        let crc = u32::from_le_bytes(frame_header[4..].try_into().expect("4 bytes"));
        self.payload.resize(len as usize, 0);
        let got = read_full(&mut self.input, &mut self.payload).map_err(io_err)?;
        if got < len as usize {
            return Err(DecodeError::Truncated {
                offset: start,
                expected: 8 + u64::from(len),
                found: 8 + got as u64,
            });
        }
        if crc32fast::hash(&self.payload) != crc {
            return Err(DecodeError::Checksum { offset: start });
        }
        let record = postcard::from_bytes(&self.payload).map_err(|source| DecodeError::Record {
            offset: start,
            source,
        })?;
        self.offset = start + 8 + u64::from(len);
        Ok(Some(record))
    }
}

impl<R: Read> Iterator for TraceReader<R> {
    type Item = Result<(u64, Record), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let start = self.offset;
        match self.next_record() {
            Ok(Some(record)) => Some(Ok((start, record))),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attempt, Event, Mode, ObjectId, Op, SiteId, ThreadId};

    fn sample() -> Vec<Record> {
        vec![
            Record::Events {
                thread: ThreadId(0),
                events: vec![
                    Event {
                        op: Op::Acquire {
                            lock: ObjectId(3),
                            mode: Mode::Write,
                            attempt: Attempt::Blocking,
                            seq: 1,
                        },
                        site: SiteId(2),
                    },
                    Event {
                        op: Op::Release {
                            lock: ObjectId(3),
                            mode: Mode::Write,
                            seq: 2,
                        },
                        site: SiteId(2),
                    },
                ],
            },
            Record::End,
        ]
    }

    fn encode(records: &[Record]) -> Vec<u8> {
        let mut w = TraceWriter::new(Vec::new()).unwrap();
        for r in records {
            w.write(r).unwrap();
        }
        w.into_inner()
    }

    #[test]
    fn round_trips() {
        let bytes = encode(&sample());
        let back: Vec<Record> = TraceReader::new(&bytes[..])
            .unwrap()
            .map(|r| r.unwrap().1)
            .collect();
        assert_eq!(back, sample());
    }

    #[test]
    fn lock_events_are_compact() {
        let events: Vec<Event> = (0..1000u64)
            .map(|i| Event {
                op: Op::Acquire {
                    lock: ObjectId(i % 50),
                    mode: Mode::Write,
                    attempt: Attempt::Blocking,
                    seq: i,
                },
                site: SiteId(7),
            })
            .collect();
        let bytes = encode(&[Record::Events {
            thread: ThreadId(1),
            events,
        }]);
        assert!(
            bytes.len() < 1000 * 8,
            "{} bytes for 1000 events",
            bytes.len()
        );
    }

    #[test]
    fn errors_name_offsets() {
        assert!(matches!(TraceReader::new(&[][..]), Err(DecodeError::Empty)));
        assert!(matches!(
            TraceReader::new(&b"hello world!!"[..]),
            Err(DecodeError::BadMagic)
        ));
        let bytes = encode(&sample());
        assert!(matches!(
            TraceReader::new(&bytes[..10]),
            Err(DecodeError::TruncatedHeader { found: 10 })
        ));
        let mut future = bytes.clone();
        future[8] = 9;
        assert!(matches!(
            TraceReader::new(&future[..]),
            Err(DecodeError::FutureVersion { found: 9 })
        ));
        let cut = &bytes[..bytes.len() - 3];
        let results: Vec<_> = TraceReader::new(cut).unwrap().collect();
        assert!(results[0].is_ok());
        let err = results.last().unwrap().as_ref().unwrap_err();
        assert!(err.is_truncation(), "{err}");
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN as usize + 9] ^= 0xff;
        let err = TraceReader::new(&flipped[..])
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(err, DecodeError::Checksum { offset: HEADER_LEN }),
            "{err}"
        );
    }
}
