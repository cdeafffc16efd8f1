//! Encoders never panic on lengths a peer controls (issue #12.6): a `str`
//! longer than 65,535 bytes is clamped by [`Frame::encode`] (still a
//! well-formed frame) and reported by [`Frame::try_encode`]; ERROR texts
//! are capped at [`MAX_ERROR_TEXT`] bytes and quote client strings only as
//! a short prefix.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use spate_proto::message::StateChange;
use spate_proto::{
    cap_text, quote_prefix, Codec, EncodeError, ErrorCode, Frame, Gap, GapReason, Message,
    StateEntry, Text, MAX_ERROR_TEXT,
};
use tokio_util::codec::Encoder;

/// A client-controlled string: one repeated char (ASCII, a quote that
/// escaping doubles, a control char, 2- and 4-byte UTF-8) up to well past
/// what a `str` field holds.
fn client_string() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just('a'), Just('"'), Just('\u{1}'), Just('é'), Just('😀')],
        prop_oneof![0usize..1_000, 60_000usize..70_000],
    )
        .prop_map(|(c, n)| std::iter::repeat_n(c, n / c.len_utf8()).collect())
}

/// The frames a server builds that carry client strings.
fn server_frames(s: &str) -> Vec<Frame> {
    let code = ErrorCode::InvalidTopic;
    vec![
        Frame::error(code, 1, format!("invalid topic {}: bad", quote_prefix(s))),
        Frame::error(code, 1, s.to_string()),
        Frame::Error {
            code: 201,
            reference: 1,
            message: Text::from(s),
            ref_kind: None,
        },
        Frame::Gap(Gap {
            sub_id: 1,
            reason: GapReason::Conflated,
            count: 1,
            first_seq: 1,
            last_seq: 1,
            topic: Text::from(s),
        }),
        Frame::Message {
            sub_id: 2,
            message: Message {
                epoch: 1,
                seq: 1,
                timestamp_us: 1,
                state: Some(StateChange::Put),
                topic: Text::from(s),
                key: Some(Text::from(s)),
                headers: vec![(Text::from(s), Text::from(s))],
                payload: Bytes::from_static(b"p"),
            },
        },
        Frame::StateListReply {
            request_id: 3,
            more: false,
            entries: vec![StateEntry {
                key: Text::from(s),
                revision: 1,
                value: Bytes::new(),
            }],
        },
        Frame::GoAway {
            drain_ms: 1,
            reason: Text::from(s),
        },
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn encoding_server_frames_from_any_client_string_never_panics(s in client_string()) {
        for f in server_frames(&s) {
            let bytes = f.to_bytes();
            // Well-formed whatever happened: it decodes as one frame.
            let back = Frame::decode_reply(bytes[4], bytes.slice(5..));
            prop_assert!(back.is_ok(), "{:?}", back.err());
            let mut dst = BytesMut::from(&b"keep"[..]);
            let exact = f.try_encode(&mut dst);
            // Frame::error caps its text; everything else carries `s` whole.
            let capped = matches!(f, Frame::Error { ref_kind: Some(_), .. });
            if s.len() > 65_535 && !capped {
                let is_too_long = matches!(exact, Err(EncodeError::TooLong { .. }));
                prop_assert!(is_too_long);
                prop_assert_eq!(&dst[..], b"keep");
            } else {
                prop_assert!(exact.is_ok());
                prop_assert_eq!(&dst[4..], &bytes[..]);
                prop_assert_eq!(back.unwrap(), f.clone());
            }
            if let (Frame::Error { message, .. }, true) = (&f, capped) {
                prop_assert!(message.len() <= MAX_ERROR_TEXT);
            }
        }
    }
}

#[test]
fn an_over_long_str_is_clamped_on_a_char_boundary() {
    let s = "😀".repeat(20_000); // 80,000 bytes
    let f = Frame::GoAway {
        drain_ms: 0,
        reason: Text::from(s.as_str()),
    };
    let b = f.to_bytes();
    match Frame::decode_reply(b[4], b.slice(5..)).unwrap() {
        Frame::GoAway { reason, .. } => {
            assert_eq!(reason.len(), 65_532, "16,383 whole 4-byte chars");
            assert!(s.starts_with(reason.as_str()));
        }
        other => panic!("{other:?}"),
    }
    let mut dst = BytesMut::new();
    assert_eq!(
        f.try_encode(&mut dst),
        Err(EncodeError::TooLong {
            field: "reason",
            len: 80_000,
            max: 65_535
        })
    );
    assert!(dst.is_empty());
    let e = Codec::default().encode(f, &mut dst).unwrap_err();
    assert!(e.to_string().contains("reason"), "{e}");
    assert!(dst.is_empty());
}

#[test]
fn error_texts_are_capped_in_frame_error() {
    let f = Frame::error(ErrorCode::Internal, 0, "é".repeat(1000));
    let Frame::Error { message, .. } = f else {
        unreachable!()
    };
    assert!(message.len() <= MAX_ERROR_TEXT);
    assert!(message.ends_with('…'));
    assert_eq!(cap_text("short".into(), MAX_ERROR_TEXT), "short");
    let exact = "x".repeat(MAX_ERROR_TEXT);
    assert_eq!(cap_text(exact.clone(), MAX_ERROR_TEXT), exact);
    let over = cap_text("x".repeat(MAX_ERROR_TEXT + 1), MAX_ERROR_TEXT);
    assert_eq!(over.len(), MAX_ERROR_TEXT);
    assert!(over.ends_with('…'));
}

#[test]
fn client_strings_are_quoted_as_a_short_prefix() {
    assert_eq!(quote_prefix("orders.*"), "\"orders.*\"");
    let q = quote_prefix(&"\"".repeat(40_000));
    assert!(q.len() < 200, "{q}");
    assert!(q.ends_with("… (40000 bytes)"), "{q}");
    // Cut on a char boundary, never inside one.
    let q = quote_prefix(&"é".repeat(100));
    assert!(q.starts_with("\"éé") && q.contains("…"), "{q}");
}
