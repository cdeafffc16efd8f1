//! [`Codec`]: splits a byte stream into [`Frame`]s and back, for
//! `tokio_util::codec::Framed`. Strict: an oversize or zero length, an
//! unknown opcode or a malformed field is a typed [`DecodeError`].

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::{CodecError, DecodeError};
use crate::frame::{op, Accept, Frame, HEADER_LEN};
use crate::message::PublishRef;

/// Default largest frame length: 1 MiB of payload plus room for headers.
pub const DEFAULT_MAX_FRAME: usize = 1024 * 1024 + 64 * 1024;

/// Length-prefixed frame codec. It decodes the frames its [`Accept`]
/// allows: [`Codec::new`] both directions, [`Codec::replies`] (clients)
/// only what servers send, [`Codec::requests`] (servers) only what clients
/// send. Encoding fails (an I/O error of kind `InvalidInput`, nothing
/// written) on a frame [`Frame::try_encode`] rejects.
#[derive(Debug, Clone)]
pub struct Codec {
    max_frame: usize,
    accept: Accept,
}

impl Codec {
    /// A codec that decodes frames of either direction and rejects frames
    /// whose length exceeds `max_frame`.
    pub fn new(max_frame: usize) -> Codec {
        Codec {
            max_frame,
            accept: Accept::Any,
        }
    }

    /// A client's codec: decodes server → client frames and PING/PONG
    /// ([`Frame::decode_reply`]); any other opcode is
    /// [`DecodeError::UnknownOpcode`].
    pub fn replies(max_frame: usize) -> Codec {
        Codec {
            max_frame,
            accept: Accept::Replies,
        }
    }

    /// A server's codec: decodes client → server frames and PING/PONG
    /// ([`Frame::decode_request`]); any other opcode is
    /// [`DecodeError::UnknownOpcode`].
    pub fn requests(max_frame: usize) -> Codec {
        Codec {
            max_frame,
            accept: Accept::Requests,
        }
    }

    /// Which frames this codec decodes.
    pub fn accept(&self) -> Accept {
        self.accept
    }

    /// Largest accepted frame length.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Raises or lowers the limit, e.g. after the server's WELCOME.
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.max_frame = max_frame;
    }

    /// Splits one raw frame off `src`: `(opcode, body)`, without decoding
    /// the body. `Ok(None)` means more bytes are needed.
    pub fn split_frame(
        &self,
        src: &mut BytesMut,
    ) -> Result<Option<(u8, bytes::Bytes)>, DecodeError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if len == 0 {
            return Err(DecodeError::EmptyFrame);
        }
        if len > self.max_frame {
            return Err(DecodeError::FrameTooLarge {
                len,
                max: self.max_frame,
            });
        }
        if src.len() < 4 + len {
            src.reserve(4 + len - src.len());
            return Ok(None);
        }
        src.advance(4);
        let mut frame = src.split_to(len).freeze();
        let opcode = frame.get_u8();
        Ok(Some((opcode, frame)))
    }

    /// The PUBLISH frame at the front of `src`, read in place, and the
    /// bytes it spans — if a complete one of the common shape is there
    /// ([`PublishRef::parse`]). `None` leaves the frame, whatever it is, to
    /// [`Self::split_frame`] and [`Frame::decode_request`], which report errors.
    pub fn peek_publish<'a>(&self, src: &'a [u8]) -> Option<(PublishRef<'a>, usize)> {
        let (len, rest) = src.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        if len == 0 || len > self.max_frame {
            return None;
        }
        let (&opcode, body) = rest.get(..len)?.split_first()?;
        if opcode != op::PUBLISH {
            return None;
        }
        Some((PublishRef::parse(body)?, 4 + len))
    }
}

impl Default for Codec {
    fn default() -> Codec {
        Codec::new(DEFAULT_MAX_FRAME)
    }
}

impl Decoder for Codec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        match self.split_frame(src)? {
            None => Ok(None),
            Some((opcode, body)) => Ok(Some(Frame::decode_with(self.accept, opcode, body)?)),
        }
    }
}

impl Encoder<Frame> for Codec {
    type Error = CodecError;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.try_encode(dst)
            .map_err(|e| CodecError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))
    }
}

/// Bytes a frame with a body of `body_len` takes on the wire.
pub fn wire_len(body_len: usize) -> usize {
    HEADER_LEN + body_len
}

/// Splits a byte stream into raw `(opcode, body)` frames without decoding
/// bodies. Servers use it so that a bad body is a per-frame error they can
/// answer while the stream stays usable; only a bad length prefix (which
/// loses frame boundaries) is an error here.
#[derive(Debug, Clone, Default)]
pub struct RawCodec(pub Codec);

impl Decoder for RawCodec {
    type Item = (u8, bytes::Bytes);
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<(u8, bytes::Bytes)>, CodecError> {
        Ok(self.0.split_frame(src)?)
    }
}
