//! Shared helpers for the spate-proto integration tests: proptest
//! strategies that generate every [`Frame`] variant with arbitrary field
//! values (within what the encoder can represent), and small decode helpers.
//!
//! Each test binary compiles this module separately and uses only part of
//! it, hence the `dead_code` allowance.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use spate_proto::{
    Codec, CodecError, Condition, DecodeError, ErrorCode, Frame, Gap, GapReason, Hello, Message,
    Policy, Publish, RefKind, Start, StartStatus, StateChange, StateEntry, StateReply, StateStatus,
    SubscribeOptions, Subscribed, Text, Welcome,
};
use tokio_util::codec::Decoder;

/// Shorthand for a [`Text`] literal.
pub fn t(s: &str) -> Text {
    Text::from(s)
}

/// Arbitrary UTF-8 text (any `char`, including control characters and
/// multi-byte ones), short enough to keep cases fast.
pub fn text() -> impl Strategy<Value = Text> {
    prop::collection::vec(any::<char>(), 0..12)
        .prop_map(|v| Text::from(v.into_iter().collect::<String>()))
}

/// Arbitrary opaque bytes.
pub fn payload() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..48).prop_map(Bytes::from)
}

/// Up to a few headers (the wire allows up to 64).
pub fn headers() -> impl Strategy<Value = Vec<(Text, Text)>> {
    prop::collection::vec((text(), text()), 0..4)
}

pub fn publish() -> impl Strategy<Value = Publish> {
    (
        any::<u32>(),
        any::<bool>(),
        text(),
        prop::option::of(text()),
        headers(),
        payload(),
    )
        .prop_map(|(request_id, ack, topic, key, headers, payload)| Publish {
            request_id,
            ack,
            topic,
            key,
            headers,
            payload,
        })
}

pub fn message() -> impl Strategy<Value = Message> {
    let state = prop::option::of(prop_oneof![
        Just(StateChange::Put),
        Just(StateChange::Delete)
    ]);
    (
        (any::<u64>(), any::<u64>(), any::<u64>(), state),
        (text(), prop::option::of(text()), headers(), payload()),
    )
        .prop_map(
            |((epoch, seq, timestamp_us, state), (topic, key, headers, payload))| Message {
                epoch,
                seq,
                timestamp_us,
                state,
                topic,
                key,
                headers,
                payload,
            },
        )
}

pub fn policy() -> impl Strategy<Value = Policy> {
    prop::sample::select(Policy::ALL.to_vec())
}

pub fn start() -> impl Strategy<Value = Start> {
    prop_oneof![
        Just(Start::New),
        (any::<u64>(), any::<u64>()).prop_map(|(seq, epoch)| Start::FromSeq { seq, epoch }),
        any::<u32>().prop_map(Start::LastN),
        Just(Start::Snapshot),
    ]
}

/// Options as the encoder writes them. Unknown critical tags are distinct
/// and outside the v1 range, so they survive a round trip (the decoder
/// keeps them for the server to reject; unknown advisory tags are skipped
/// and therefore not generated here).
pub fn options() -> impl Strategy<Value = SubscribeOptions> {
    (
        (
            prop::option::of(policy()),
            prop::option::of(any::<u32>()),
            prop::option::of(any::<u64>()),
        ),
        (
            prop::option::of(any::<u32>()),
            prop::option::of(any::<u16>()),
            prop::option::of(any::<u32>()),
        ),
        start(),
        prop::collection::btree_set(0x0Au8..0x80, 0..3),
    )
        .prop_map(
            |(
                (policy, queue_msgs, queue_bytes),
                (max_rate, max_batch, linger_us),
                start,
                unknown,
            )| {
                SubscribeOptions {
                    policy,
                    queue_msgs,
                    queue_bytes,
                    max_rate,
                    max_batch,
                    linger_us,
                    start,
                    unknown_critical: unknown.into_iter().collect(),
                }
            },
        )
}

pub fn condition() -> impl Strategy<Value = Condition> {
    prop_oneof![
        Just(Condition::None),
        any::<u64>().prop_map(Condition::IfRevision),
        Just(Condition::IfAbsent),
    ]
}

