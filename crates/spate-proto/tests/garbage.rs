//! Property tests: arbitrary or mutated bytes fed to the [`Codec`] never
//! panic. Each decode step either yields a frame, asks for more bytes, or
//! returns a typed [`DecodeError`] that maps to a protocol error code; a
//! non-fatal error skips exactly the one bad frame.

mod common;

use bytes::BytesMut;
use common::{frame, raw_frame};
use proptest::prelude::*;
use spate_proto::{op, opcode_name, Codec, CodecError, DecodeError, ErrorCode, Frame};
use tokio_util::codec::Decoder;

/// Every opcode v1 defines, for structured fuzzing.
const OPCODES: &[u8] = &[
    op::HELLO,
    op::PING,
    op::PONG,
    op::PUBLISH,
    op::PUBLISH_BATCH,
    op::SUBSCRIBE,
    op::UNSUBSCRIBE,
    op::STATE_PUT,
    op::STATE_DEL,
    op::STATE_GET,
    op::STATE_LIST,
    op::WELCOME,
    op::PUB_ACK,
    op::MESSAGE,
    op::MESSAGE_BATCH,
    op::SUBSCRIBED,
    op::UNSUBSCRIBED,
    op::GAP,
    op::STATE_REPLY,
    op::STATE_LIST_REPLY,
    op::ERROR,
    op::GOAWAY,
];

/// What happened to one byte stream.
#[derive(Debug, Default)]
struct Outcome {
    frames: Vec<Frame>,
    errors: Vec<DecodeError>,
    /// Stopped at an error after which the stream cannot be trusted.
    fatal: bool,
}

/// Decodes `bytes` as far as possible the way a server would: skip frames
/// with non-fatal errors, stop at a stream-fatal one. Checks, at every
/// step, that the codec only consumes input when it reports progress.
fn drain(bytes: &[u8], max_frame: usize) -> Outcome {
    let mut codec = Codec::new(max_frame);
    let mut buf = BytesMut::from(bytes);
    let mut out = Outcome::default();
    loop {
        let before = buf.len();
        match codec.decode(&mut buf) {
            Ok(Some(f)) => {
                assert!(buf.len() < before, "a frame consumes bytes");
                out.frames.push(f);
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "need-more must not consume input");
                return out;
            }
            Err(CodecError::Decode(e)) => {
                // The error maps to a defined wire code.
                let code = e.code();
                assert!(ErrorCode::from_u16(code as u16).is_some());
                assert!(!e.to_string().is_empty());
                if e.is_stream_fatal() {
                    assert!(code.is_fatal());
                    out.errors.push(e);
                    out.fatal = true;
                    return out;
                }
                assert!(buf.len() < before, "a skipped frame consumes bytes");
                out.errors.push(e);
            }
            Err(CodecError::Io(e)) => panic!("decoding never produces I/O errors: {e}"),
        }
    }
}

/// Whatever decodes is canonical: encode it again and it decodes the same.
fn assert_reencodes(frames: &[Frame]) {
    for f in frames {
        let again = Frame::decode(f.opcode(), f.to_bytes().slice(5..)).expect("re-decodes");
        assert_eq!(&again, f);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Completely arbitrary bytes.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let out = drain(&bytes, 1 << 20);
        assert_reencodes(&out.frames);
    }

    /// Well-framed garbage: a correct length prefix and a known opcode
    /// around a random body, so the body decoders get exercised.
    #[test]
    fn random_bodies_never_panic(
        frames in prop::collection::vec(
            (prop::sample::select(OPCODES), prop::collection::vec(any::<u8>(), 0..96)),
            1..8,
        )
    ) {
        let mut wire = BytesMut::new();
        for (opcode, body) in &frames {
            wire.extend_from_slice(&raw_frame(*opcode, body));
        }
        let out = drain(&wire, 1 << 20);
        // Each input frame is either decoded or reported, never lost.
        prop_assert!(!out.fatal);
        prop_assert_eq!(out.frames.len() + out.errors.len(), frames.len());
        assert_reencodes(&out.frames);
    }

    /// Valid frames with a few bytes overwritten (length prefix included).
    #[test]
    fn mutated_frames_never_panic(
        f in frame(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut wire = f.to_bytes().to_vec();
        for (at, byte) in edits {
            let i = at.index(wire.len());
            wire[i] = byte;
        }
        let out = drain(&wire, 1 << 16);
        assert_reencodes(&out.frames);
    }

    /// Any opcode byte outside v1 is reported as UNKNOWN_OPCODE, skipped,
    /// and the next frame still decodes.
    #[test]
    fn unknown_opcodes_are_skipped(
        opcode in any::<u8>().prop_filter("not a v1 opcode", |o| opcode_name(*o).is_none()),
        body in prop::collection::vec(any::<u8>(), 0..32),
        next in frame(),
    ) {
        let mut wire = raw_frame(opcode, &body);
        next.encode(&mut wire);
        let out = drain(&wire, 1 << 20);
        prop_assert_eq!(out.errors, vec![DecodeError::UnknownOpcode(opcode)]);
        prop_assert_eq!(out.frames, vec![next]);
    }
}
