//! Property tests: a PUBLISH read in place ([`Codec::peek_publish`]) agrees
//! with the ordinary decoder whenever it accepts a frame, accepts every
//! well-formed PUBLISH without headers, and leaves everything else alone.

mod common;

use bytes::{Bytes, BytesMut};
use common::{frame, publish, raw_frame};
use proptest::prelude::*;
use spate_proto::{op, Codec, Frame, PublishRef};

/// What the ordinary path makes of the first frame of `wire`, if it is a
/// PUBLISH, and the bytes it took.
fn decoded(codec: &Codec, wire: &[u8]) -> Option<(spate_proto::Publish, usize)> {
    let mut buf = BytesMut::from(wire);
    let (opcode, body) = codec.split_frame(&mut buf).ok()??;
    let used = wire.len() - buf.len();
    match Frame::decode(opcode, body) {
        Ok(Frame::Publish(p)) => Some((p, used)),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Valid PUBLISH frames: read in place exactly when they have no
    /// headers, and then to the same fields and length.
    #[test]
    fn in_place_publish_matches_decode(p in publish(), trailing in prop::collection::vec(any::<u8>(), 0..16)) {
        let codec = Codec::default();
        let mut wire = Frame::Publish(p.clone()).to_bytes().to_vec();
        let len = wire.len();
        wire.extend_from_slice(&trailing);
        match codec.peek_publish(&wire) {
            Some((r, used)) => {
                prop_assert!(p.headers.is_empty());
                prop_assert_eq!(used, len);
                prop_assert_eq!(r, PublishRef::from(&p));
            }
            None => prop_assert!(!p.headers.is_empty()),
        }
    }

    /// Any frame at all, and random PUBLISH bodies: whatever is accepted in
    /// place decodes the ordinary way to the same thing.
    #[test]
    fn in_place_never_accepts_what_decode_rejects(
        f in frame(),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let codec = Codec::default();
        for wire in [f.to_bytes(), raw_frame(op::PUBLISH, &body).freeze()] {
            if let Some((r, used)) = codec.peek_publish(&wire) {
                let (p, took) = decoded(&codec, &wire).expect("the ordinary decoder accepts it");
                prop_assert_eq!(used, took);
                prop_assert_eq!(r, PublishRef::from(&p));
            }
        }
    }

    /// An incomplete frame is never read in place.
    #[test]
    fn incomplete_frames_wait(p in publish(), cut in any::<prop::sample::Index>()) {
        let wire = Frame::Publish(p).to_bytes();
        let cut = cut.index(wire.len());
        prop_assert!(Codec::default().peek_publish(&wire[..cut]).is_none());
    }
}

#[test]
fn oversize_and_empty_frames_are_left_to_the_codec() {
    let codec = Codec::new(16);
    let big = Frame::Publish(spate_proto::Publish {
        topic: common::t("a.topic.name"),
        payload: Bytes::from_static(b"0123456789"),
        ..Default::default()
    })
    .to_bytes();
    assert!(codec.peek_publish(&big).is_none(), "over max_frame");
    assert!(
        codec.peek_publish(&[0, 0, 0, 0, op::PUBLISH]).is_none(),
        "zero length"
    );
}