pub fn start_status() -> impl Strategy<Value = StartStatus> {
    prop::sample::select(vec![
        StartStatus::Live,
        StartStatus::Replay,
        StartStatus::Truncated,
        StartStatus::EpochChanged,
        StartStatus::Snapshot,
    ])
}

pub fn gap_reason() -> impl Strategy<Value = GapReason> {
    prop::sample::select(vec![
        GapReason::DroppedOldest,
        GapReason::DroppedNewest,
        GapReason::Conflated,
        GapReason::MemoryBudget,
        GapReason::NotRetained,
    ])
}

pub fn state_status() -> impl Strategy<Value = StateStatus> {
    prop::sample::select(vec![
        StateStatus::Ok,
        StateStatus::Conflict,
        StateStatus::NotFound,
    ])
}

/// Any frame of protocol v1. Keep in step with [`variant`]: that function's
/// exhaustive match fails to compile when a variant is added.
pub fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (any::<u16>(), any::<u32>(), text(), text()).prop_map(
            |(version, flags, client_name, auth_token)| {
                Frame::Hello(Hello {
                    version,
                    flags,
                    client_name,
                    auth_token,
                })
            }
        ),
        any::<u64>().prop_map(Frame::Ping),
        any::<u64>().prop_map(Frame::Pong),
        publish().prop_map(Frame::Publish),
        prop::collection::vec(publish(), 0..4).prop_map(Frame::PublishBatch),
        (any::<u32>(), text(), options()).prop_map(|(sub_id, pattern, options)| Frame::Subscribe {
            sub_id,
            pattern,
            options
        }),
        any::<u32>().prop_map(|sub_id| Frame::Unsubscribe { sub_id }),
        (any::<u32>(), text(), text(), condition(), payload()).prop_map(
            |(request_id, topic, key, condition, value)| Frame::StatePut {
                request_id,
                topic,
                key,
                condition,
                value
            }
        ),
        (any::<u32>(), text(), text(), condition()).prop_map(
            |(request_id, topic, key, condition)| Frame::StateDel {
                request_id,
                topic,
                key,
                condition
            }
        ),
        (any::<u32>(), text(), text()).prop_map(|(request_id, topic, key)| Frame::StateGet {
            request_id,
            topic,
            key
        }),
        (any::<u32>(), text(), text(), any::<u32>()).prop_map(
            |(request_id, topic, after, limit)| Frame::StateList {
                request_id,
                topic,
                after,
                limit
            }
        ),
        (
            any::<u16>(),
            text(),
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
            any::<u16>(),
            any::<u32>()
        )
            .prop_map(
                |(
                    version,
                    server,
                    server_id,
                    max_frame,
                    max_subscriptions,
                    max_topic_len,
                    ping_interval_ms,
                )| {
                    Frame::Welcome(Welcome {
                        version,
                        server,
                        server_id,
                        max_frame,
                        max_subscriptions,
                        max_topic_len,
                        ping_interval_ms,
                    })
                }
            ),
        (
            any::<u32>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u32>()
        )
            .prop_map(
                |(request_id, epoch, seq, timestamp_us, receivers)| Frame::PubAck {
                    request_id,
                    epoch,
                    seq,
                    timestamp_us,
                    receivers
                }
            ),
        (any::<u32>(), message()).prop_map(|(sub_id, message)| Frame::Message { sub_id, message }),
        (any::<u32>(), prop::collection::vec(message(), 0..4))
            .prop_map(|(sub_id, messages)| Frame::MessageBatch { sub_id, messages }),
        (
            (any::<u32>(), policy(), any::<u32>(), any::<u64>()),
            (start_status(), any::<u64>(), any::<u64>(), any::<u64>())
        )
            .prop_map(
                |(
                    (sub_id, policy, queue_msgs, queue_bytes),
                    (start, epoch, first_seq, last_seq),
                )| {
                    Frame::Subscribed(Subscribed {
                        sub_id,
                        policy,
                        queue_msgs,
                        queue_bytes,
                        start,
                        epoch,
                        first_seq,
                        last_seq,
                    })
                }
            ),
        any::<u32>().prop_map(|sub_id| Frame::Unsubscribed { sub_id }),
        (
            any::<u32>(),
            gap_reason(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            text()
        )
            .prop_map(
                |(sub_id, reason, count, first_seq, last_seq, topic)| Frame::Gap(Gap {
                    sub_id,
                    reason,
                    count,
                    first_seq,
                    last_seq,
                    topic
                })
            ),
        (
            any::<u32>(),
            state_status(),
            any::<u64>(),
            prop::option::of(payload())
        )
            .prop_map(|(request_id, status, revision, value)| Frame::StateReply(
                StateReply {
                    request_id,
                    status,
                    revision,
                    value
                }
            )),
        (
            any::<u32>(),
            any::<bool>(),
            prop::collection::vec(
                (text(), any::<u64>(), payload()).prop_map(|(key, revision, value)| StateEntry {
                    key,
                    revision,
                    value
                }),
                0..4
            )
        )
            .prop_map(|(request_id, more, entries)| Frame::StateListReply {
                request_id,
                more,
                entries
            }),
        (any::<u16>(), any::<u32>(), text(), ref_kind()).prop_map(
            |(code, reference, message, ref_kind)| Frame::Error {
                code,
                reference,
                message,
                ref_kind
            }
        ),
        (any::<u32>(), text()).prop_map(|(drain_ms, reason)| Frame::GoAway { drain_ms, reason }),
    ]
}

