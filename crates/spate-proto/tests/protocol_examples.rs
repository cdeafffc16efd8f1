//! Decodes every worked hex example in `protocol.md` with the real
//! [`Codec`] and compares it, field by field, with the frame the example
//! claims to show — so the specification and the code cannot drift.
//!
//! # Example format in protocol.md
//!
//! - An example is a fenced code block whose opening fence is exactly
//!   ```` ```hex ````.
//! - The nearest non-blank line before the fence is the *label line*. It
//!   starts with `**Example `ID`**` and contains `frame `NAME``, where `ID`
//!   names the example (looked up in [`expected`] below) and `NAME` is the
//!   frame's opcode name as returned by `opcode_name`, e.g.
//!   ``**Example `hello`** — frame `HELLO` (19 bytes): …``.
//! - Each line of the block holds hex byte pairs separated by whitespace,
//!   optionally followed by `#` and a comment (ignored). Blank lines are
//!   ignored.
//! - The block holds exactly one whole frame: length prefix, opcode, body.
//!
//! The test fails if an example does not decode, decodes to other field
//! values, leaves bytes over, names the wrong frame, is not byte-identical
//! to what the encoder writes for the expected frame, or if an example and
//! its expectation are not both present.

mod spec_examples;

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use spate_proto::{
    opcode_name, Codec, Condition, ErrorCode, Frame, GapReason, Hello, Message, Policy, Publish,
    Start, StartStatus, StateReply, StateStatus, SubscribeOptions, Subscribed, Text, Welcome,
};
use tokio_util::codec::Decoder;

use spec_examples::examples;

/// Epoch of `orders.eu` in the examples.
const EPOCH: u64 = 0x1b2c_3d4e_5f60_7182;
/// Timestamp of seq 42, µs since the Unix epoch.
const TS: u64 = 1_700_000_000_123_456;

fn t(s: &str) -> Text {
    Text::from(s)
}

