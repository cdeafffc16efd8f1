//! Property tests: every frame the encoder writes decodes back to itself,
//! alone, back to back with others, and however the byte stream is split
//! into reads.

mod common;

use bytes::BytesMut;
use common::{frame, variant, VARIANTS};
use proptest::prelude::*;
use spate_proto::{Codec, Frame};
use tokio_util::codec::{Decoder, Encoder};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// encode → decode gives the same frame and consumes exactly its bytes.
    #[test]
    fn every_frame_round_trips(f in frame()) {
        let mut codec = Codec::default();
        let mut buf = BytesMut::new();
        codec.encode(f.clone(), &mut buf).unwrap();
        let len = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
        prop_assert_eq!(len + 4, buf.len(), "length prefix counts opcode + body");
        prop_assert_eq!(buf[4], f.opcode());
        let back = codec.decode(&mut buf).unwrap().expect("a whole frame");
        prop_assert_eq!(&back, &f);
        prop_assert!(buf.is_empty());
        // Canonical: re-encoding the decoded frame gives the same bytes.
        prop_assert_eq!(back.to_bytes(), f.to_bytes());
    }

    /// A stream of frames, delivered in arbitrary chunk sizes, decodes to
    /// the same frames in order; an incomplete frame never yields anything.
    #[test]
    fn stream_split_anywhere_decodes_in_order(
        frames in prop::collection::vec(frame(), 1..6),
        chunks in prop::collection::vec(1usize..64, 1..64),
    ) {
        let mut wire = BytesMut::new();
        for f in &frames {
            f.encode(&mut wire);
        }
        let wire = wire.freeze();
        let mut codec = Codec::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut pos = 0;
        let mut sizes = chunks.iter().cycle();
        while pos < wire.len() {
            let n = (*sizes.next().unwrap()).min(wire.len() - pos);
            buf.extend_from_slice(&wire[pos..pos + n]);
            pos += n;
            while let Some(f) = codec.decode(&mut buf).unwrap() {
                out.push(f);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(out, frames);
    }
}

/// The strategy reaches every variant (guards against a strategy arm being
/// dropped while `variant` still lists it).
#[test]
fn strategy_covers_every_variant() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = frame();
    let mut seen = [false; VARIANTS];
    for _ in 0..5000 {
        let f: Frame = strategy.new_tree(&mut runner).unwrap().current();
        seen[variant(&f).0] = true;
    }
    let missing: Vec<usize> = (0..VARIANTS).filter(|&i| !seen[i]).collect();
    assert!(missing.is_empty(), "variants never generated: {missing:?}");
}