/// ERROR's optional reference kind: any kind, or absent (an older server).
pub fn ref_kind() -> impl Strategy<Value = Option<RefKind>> {
    prop::option::of(prop_oneof![
        Just(RefKind::Connection),
        Just(RefKind::Request),
        Just(RefKind::Subscription),
    ])
}

/// How a frame's decoder treats bytes after its last field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// The last field is `rest` (a payload or value): extra bytes extend it.
    Rest,
    /// Extensible frame: extra bytes are ignored.
    Extensible,
    /// Any extra byte is malformed.
    Strict,
}

/// The variant's index (for coverage accounting) and its tail rule. The
/// match is exhaustive on purpose: a new variant must be classified here.
pub fn variant(f: &Frame) -> (usize, Tail) {
    use Tail::*;
    match f {
        Frame::Hello(_) => (0, Extensible),
        Frame::Ping(_) => (1, Strict),
        Frame::Pong(_) => (2, Strict),
        Frame::Publish(_) => (3, Rest),
        Frame::PublishBatch(_) => (4, Strict),
        Frame::Subscribe { .. } => (5, Strict),
        Frame::Unsubscribe { .. } => (6, Strict),
        Frame::StatePut { .. } => (7, Rest),
        Frame::StateDel { .. } => (8, Strict),
        Frame::StateGet { .. } => (9, Strict),
        Frame::StateList { .. } => (10, Strict),
        Frame::Welcome(_) => (11, Extensible),
        Frame::PubAck { .. } => (12, Extensible),
        Frame::Message { .. } => (13, Rest),
        Frame::MessageBatch { .. } => (14, Strict),
        Frame::Subscribed(_) => (15, Extensible),
        Frame::Unsubscribed { .. } => (16, Strict),
        Frame::Gap(_) => (17, Extensible),
        Frame::StateReply(StateReply { value: Some(_), .. }) => (18, Rest),
        Frame::StateReply(StateReply { value: None, .. }) => (18, Strict),
        Frame::StateListReply { .. } => (19, Strict),
        Frame::Error { .. } => (20, Extensible),
        Frame::GoAway { .. } => (21, Extensible),
    }
}

/// Number of [`Frame`] variants.
pub const VARIANTS: usize = 22;

/// A frame's body: its encoding without the 4-byte length and the opcode.
pub fn body(f: &Frame) -> Bytes {
    f.to_bytes().slice(5..)
}

/// Wraps `body` into a frame with `opcode` and a correct length prefix.
pub fn raw_frame(opcode: u8, body: &[u8]) -> BytesMut {
    let mut b = BytesMut::new();
    b.extend_from_slice(&((body.len() + 1) as u32).to_be_bytes());
    b.extend_from_slice(&[opcode]);
    b.extend_from_slice(body);
    b
}

/// Decodes exactly one frame from `bytes` with a default codec and expects
/// it to be a decode error; returns that error.
pub fn decode_err(bytes: &[u8]) -> DecodeError {
    let mut buf = BytesMut::from(bytes);
    match Codec::default().decode(&mut buf) {
        Err(CodecError::Decode(e)) => e,
        other => panic!("expected a decode error, got {other:?}"),
    }
}