fn b(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

/// What each example in protocol.md must decode to.
fn expected() -> BTreeMap<&'static str, Frame> {
    let order = |seq: u64, ts: u64, payload: &'static [u8]| Message {
        epoch: EPOCH,
        seq,
        timestamp_us: ts,
        state: None,
        topic: t("orders.eu"),
        key: None,
        headers: vec![],
        payload: b(payload),
    };
    BTreeMap::from([
        (
            "hello",
            Frame::Hello(Hello {
                version: 1,
                flags: 0,
                client_name: t("demo"),
                auth_token: t(""),
            }),
        ),
        (
            "welcome",
            Frame::Welcome(Welcome {
                version: 1,
                server: t("spate 0.1.0"),
                server_id: 0x0123_4567_89ab_cdef,
                max_frame: 1_114_112,
                max_subscriptions: 10_000,
                max_topic_len: 256,
                ping_interval_ms: 30_000,
            }),
        ),
        ("ping", Frame::Ping(42)),
        (
            "publish",
            Frame::Publish(Publish {
                request_id: 7,
                ack: true,
                topic: t("orders.eu"),
                key: Some(t("o-17")),
                headers: vec![],
                payload: b(br#"{"id":17}"#),
            }),
        ),
        (
            "publish-headers",
            Frame::Publish(Publish {
                request_id: 8,
                ack: false,
                topic: t("logs.app"),
                key: None,
                headers: vec![(t("content-type"), t("text/plain"))],
                payload: b(b"hi"),
            }),
        ),
        (
            "pub-ack",
            Frame::PubAck {
                request_id: 7,
                epoch: EPOCH,
                seq: 42,
                timestamp_us: TS,
                receivers: 2,
            },
        ),
        (
            "subscribe",
            Frame::Subscribe {
                sub_id: 1,
                pattern: t("orders.eu"),
                options: SubscribeOptions {
                    policy: Some(Policy::DropNewest),
                    queue_msgs: Some(500),
                    start: Start::FromSeq {
                        seq: 40,
                        epoch: EPOCH,
                    },
                    ..Default::default()
                },
            },
        ),
        (
            "subscribe-defaults",
            Frame::Subscribe {
                sub_id: 2,
                pattern: t("orders.>"),
                options: SubscribeOptions::default(),
            },
        ),
        (
            "subscribed",
            Frame::Subscribed(Subscribed {
                sub_id: 1,
                policy: Policy::DropNewest,
                queue_msgs: 500,
                queue_bytes: 8 * 1024 * 1024,
                start: StartStatus::Replay,
                epoch: EPOCH,
                first_seq: 40,
                last_seq: 42,
            }),
        ),
        (
            "message",
            Frame::Message {
                sub_id: 1,
                message: Message {
                    key: Some(t("o-17")),
                    ..order(42, TS, br#"{"id":17}"#)
                },
            },
        ),
        (
            "message-batch",
            Frame::MessageBatch {
                sub_id: 2,
                messages: vec![order(43, TS + 1, b"a"), order(44, TS + 2, b"b")],
            },
        ),
        (
            "gap",
            Frame::Gap(spate_proto::Gap {
                sub_id: 1,
                reason: GapReason::DroppedNewest,
                count: 3,
                first_seq: 43,
                last_seq: 45,
                topic: t("orders.eu"),
            }),
        ),
        (
            "error",
            Frame::error(ErrorCode::InvalidTopic, 9, "wildcard in topic: orders.*"),
        ),
        (
            "state-put",
            Frame::StatePut {
                request_id: 10,
                topic: t("cfg"),
                key: t("mode"),
                condition: Condition::IfRevision(42),
                value: b(b"fast"),
            },
        ),
        (
            "state-reply",
            Frame::StateReply(StateReply {
                request_id: 10,
                status: StateStatus::Conflict,
                revision: 45,
                value: Some(b(b"slow")),
            }),
        ),
        (
            "goaway",
            Frame::GoAway {
                drain_ms: 5000,
                reason: t("shutting down"),
            },
        ),
        (
            "hello-token",
            Frame::Hello(Hello {
                version: 1,
                flags: 0,
                client_name: t("demo"),
                auth_token: t("alice:s3cret"),
            }),
        ),
        (
            "error-not-authorized",
            Frame::error(
                ErrorCode::NotAuthorized,
                7,
                "not permitted to publish to \"billing.eu\"",
            ),
        ),
    ])
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn protocol_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../protocol.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

#[test]
fn every_hex_example_decodes_to_its_expected_frame() {
    let doc = protocol_md();
    let found = examples(&doc);
    let mut expected = expected();
    let mut codec = Codec::default();
    for ex in &found {
        let want = expected.remove(ex.id.as_str()).unwrap_or_else(|| {
            panic!(
                "protocol.md:{}: example `{}` has no expectation in this test (or appears twice)",
                ex.line, ex.id
            )
        });
        let mut buf = BytesMut::from(&ex.bytes[..]);
        let got = codec
            .decode(&mut buf)
            .unwrap_or_else(|e| {
                panic!(
                    "protocol.md:{}: example `{}` does not decode: {e}",
                    ex.line, ex.id
                )
            })
            .unwrap_or_else(|| {
                panic!(
                    "protocol.md:{}: example `{}` is an incomplete frame",
                    ex.line, ex.id
                )
            });
        assert!(
            buf.is_empty(),
            "protocol.md:{}: example `{}` has {} bytes after the frame",
            ex.line,
            ex.id,
            buf.len()
        );
        assert_eq!(
            opcode_name(got.opcode()),
            Some(ex.frame_name.as_str()),
            "protocol.md:{}: example `{}` is labelled {}",
            ex.line,
            ex.id,
            ex.frame_name
        );
        assert_eq!(
            got, want,
            "protocol.md:{}: example `{}` decodes to other field values",
            ex.line, ex.id
        );
        let encoded = want.to_bytes();
        assert_eq!(
            hex(&ex.bytes),
            hex(&encoded),
            "protocol.md:{}: example `{}` differs from the encoder's output",
            ex.line,
            ex.id
        );
    }
    let missing: Vec<_> = expected.keys().collect();
    assert!(
        missing.is_empty(),
        "examples expected but not found in protocol.md: {missing:?}"
    );
}

#[test]
fn examples_cover_the_frames_the_spec_promises() {
    let doc = protocol_md();
    let names: Vec<String> = examples(&doc).into_iter().map(|e| e.frame_name).collect();
    for required in [
        "HELLO",
        "WELCOME",
        "PUBLISH",
        "SUBSCRIBE",
        "MESSAGE",
        "GAP",
        "ERROR",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "no worked example of {required}"
        );
    }
    assert!(names.len() >= 7);
}

#[test]
fn the_extractor_rejects_a_mislabelled_block() {
    // A hex block must be labelled; this guards the extractor itself.
    let doc = "text\n\n```hex\n00 00 00 09 02 00 00 00 00 00 00 00 2a\n```\n";
    let r = std::panic::catch_unwind(|| examples(doc));
    assert!(r.is_err());
    let doc = "**Example `x`** — frame `PING` (13 bytes)\n\n```hex\n00 00 00 09 # len\n02\n00 00 00 00 00 00 00 2a\n```\n";
    let ex = examples(doc);
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].bytes.len(), 13);
    assert_eq!(ex[0].frame_name, "PING");
}
