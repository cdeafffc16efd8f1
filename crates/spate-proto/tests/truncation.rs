//! Property tests: a valid frame cut short never panics. Cut in the byte
//! stream (fewer bytes than the length prefix announces), the codec asks
//! for more and consumes nothing. Cut inside the body with a length prefix
//! that matches the cut, decoding reports [`DecodeError::Truncated`] —
//! unless the cut falls inside a trailing `rest` field (payload or value),
//! where the shorter frame is itself valid and re-encodes to the same bytes.

mod common;

use bytes::BytesMut;
use common::{body, frame, raw_frame};
use proptest::prelude::*;
use spate_proto::{Codec, CodecError, DecodeError, Frame};
use tokio_util::codec::Decoder;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Every strict prefix of the wire bytes is "need more", and leaves the
    /// buffer untouched so the rest can be appended.
    #[test]
    fn stream_prefix_needs_more(f in frame()) {
        let wire = f.to_bytes();
        let mut codec = Codec::default();
        for cut in 0..wire.len() {
            let mut buf = BytesMut::from(&wire[..cut]);
            prop_assert!(codec.decode(&mut buf).unwrap().is_none(), "cut at {}", cut);
            prop_assert_eq!(&buf[..], &wire[..cut]);
            buf.extend_from_slice(&wire[cut..]);
            prop_assert_eq!(codec.decode(&mut buf).unwrap(), Some(f.clone()));
        }
    }

    /// Every strict prefix of the body, framed with a matching length, is
    /// Truncated or (cut inside a trailing payload) a valid shorter frame.
    #[test]
    fn body_prefix_is_truncated(f in frame()) {
        let full = body(&f);
        for cut in 0..full.len() {
            let short = full.slice(..cut);
            let direct = Frame::decode(f.opcode(), short.clone());
            match &direct {
                Err(DecodeError::Truncated { needed, available, .. }) => {
                    prop_assert!(needed > available);
                }
                Err(e) => prop_assert!(false, "cut at {}: expected Truncated, got {:?}", cut, e),
                Ok(g) => prop_assert_eq!(body(g), short.clone(), "cut at {} decoded as {:?}", cut, g),
            }
            // The same bytes as a peer would send them, through the codec.
            let mut buf = raw_frame(f.opcode(), &short);
            let via_codec = Codec::default().decode(&mut buf);
            prop_assert!(buf.is_empty(), "the whole frame is consumed either way");
            match (via_codec, direct) {
                (Ok(Some(a)), Ok(b)) => prop_assert_eq!(a, b),
                (Err(CodecError::Decode(a)), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "codec gave {:?}, Frame::decode gave {:?}", a, b),
            }
        }
    }
}
