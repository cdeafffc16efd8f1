//! Arbitrary bytes through the codec's framing and `Frame::decode`, as a
//! server or client reads them: no input may panic. Every frame that
//! decodes must re-encode to bytes that decode to the same frame and
//! re-encode identically (the encoder's form is canonical), and the
//! in-place PUBLISH reader must agree with the ordinary decoder.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use spate_proto::{Codec, Frame};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    // A small limit, so that FRAME_TOO_LARGE is reachable too.
    let codec = Codec::new(64 * 1024);

    if let Some((p, len)) = codec.peek_publish(data) {
        let mut buf = BytesMut::from(&data[..len]);
        let (op, body) = codec
            .split_frame(&mut buf)
            .expect("peek_publish accepted a bad frame")
            .expect("peek_publish accepted an incomplete frame");
        match Frame::decode(op, body) {
            Ok(Frame::Publish(q)) => {
                assert_eq!(p.request_id, q.request_id);
                assert_eq!(p.ack, q.ack);
                assert_eq!(p.topic, q.topic.as_str());
                assert_eq!(p.key, q.key.as_ref().map(|k| k.as_str()));
                assert_eq!(p.headers, &q.headers[..]);
                assert_eq!(p.payload, &q.payload[..]);
            }
            other => panic!("peek_publish read a PUBLISH the decoder reads as {other:?}"),
        }
    }

    let mut codec = codec;
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = codec.decode(&mut buf) {
        let bytes = frame.to_bytes();
        let mut again = BytesMut::from(&bytes[..]);
        let decoded = Codec::new(usize::MAX)
            .decode(&mut again)
            .unwrap_or_else(|e| panic!("re-encoded {frame:?} does not decode: {e}"))
            .expect("re-encoded frame is incomplete");
        assert!(again.is_empty(), "re-encoded frame has bytes left over");
        assert_eq!(decoded, frame, "round trip changed the frame");
        assert_eq!(decoded.to_bytes(), bytes, "encoding is not canonical");
    }
});
