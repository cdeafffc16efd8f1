//! The SUBSCRIBE options block (TLV) decoder, fed arbitrary blocks: the
//! input is everything after the pattern of a SUBSCRIBE body, so it starts
//! with the block's u16 length, which may disagree with the bytes that
//! follow. No input may panic; a block that decodes must re-encode to one
//! that decodes to the same options, and the decoded options must obey
//! protocol.md §3 / §8.2.
#![no_main]

use bytes::{BufMut, BytesMut};
use libfuzzer_sys::fuzz_target;
use spate_proto::{op, Frame};

fuzz_target!(|data: &[u8]| {
    let mut body = BytesMut::new();
    body.put_u32(1);
    body.put_u16(3);
    body.put_slice(b"a.b");
    body.put_slice(data);
    let Ok(frame) = Frame::decode(op::SUBSCRIBE, body.freeze()) else {
        return;
    };
    let Frame::Subscribe { options, .. } = &frame else {
        panic!("SUBSCRIBE decoded as {frame:?}");
    };
    for &t in &options.unknown_critical {
        assert!(
            t < 0x80 && !(0x01..=0x09).contains(&t),
            "tag 0x{t:02x} reported as unknown critical"
        );
    }
    let bytes = frame.to_bytes();
    let again = Frame::decode(bytes[4], bytes.slice(5..)).expect("re-encoded options decode");
    assert_eq!(again, frame, "options round trip changed them");
});
