//! A reader that knows where the file ends: every read and skip of a header parser is checked
//! against the file's length first, so a count or length that points past the end is an error
//! before anything is read or allocated, and skipping a large value (a tokenizer's vocabulary,
//! an ONNX tensor's `raw_data`) seeks over it instead of reading it.
//!
//! Little-endian, as GGUF and protobuf's fixed-width fields are:
//!
//! ```text
//! bytes 0..4  "GGUF"     u32 3     u64 291 ...
//! ```

use std::io::{BufRead, BufReader, Read, Seek};

/// Why a bounded read failed: the value would end past the file, or the reader failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{what} at byte {at} needs {need} bytes, but the file ends at byte {len}")]
    PastEnd {
        what: &'static str,
        at: u64,
        need: u64,
        len: u64,
    },
    #[error("reading {what} at byte {at}: {source}")]
    Io {
        what: &'static str,
        at: u64,
        source: std::io::Error,
    },
}

/// A buffered reader over the first `len` bytes of a file, with its position.
#[derive(Debug)]
pub struct Bounded<R> {
    inner: BufReader<R>,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> Bounded<R> {
    /// Reads `inner` from its current position, which must be byte 0 of a file of `len` bytes.
    pub fn new(inner: R, len: u64) -> Bounded<R> {
        Bounded {
            inner: BufReader::with_capacity(64 * 1024, inner),
            pos: 0,
            len,
        }
    }

    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// Bytes between the position and the end of the file.
    pub fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    /// Fails unless `need` more bytes lie before the end of the file.
    pub fn check(&self, need: u64, what: &'static str) -> Result<(), ReadError> {
        if need > self.remaining() {
            return Err(ReadError::PastEnd {
                what,
                at: self.pos,
                need,
                len: self.len,
            });
        }
        Ok(())
    }

    /// Exactly `N` bytes.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ReadError> {
        self.check(N as u64, what)?;
        let mut buf = [0u8; N];
        let at = self.pos;
        self.inner
            .read_exact(&mut buf)
            .map_err(|source| ReadError::Io { what, at, source })?;
        self.pos += N as u64;
        Ok(buf)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, ReadError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, ReadError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, ReadError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// `n` bytes into a new vector; the caller bounds `n` (it is checked against the file
    /// first, so a hostile length never allocates more than the file holds).
    pub fn bytes(&mut self, n: u64, what: &'static str) -> Result<Vec<u8>, ReadError> {
        self.check(n, what)?;
        let mut buf = Vec::new();
        let at = self.pos;
        (&mut self.inner)
            .take(n)
            .read_to_end(&mut buf)
            .map_err(|source| ReadError::Io { what, at, source })?;
        if buf.len() as u64 != n {
            return Err(ReadError::PastEnd {
                what,
                at,
                need: n,
                len: at + buf.len() as u64,
            });
        }
        self.pos += n;
        Ok(buf)
    }

    /// Moves `n` bytes on without reading them (a seek beyond the buffer).
    pub fn skip(&mut self, n: u64, what: &'static str) -> Result<(), ReadError> {
        self.check(n, what)?;
        let at = self.pos;
        let io = |source| ReadError::Io { what, at, source };
        let buffered = self.inner.buffer().len() as u64;
        if n <= buffered {
            self.inner.consume(n as usize);
        } else {
            // `check` bounds n by the file's length, and a file is shorter than i64::MAX.
            let offset = i64::try_from(n).map_err(|_| ReadError::PastEnd {
                what,
                at,
                need: n,
                len: self.len,
            })?;
            self.inner.seek_relative(offset).map_err(io)?;
        }
        self.pos += n;
        Ok(())
    }
}
