//! Primitive field encodings shared by every frame: big-endian integers,
//! `str` (u16 length + UTF-8), `bytes` (u32 length + raw) and `rest`
//! (everything to the end of the frame). Decoding is zero-copy: strings and
//! payloads are slices of the received frame.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};

/// Longest `str` field: its length prefix is a u16.
pub const MAX_STR_LEN: usize = u16::MAX as usize;

/// UTF-8 text that borrows the received frame instead of copying it.
/// Dereferences to `&str`.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(Bytes);

impl Text {
    /// Wraps bytes already known to be valid UTF-8.
    pub fn from_utf8(b: Bytes) -> Result<Text, std::str::Utf8Error> {
        std::str::from_utf8(&b)?;
        Ok(Text(b))
    }

    /// A static string, without allocating.
    pub const fn from_static(s: &'static str) -> Text {
        Text(Bytes::from_static(s.as_bytes()))
    }

    /// The UTF-8 bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY-free: validated on construction; from_utf8_unchecked would
        // be faster but this keeps the crate free of unsafe.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Bytes::from(s.into_bytes()))
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cursor over one frame's body that yields typed fields or a
/// [`DecodeError`] naming the frame and field that failed.
pub struct Reader {
    buf: Bytes,
    frame: &'static str,
}

impl Reader {
    /// Starts reading `buf`, the body of a frame called `frame`.
    pub fn new(frame: &'static str, buf: Bytes) -> Reader {
        Reader { buf, frame }
    }

    fn need(&self, field: &'static str, n: usize) -> Result<(), DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated {
                frame: self.frame,
                field,
                needed: n,
                available: self.buf.len(),
            });
        }
        Ok(())
    }

    /// An error about `field` in this frame.
    pub fn invalid(&self, field: &'static str, reason: &'static str) -> DecodeError {
        DecodeError::Invalid {
            frame: self.frame,
            field,
            reason,
        }
    }

    /// Reads a u8.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        self.need(field, 1)?;
        Ok(self.buf.get_u8())
    }

    /// Reads a big-endian u16.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.need(field, 2)?;
        Ok(self.buf.get_u16())
    }

    /// Reads a big-endian u32.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.need(field, 4)?;
        Ok(self.buf.get_u32())
    }

    /// Reads a big-endian u64.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.need(field, 8)?;
        Ok(self.buf.get_u64())
    }

    /// Reads exactly `n` raw bytes.
    pub fn raw(&mut self, field: &'static str, n: usize) -> Result<Bytes, DecodeError> {
        self.need(field, n)?;
        Ok(self.buf.split_to(n))
    }

    /// Reads a `str`: u16 length, then that many UTF-8 bytes.
    pub fn str(&mut self, field: &'static str) -> Result<Text, DecodeError> {
        let n = self.u16(field)? as usize;
        let b = self.raw(field, n)?;
        Text::from_utf8(b).map_err(|_| self.invalid(field, "not valid UTF-8"))
    }

    /// Reads a `bytes`: u32 length, then that many bytes.
    pub fn bytes(&mut self, field: &'static str) -> Result<Bytes, DecodeError> {
        let n = self.u32(field)? as usize;
        self.raw(field, n)
    }

    /// Takes everything left in the frame.
    pub fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Ends a frame with no room for extensions: trailing bytes are an error.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                frame: self.frame,
                extra: self.buf.len(),
            })
        }
    }

    /// Ends an extensible frame: trailing bytes are fields added by a newer
    /// minor revision and are ignored (protocol.md, "Extension rules").
    pub fn finish_extensible(self) {}
}

/// `s` cut to at most `max` bytes, at the last char boundary at or below
/// `max`, so the result is still valid UTF-8.
pub fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut n = max;
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// Writes a `str` field. Never panics: a string longer than
/// [`MAX_STR_LEN`] bytes is cut at a char boundary so that the output is
/// still one well-formed field ([`crate::Frame::try_encode`] reports such a
/// cut as an error instead).
pub fn put_str(dst: &mut impl BufMut, s: &str) {
    let s = truncate_str(s, MAX_STR_LEN);
    dst.put_u16(s.len() as u16);
    dst.put_slice(s.as_bytes());
}

/// Writes a `bytes` field. Never panics: more than `u32::MAX` bytes are cut
/// to that many ([`crate::Frame::try_encode`] reports it instead).
pub fn put_bytes(dst: &mut impl BufMut, b: &[u8]) {
    let b = &b[..b.len().min(u32::MAX as usize)];
    dst.put_u32(b.len() as u32);
    dst.put_slice(b);
}

/// Encoded size of a `str` field, as [`put_str`] writes it.
pub fn str_len(s: &str) -> usize {
    2 + truncate_str(s, MAX_STR_LEN).len()
}

/// An encoder's cursor: writes fields that never panic whatever their
/// length — a length the wire cannot carry is clamped so that the frame
/// stays well-formed — and remembers the first clamp as an
/// [`EncodeError`] for [`crate::Frame::try_encode`].
pub(crate) struct Enc<'a> {
    /// Where the bytes go.
    pub(crate) dst: &'a mut BytesMut,
    err: Option<EncodeError>,
}

impl<'a> Enc<'a> {
    pub(crate) fn new(dst: &'a mut BytesMut) -> Enc<'a> {
        Enc { dst, err: None }
    }

    /// Records that `field` was `len` long where at most `max` fits.
    pub(crate) fn too_long(&mut self, field: &'static str, len: usize, max: usize) {
        self.err
            .get_or_insert(EncodeError::TooLong { field, len, max });
    }

    /// A `str` field.
    pub(crate) fn str(&mut self, field: &'static str, s: &str) {
        if s.len() > MAX_STR_LEN {
            self.too_long(field, s.len(), MAX_STR_LEN);
        }
        put_str(self.dst, s);
    }

    /// A `bytes` field.
    pub(crate) fn bytes(&mut self, field: &'static str, b: &[u8]) {
        if b.len() > u32::MAX as usize {
            self.too_long(field, b.len(), u32::MAX as usize);
        }
        put_bytes(self.dst, b);
    }

    /// A u16 count of `n` items; returns how many items to write (`n`, or
    /// 65,535 if `n` does not fit).
    pub(crate) fn count16(&mut self, field: &'static str, n: usize) -> usize {
        let max = u16::MAX as usize;
        if n > max {
            self.too_long(field, n, max);
        }
        let n = n.min(max);
        self.dst.put_u16(n as u16);
        n
    }

    /// A u32 count of `n` items; returns how many items to write.
    pub(crate) fn count32(&mut self, field: &'static str, n: usize) -> usize {
        let max = u32::MAX as usize;
        if n > max {
            self.too_long(field, n, max);
        }
        let n = n.min(max);
        self.dst.put_u32(n as u32);
        n
    }

    /// A u32 byte length of a nested entry (saturated if it does not fit).
    pub(crate) fn len32(&mut self, field: &'static str, n: usize) {
        let v = u32::try_from(n).unwrap_or_else(|_| {
            self.too_long(field, n, u32::MAX as usize);
            u32::MAX
        });
        self.dst.put_u32(v);
    }

    /// The first length that did not fit, if any.
    pub(crate) fn finish(self) -> Option<EncodeError> {
        self.err
    }
}
