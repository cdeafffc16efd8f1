//! The direction-aware decoders: a server's [`Frame::decode_request`]
//! decodes only client → server frames and PING/PONG, a client's
//! [`Frame::decode_reply`] only server → client frames and PING/PONG;
//! every other opcode is `UnknownOpcode` whatever its body. Also checks the
//! one frame table against itself.

mod common;

use bytes::{Bytes, BytesMut};
use common::{frame, raw_frame};
use proptest::prelude::*;
use spate_proto::{
    frame_info, op, opcode_name, Accept, Codec, CodecError, DecodeError, Direction, Frame, FRAMES,
};
use tokio_util::codec::Decoder;

fn direction(opcode: u8) -> Option<Direction> {
    frame_info(opcode).map(|f| f.direction)
}

#[test]
fn the_table_is_consistent() {
    assert_eq!(FRAMES.len(), 22);
    for (i, f) in FRAMES.iter().enumerate() {
        assert_eq!(frame_info(f.opcode), Some(f));
        assert_eq!(opcode_name(f.opcode), Some(f.name));
        if i > 0 {
            assert!(FRAMES[i - 1].opcode < f.opcode, "opcode order");
        }
        // protocol.md §4: 0x01-0x7F client → server, 0x80-0xFF server →
        // client, except PING and PONG.
        let want = match f.opcode {
            op::PING | op::PONG => Direction::Both,
            0x01..=0x7f => Direction::ClientToServer,
            _ => Direction::ServerToClient,
        };
        assert_eq!(f.direction, want, "{}", f.name);
    }
    assert_eq!((0..=255u8).filter(|o| frame_info(*o).is_some()).count(), 22);
}

#[test]
fn every_sample_decodes_only_in_its_direction() {
    for f in common::samples() {
        let body = common::body(&f);
        let dir = direction(f.opcode()).unwrap();
        let req = Frame::decode_request(f.opcode(), body.clone());
        let rep = Frame::decode_reply(f.opcode(), body.clone());
        match dir {
            Direction::Both => {
                assert_eq!(req.as_ref(), Ok(&f));
                assert_eq!(rep.as_ref(), Ok(&f));
            }
            Direction::ClientToServer => {
                assert_eq!(req.as_ref(), Ok(&f));
                assert_eq!(rep, Err(DecodeError::UnknownOpcode(f.opcode())));
            }
            Direction::ServerToClient => {
                assert_eq!(req, Err(DecodeError::UnknownOpcode(f.opcode())));
                assert_eq!(rep.as_ref(), Ok(&f));
            }
        }
    }
}

#[test]
fn codecs_by_direction_skip_the_other_sides_frames() {
    let welcome = Frame::Welcome(Default::default());
    let mut buf = BytesMut::from(&welcome.to_bytes()[..]);
    Frame::Ping(3).encode(&mut buf);
    let mut server = Codec::requests(1 << 20);
    assert_eq!(server.accept(), Accept::Requests);
    match server.decode(&mut buf) {
        Err(CodecError::Decode(DecodeError::UnknownOpcode(op::WELCOME))) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(server.decode(&mut buf).unwrap(), Some(Frame::Ping(3)));

    let hello = Frame::Hello(Default::default());
    let mut buf = BytesMut::from(&hello.to_bytes()[..]);
    let mut client = Codec::replies(1 << 20);
    match client.decode(&mut buf) {
        Err(CodecError::Decode(DecodeError::UnknownOpcode(op::HELLO))) => {}
        other => panic!("{other:?}"),
    }
    assert!(buf.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any opcode and body: decode_request never panics, and a server →
    /// client or unassigned opcode is UnknownOpcode whatever the body.
    #[test]
    fn decode_request_never_panics(opcode in any::<u8>(), body in prop::collection::vec(any::<u8>(), 0..200)) {
        let r = Frame::decode_request(opcode, Bytes::from(body.clone()));
        match direction(opcode) {
            None | Some(Direction::ServerToClient) => {
                prop_assert_eq!(r, Err(DecodeError::UnknownOpcode(opcode)))
            }
            _ => {
                if let Ok(f) = r {
                    prop_assert_eq!(f.opcode(), opcode);
                }
            }
        }
        let r = Frame::decode_reply(opcode, Bytes::from(body));
        if matches!(direction(opcode), None | Some(Direction::ClientToServer)) {
            prop_assert_eq!(r, Err(DecodeError::UnknownOpcode(opcode)));
        }
    }

    /// Any byte stream through a server's codec: never panics, and yields
    /// only frames a client may send.
    #[test]
    fn request_codec_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut buf = BytesMut::from(&bytes[..]);
        let mut codec = Codec::requests(1024);
        for _ in 0..64 {
            match codec.decode(&mut buf) {
                Ok(None) => break,
                Ok(Some(f)) => prop_assert_ne!(direction(f.opcode()), Some(Direction::ServerToClient)),
                Err(CodecError::Decode(e)) if e.is_stream_fatal() => break,
                Err(_) => {}
            }
        }
    }

    /// encode → decode in the frame's own direction round-trips: server
    /// frames through decode_reply, client frames through decode_request.
    #[test]
    fn encode_then_directional_decode_round_trips(f in frame()) {
        let bytes = f.to_bytes();
        let mut buf = raw_frame(bytes[4], &bytes[5..]);
        let mut codec = match direction(f.opcode()).unwrap() {
            Direction::ServerToClient | Direction::Both => Codec::replies(1 << 24),
            Direction::ClientToServer => Codec::requests(1 << 24),
        };
        prop_assert_eq!(codec.decode(&mut buf).unwrap(), Some(f));
        prop_assert!(buf.is_empty());
    }
}