/// Decodes exactly one whole frame from `bytes` with a default codec,
/// asserting that it uses every byte.
pub fn decode_one(bytes: &[u8]) -> Frame {
    let mut buf = BytesMut::from(bytes);
    let f = Codec::default()
        .decode(&mut buf)
        .expect("valid frame")
        .expect("a complete frame");
    assert!(buf.is_empty(), "{} bytes left after the frame", buf.len());
    f
}

/// One sample of every variant, with non-empty rest fields where they exist.
pub fn samples() -> Vec<Frame> {
    let msg = Message {
        epoch: 1,
        seq: 2,
        timestamp_us: 3,
        state: None,
        topic: t("a.b"),
        key: Some(t("k")),
        headers: vec![(t("n"), t("v"))],
        payload: Bytes::from_static(b"pay"),
    };
    let publish = Publish {
        request_id: 5,
        ack: true,
        topic: t("a.b"),
        key: None,
        headers: vec![],
        payload: Bytes::from_static(b"pay"),
    };
    vec![
        Frame::Hello(Hello {
            version: 1,
            flags: 0,
            client_name: t("c"),
            auth_token: t(""),
        }),
        Frame::Ping(1),
        Frame::Pong(2),
        Frame::Publish(publish.clone()),
        Frame::PublishBatch(vec![publish.clone(), publish]),
        Frame::Subscribe {
            sub_id: 1,
            pattern: t("a.>"),
            options: SubscribeOptions {
                policy: Some(Policy::Conflate),
                ..Default::default()
            },
        },
        Frame::Unsubscribe { sub_id: 1 },
        Frame::StatePut {
            request_id: 1,
            topic: t("s"),
            key: t("k"),
            condition: Condition::IfAbsent,
            value: Bytes::from_static(b"v"),
        },
        Frame::StateDel {
            request_id: 1,
            topic: t("s"),
            key: t("k"),
            condition: Condition::IfRevision(4),
        },
        Frame::StateGet {
            request_id: 1,
            topic: t("s"),
            key: t("k"),
        },
        Frame::StateList {
            request_id: 1,
            topic: t("s"),
            after: t(""),
            limit: 10,
        },
        Frame::Welcome(Welcome {
            version: 1,
            server: t("spate"),
            server_id: 9,
            max_frame: 1000,
            max_subscriptions: 10,
            max_topic_len: 256,
            ping_interval_ms: 30_000,
        }),
        Frame::PubAck {
            request_id: 1,
            epoch: 2,
            seq: 3,
            timestamp_us: 4,
            receivers: 5,
        },
        Frame::Message {
            sub_id: 1,
            message: msg.clone(),
        },
        Frame::MessageBatch {
            sub_id: 1,
            messages: vec![msg.clone(), msg],
        },
        Frame::Subscribed(Subscribed {
            sub_id: 1,
            policy: Policy::Block,
            queue_msgs: 10,
            queue_bytes: 100,
            start: StartStatus::Snapshot,
            epoch: 1,
            first_seq: 2,
            last_seq: 3,
        }),
        Frame::Unsubscribed { sub_id: 1 },
        Frame::Gap(Gap {
            sub_id: 1,
            reason: GapReason::Conflated,
            count: 2,
            first_seq: 3,
            last_seq: 4,
            topic: t("a.b"),
        }),
        Frame::StateReply(StateReply {
            request_id: 1,
            status: StateStatus::Ok,
            revision: 3,
            value: None,
        }),
        Frame::StateReply(StateReply {
            request_id: 1,
            status: StateStatus::Ok,
            revision: 3,
            value: Some(Bytes::from_static(b"v")),
        }),
        Frame::StateListReply {
            request_id: 1,
            more: true,
            entries: vec![StateEntry {
                key: t("k"),
                revision: 3,
                value: Bytes::from_static(b"v"),
            }],
        },
        Frame::error(ErrorCode::InvalidTopic, 3, "bad"),
        Frame::GoAway {
            drain_ms: 100,
            reason: t("bye"),
        },
    ]
}
