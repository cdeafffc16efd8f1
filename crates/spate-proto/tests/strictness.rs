//! Unit tests for each strictness rule of protocol.md ("Decoder
//! strictness"): what the codec rejects, with which typed error, which wire
//! code that error maps to, and whether the stream survives it.

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::{body, decode_err, decode_one, raw_frame, samples, t, variant, Tail};
use spate_proto::options::tag;
use spate_proto::{
    op, Codec, CodecError, Condition, DecodeError, ErrorCode, Frame, Hello, Policy, Publish, Start,
    StateReply, StateStatus, SubscribeOptions, DEFAULT_MAX_FRAME,
};
use tokio_util::codec::Decoder;

fn invalid_field(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::Invalid { field, .. } => field,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

// ---------------------------------------------------------------- framing

#[test]
fn length_above_max_frame_is_rejected_from_the_prefix_alone() {
    let mut codec = Codec::new(100);
    // Only the 4-byte prefix has arrived: the decision needs no body.
    let mut buf = BytesMut::from(&101u32.to_be_bytes()[..]);
    let e = match codec.decode(&mut buf) {
        Err(CodecError::Decode(e)) => e,
        other => panic!("expected FrameTooLarge, got {other:?}"),
    };
    assert_eq!(e, DecodeError::FrameTooLarge { len: 101, max: 100 });
    assert_eq!(e.code(), ErrorCode::FrameTooLarge);
    assert!(e.is_stream_fatal());
    assert!(e.code().is_fatal());
}

#[test]
fn length_equal_to_max_frame_is_accepted() {
    let mut codec = Codec::new(9);
    let ping = Frame::Ping(7).to_bytes(); // length 9
    assert_eq!(&ping[..4], &9u32.to_be_bytes());
    let mut buf = BytesMut::from(&ping[..]);
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(Frame::Ping(7)));
}

#[test]
fn default_max_frame_is_one_mib_plus_64_kib() {
    assert_eq!(DEFAULT_MAX_FRAME, 1_114_112);
    let mut buf = BytesMut::from(&(DEFAULT_MAX_FRAME as u32 + 1).to_be_bytes()[..]);
    assert!(matches!(
        Codec::default().decode(&mut buf),
        Err(CodecError::Decode(DecodeError::FrameTooLarge { .. }))
    ));
    let mut buf = BytesMut::from(&(DEFAULT_MAX_FRAME as u32).to_be_bytes()[..]);
    assert!(Codec::default().decode(&mut buf).unwrap().is_none());
}

#[test]
fn zero_length_is_malformed_and_stream_fatal() {
    let e = decode_err(&[0, 0, 0, 0, 0x02]);
    assert_eq!(e, DecodeError::EmptyFrame);
    assert_eq!(e.code(), ErrorCode::MalformedFrame);
    assert!(e.is_stream_fatal());
}

#[test]
fn unknown_opcode_skips_exactly_one_frame() {
    let mut buf = raw_frame(0x7f, b"whatever");
    Frame::Ping(1).encode(&mut buf);
    let mut codec = Codec::default();
    match codec.decode(&mut buf) {
        Err(CodecError::Decode(e)) => {
            assert_eq!(e, DecodeError::UnknownOpcode(0x7f));
            assert_eq!(e.code(), ErrorCode::UnknownOpcode);
            assert!(!e.is_stream_fatal());
            assert!(!e.code().is_fatal());
        }
        other => panic!("expected UnknownOpcode, got {other:?}"),
    }
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(Frame::Ping(1)));
}

#[test]
fn every_unassigned_opcode_is_unknown() {
    for opcode in 0..=255u8 {
        let known = spate_proto::opcode_name(opcode).is_some();
        let r = Frame::decode(opcode, Bytes::new());
        assert_eq!(
            matches!(r, Err(DecodeError::UnknownOpcode(o)) if o == opcode),
            !known,
            "opcode 0x{opcode:02x}"
        );
    }
}

#[test]
fn truncated_field_names_the_field_and_sizes() {
    // PING with a 4-byte token instead of 8.
    let e = decode_err(&raw_frame(op::PING, &[0, 0, 0, 1]));
    assert_eq!(
        e,
        DecodeError::Truncated {
            frame: "PING",
            field: "token",
            needed: 8,
            available: 4
        }
    );
    assert_eq!(e.code(), ErrorCode::MalformedFrame);
    assert!(!e.is_stream_fatal());
}

#[test]
fn str_length_running_past_the_frame_is_truncated() {
    // STATE_GET whose topic claims 200 bytes but carries 3.
    let mut b = BytesMut::new();
    b.put_u32(1);
    b.put_u16(200);
    b.put_slice(b"abc");
    assert!(matches!(
        decode_err(&raw_frame(op::STATE_GET, &b)),
        DecodeError::Truncated {
            field: "topic",
            needed: 200,
            available: 3,
            ..
        }
    ));
}

// ----------------------------------------------------------------- flags

fn publish_body(flags: u8) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_u32(1);
    b.put_u8(flags);
    b.put_u16(1);
    b.put_slice(b"t");
    b
}

#[test]
fn publish_unknown_flag_bits_are_malformed() {
    for bit in [0x04u8, 0x08, 0x10, 0x20, 0x40] {
        let e = decode_err(&raw_frame(op::PUBLISH, &publish_body(bit)));
        assert_eq!(invalid_field(&e), "flags", "bit 0x{bit:02x}");
        assert_eq!(e.code(), ErrorCode::MalformedFrame);
    }
    // The three defined bits are accepted (headers with a count of 0).
    let mut b = publish_body(0x80 | 0x01 | 0x02);
    b.put_u16(1);
    b.put_slice(b"k");
    b.put_u16(0);
    match decode_one(&raw_frame(op::PUBLISH, &b)) {
        Frame::Publish(p) => {
            assert!(p.ack);
            assert_eq!(p.key.as_deref(), Some("k"));
            assert!(p.headers.is_empty());
            assert!(p.payload.is_empty());
        }
        f => panic!("{f:?}"),
    }
}

fn message_body(flags: u8) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_u32(9); // sub_id
    b.put_u64(1);
    b.put_u64(2);
    b.put_u64(3);
    b.put_u8(flags);
    b.put_u16(1);
    b.put_slice(b"t");
    b
}

#[test]
fn message_unknown_flag_bits_are_malformed() {
    for bit in [0x10u8, 0x20, 0x40, 0x80] {
        let e = decode_err(&raw_frame(op::MESSAGE, &message_body(bit)));
        assert_eq!(invalid_field(&e), "flags", "bit 0x{bit:02x}");
    }
}

#[test]
fn message_state_put_and_delete_together_are_malformed() {
    let e = decode_err(&raw_frame(op::MESSAGE, &message_body(0x04 | 0x08)));
    assert_eq!(invalid_field(&e), "flags");
}

#[test]
fn hello_flags_are_not_checked_by_the_codec() {
    // Reserved for future opt-ins: a v1 server ignores bits it does not know.
    let f = Frame::Hello(Hello {
        version: 1,
        flags: 0xdead_beef,
        client_name: t("x"),
        auth_token: t(""),
    });
    assert_eq!(decode_one(&f.to_bytes()), f);
}

// ----------------------------------------------------------------- UTF-8

#[test]
fn bad_utf8_in_any_str_field_is_malformed() {
    let bad = [0xffu8, 0xfe];
    // PUBLISH topic.
    let mut b = BytesMut::new();
    b.put_u32(1);
    b.put_u8(0);
    b.put_u16(2);
    b.put_slice(&bad);
    let e = decode_err(&raw_frame(op::PUBLISH, &b));
    assert_eq!(invalid_field(&e), "topic");
    assert_eq!(e.code(), ErrorCode::MalformedFrame);

    // HELLO client_name.
    let mut b = BytesMut::new();
    b.put_u16(1);
    b.put_u32(0);
    b.put_u16(2);
    b.put_slice(&bad);
    b.put_u16(0);
    assert_eq!(
        invalid_field(&decode_err(&raw_frame(op::HELLO, &b))),
        "client_name"
    );

    // PUBLISH header value.
    let mut b = publish_body(0x02);
    b.put_u16(1);
    b.put_u16(1);
    b.put_slice(b"n");
    b.put_u16(2);
    b.put_slice(&bad);
    assert_eq!(
        invalid_field(&decode_err(&raw_frame(op::PUBLISH, &b))),
        "header_value"
    );

    // A truncated multi-byte sequence is just as invalid: "é" is c3 a9.
    let mut b = BytesMut::new();
    b.put_u32(1);
    b.put_u16(1);
    b.put_slice(&[0xc3]);
    b.put_u16(0);
    assert_eq!(
        invalid_field(&decode_err(&raw_frame(op::STATE_GET, &b))),
        "topic"
    );
}

#[test]
fn payloads_need_not_be_utf8() {
    let mut b = publish_body(0);
    b.put_slice(&[0xff, 0x00, 0xfe]);
    match decode_one(&raw_frame(op::PUBLISH, &b)) {
        Frame::Publish(p) => assert_eq!(&p.payload[..], &[0xff, 0x00, 0xfe]),
        f => panic!("{f:?}"),
    }
}

// --------------------------------------------------------------- headers

#[test]
fn sixty_four_headers_are_allowed_sixty_five_are_not() {
    let h = |n: usize| {
        (0..n)
            .map(|i| (t(&format!("h{i}")), t("v")))
            .collect::<Vec<_>>()
    };
    let ok = Frame::Publish(Publish {
        topic: t("a"),
        headers: h(64),
        ..Default::default()
    });
    assert_eq!(decode_one(&ok.to_bytes()), ok);
    let too_many = Frame::Publish(Publish {
        topic: t("a"),
        headers: h(65),
        ..Default::default()
    });
    let e = decode_err(&too_many.to_bytes());
    assert_eq!(invalid_field(&e), "header_count");
}

// ---------------------------------------------------------- trailing bytes

#[test]
fn samples_cover_every_variant() {
    let mut seen = [false; common::VARIANTS];
    for f in samples() {
        seen[variant(&f).0] = true;
        assert_eq!(decode_one(&f.to_bytes()), f);
    }
    assert!(seen.iter().all(|s| *s));
}

#[test]
fn trailing_bytes_follow_each_frames_tail_rule() {
    for f in samples() {
        let mut b = body(&f).to_vec();
        b.extend_from_slice(&[0xAA, 0xBB]);
        let wire = raw_frame(f.opcode(), &b);
        match variant(&f).1 {
            Tail::Strict => {
                let e = decode_err(&wire);
                assert!(
                    matches!(e, DecodeError::TrailingBytes { extra: 2, .. }),
                    "{f:?}: expected TrailingBytes, got {e:?}"
                );
                assert_eq!(e.code(), ErrorCode::MalformedFrame);
            }
            Tail::Extensible => {
                assert_eq!(decode_one(&wire), f, "extensible frames ignore the tail")
            }
            Tail::Rest => {
                // The extra bytes are simply more payload/value.
                let g = decode_one(&wire);
                assert_eq!(body(&g)[..], b[..], "{f:?}");
                assert_ne!(g, f);
            }
        }
    }
}

#[test]
fn extensible_frames_listed_in_the_spec() {
    let ext: Vec<&str> = samples()
        .iter()
        .filter(|f| variant(f).1 == Tail::Extensible)
        .map(|f| spate_proto::opcode_name(f.opcode()).unwrap())
        .collect();
    assert_eq!(
        ext,
        [
            "HELLO",
            "WELCOME",
            "PUB_ACK",
            "SUBSCRIBED",
            "GAP",
            "ERROR",
            "GOAWAY"
        ]
    );
}

#[test]
fn bytes_after_the_last_batch_entry_are_malformed() {
    // Inside a batch the entry length bounds each body (extra bytes in an
    // entry are payload), but nothing may follow the last entry.
    let f = Frame::PublishBatch(vec![Publish {
        topic: t("a"),
        ..Default::default()
    }]);
    let mut b = body(&f).to_vec();
    b.push(0);
    assert!(matches!(
        decode_err(&raw_frame(op::PUBLISH_BATCH, &b)),
        DecodeError::TrailingBytes {
            frame: "PUBLISH_BATCH",
            extra: 1
        }
    ));
}

#[test]
fn batch_entry_length_past_the_frame_is_truncated() {
    let mut b = BytesMut::new();
    b.put_u32(1); // sub_id
    b.put_u16(1); // count
    b.put_u32(1000); // entry length
    b.put_slice(&[0; 10]);
    assert!(matches!(
        decode_err(&raw_frame(op::MESSAGE_BATCH, &b)),
        DecodeError::Truncated {
            field: "entry",
            needed: 1000,
            available: 10,
            ..
        }
    ));
}

// --------------------------------------------------------------- options

/// A SUBSCRIBE body for sub 1, pattern "a", with a raw options block.
fn subscribe_with(entries: &[(u8, &[u8])]) -> BytesMut {
    let mut block = BytesMut::new();
    for (tag, value) in entries {
        block.put_u8(*tag);
        block.put_u16(value.len() as u16);
        block.put_slice(value);
    }
    let mut b = BytesMut::new();
    b.put_u32(1);
    b.put_u16(1);
    b.put_slice(b"a");
    b.put_u16(block.len() as u16);
    b.put_slice(&block);
    raw_frame(op::SUBSCRIBE, &b)
}

fn options_of(f: Frame) -> SubscribeOptions {
    match f {
        Frame::Subscribe { options, .. } => options,
        f => panic!("{f:?}"),
    }
}

#[test]
fn every_v1_option_decodes() {
    let from = [&40u64.to_be_bytes()[..], &7u64.to_be_bytes()[..]].concat();
    let o = options_of(decode_one(&subscribe_with(&[
        (tag::POLICY, &[4]),
        (tag::QUEUE_MSGS, &500u32.to_be_bytes()),
        (tag::QUEUE_BYTES, &65_536u64.to_be_bytes()),
        (tag::MAX_RATE, &20u32.to_be_bytes()),
        (tag::MAX_BATCH, &64u16.to_be_bytes()),
        (tag::LINGER_US, &5000u32.to_be_bytes()),
        (tag::FROM_SEQ, &from),
    ])));
    assert_eq!(
        o,
        SubscribeOptions {
            policy: Some(Policy::Conflate),
            queue_msgs: Some(500),
            queue_bytes: Some(65_536),
            max_rate: Some(20),
            max_batch: Some(64),
            linger_us: Some(5000),
            start: Start::FromSeq { seq: 40, epoch: 7 },
            unknown_critical: vec![],
        }
    );
    let o = options_of(decode_one(&subscribe_with(&[(
        tag::LAST_N,
        &10u32.to_be_bytes(),
    )])));
    assert_eq!(o.start, Start::LastN(10));
    let o = options_of(decode_one(&subscribe_with(&[(tag::SNAPSHOT, &[])])));
    assert_eq!(o.start, Start::Snapshot);
}

#[test]
fn options_may_come_in_any_order() {
    let a = options_of(decode_one(&subscribe_with(&[
        (tag::POLICY, &[1]),
        (tag::MAX_RATE, &[0, 0, 0, 9]),
    ])));
    let b = options_of(decode_one(&subscribe_with(&[
        (tag::MAX_RATE, &[0, 0, 0, 9]),
        (tag::POLICY, &[1]),
    ])));
    assert_eq!(a, b);
}

#[test]
fn duplicate_option_is_malformed() {
    for tag in [tag::POLICY, 0x42, 0x99] {
        let e = decode_err(&subscribe_with(&[(tag, &[2]), (tag, &[2])]));
        assert_eq!(invalid_field(&e), "option_tag", "tag 0x{tag:02x}");
        assert_eq!(e.code(), ErrorCode::MalformedFrame);
    }
}

#[test]
fn unknown_critical_option_is_kept_for_the_server_to_reject() {
    let o = options_of(decode_one(&subscribe_with(&[
        (0x0a, &[1, 2, 3]),
        (tag::POLICY, &[2]),
        (0x7f, &[]),
    ])));
    assert_eq!(o.unknown_critical, vec![0x0a, 0x7f]);
    assert_eq!(o.policy, Some(Policy::DropOldest));
}

#[test]
fn unknown_advisory_option_is_skipped() {
    let o = options_of(decode_one(&subscribe_with(&[
        (0x80, &[9; 20]),
        (0xff, &[]),
        (tag::POLICY, &[5]),
    ])));
    assert_eq!(
        o,
        SubscribeOptions {
            policy: Some(Policy::Disconnect),
            ..Default::default()
        }
    );
}

#[test]
fn option_value_of_the_wrong_size_is_malformed() {
    // Too long: POLICY is one byte.
    assert!(matches!(
        decode_err(&subscribe_with(&[(tag::POLICY, &[2, 0])])),
        DecodeError::TrailingBytes {
            frame: "SUBSCRIBE option",
            extra: 1
        }
    ));
    // Too short: QUEUE_MSGS is four bytes.
    assert!(matches!(
        decode_err(&subscribe_with(&[(tag::QUEUE_MSGS, &[0, 1])])),
        DecodeError::Truncated {
            field: "queue_msgs",
            ..
        }
    ));
    // SNAPSHOT carries nothing.
    assert!(matches!(
        decode_err(&subscribe_with(&[(tag::SNAPSHOT, &[0])])),
        DecodeError::TrailingBytes { .. }
    ));
}

#[test]
fn unknown_policy_value_is_malformed() {
    for v in [0u8, 6, 255] {
        assert_eq!(
            invalid_field(&decode_err(&subscribe_with(&[(tag::POLICY, &[v])]))),
            "policy"
        );
    }
}

#[test]
fn two_start_options_are_malformed() {
    let from = [0u8; 16];
    let n = 5u32.to_be_bytes();
    for pair in [
        [(tag::FROM_SEQ, &from[..]), (tag::LAST_N, &n[..])],
        [(tag::LAST_N, &n[..]), (tag::SNAPSHOT, &[][..])],
        [(tag::SNAPSHOT, &[][..]), (tag::FROM_SEQ, &from[..])],
    ] {
        let e = decode_err(&subscribe_with(&pair));
        assert_eq!(invalid_field(&e), "start");
        assert_eq!(e.code(), ErrorCode::MalformedFrame);
    }
}

#[test]
fn option_entry_past_the_block_is_truncated() {
    // The block says 4 bytes; the entry inside claims a 16-byte value.
    let mut b = BytesMut::new();
    b.put_u32(1);
    b.put_u16(1);
    b.put_slice(b"a");
    b.put_u16(4);
    b.put_u8(tag::FROM_SEQ);
    b.put_u16(16);
    b.put_u8(0);
    assert!(matches!(
        decode_err(&raw_frame(op::SUBSCRIBE, &b)),
        DecodeError::Truncated {
            field: "option_value",
            ..
        }
    ));
    // The block length itself runs past the frame.
    let mut b = BytesMut::new();
    b.put_u32(1);
    b.put_u16(1);
    b.put_slice(b"a");
    b.put_u16(50);
    assert!(matches!(
        decode_err(&raw_frame(op::SUBSCRIBE, &b)),
        DecodeError::Truncated {
            field: "options",
            ..
        }
    ));
}

// ------------------------------------------------------------- enum bytes

#[test]
fn out_of_range_enum_bytes_are_malformed() {
    let patch = |f: Frame, at: usize, v: u8| {
        let mut b = body(&f).to_vec();
        b[at] = v;
        decode_err(&raw_frame(f.opcode(), &b))
    };
    let sub = samples()
        .into_iter()
        .find(|f| matches!(f, Frame::Subscribed(_)))
        .unwrap();
    assert_eq!(invalid_field(&patch(sub.clone(), 4, 0)), "policy");
    assert_eq!(invalid_field(&patch(sub, 4 + 1 + 4 + 8, 5)), "start");
    let gap = samples()
        .into_iter()
        .find(|f| matches!(f, Frame::Gap(_)))
        .unwrap();
    assert_eq!(invalid_field(&patch(gap.clone(), 4, 0)), "reason");
    assert_eq!(invalid_field(&patch(gap, 4, 6)), "reason");
    let reply = Frame::StateReply(StateReply {
        request_id: 1,
        status: StateStatus::Ok,
        revision: 0,
        value: None,
    });
    assert_eq!(invalid_field(&patch(reply.clone(), 4, 3)), "status");
    assert_eq!(invalid_field(&patch(reply, 13, 2)), "has_value");
    let list = Frame::StateListReply {
        request_id: 1,
        more: false,
        entries: vec![],
    };
    assert_eq!(invalid_field(&patch(list, 4, 2)), "more");
    let del = Frame::StateDel {
        request_id: 1,
        topic: t("s"),
        key: t("k"),
        condition: Condition::None,
    };
    assert_eq!(invalid_field(&patch(del, 4 + 3 + 3, 3)), "condition");
}

#[test]
fn condition_revision_is_ignored_unless_if_revision() {
    let mut b = BytesMut::new();
    b.put_u32(1);
    b.put_u16(1);
    b.put_slice(b"s");
    b.put_u16(1);
    b.put_slice(b"k");
    b.put_u8(2); // IF_ABSENT
    b.put_u64(99); // ignored
    match decode_one(&raw_frame(op::STATE_DEL, &b)) {
        Frame::StateDel { condition, .. } => assert_eq!(condition, Condition::IfAbsent),
        f => panic!("{f:?}"),
    }
}

// ------------------------------------------------------------ error codes

#[test]
fn error_codes_are_stable() {
    let table: Vec<(u16, &str)> = ErrorCode::ALL
        .iter()
        .map(|c| (*c as u16, c.name()))
        .collect();
    assert_eq!(
        table,
        [
            (100, "MALFORMED_FRAME"),
            (101, "FRAME_TOO_LARGE"),
            (102, "UNSUPPORTED_VERSION"),
            (103, "HELLO_REQUIRED"),
            (104, "AUTH_FAILED"),
            (105, "TOO_MANY_CONNECTIONS"),
            (106, "SLOW_CONSUMER"),
            (107, "IDLE_TIMEOUT"),
            (108, "SHUTTING_DOWN"),
            (109, "TOKEN_EXPIRED"),
            (110, "TOO_MANY_CONNECTIONS_FROM_IP"),
            (111, "TOO_MANY_USER_CONNECTIONS"),
            (120, "TLS_REQUIRED"),
            (200, "UNKNOWN_OPCODE"),
            (201, "INVALID_TOPIC"),
            (202, "INVALID_PATTERN"),
            (203, "INVALID_OPTION"),
            (204, "DUPLICATE_SUBSCRIPTION"),
            (205, "UNKNOWN_SUBSCRIPTION"),
            (206, "TOO_MANY_SUBSCRIPTIONS"),
            (207, "TOO_MANY_TOPICS"),
            (208, "NOT_ALLOWED"),
            (209, "STATE_FULL"),
            (210, "INVALID_KEY"),
            (211, "NOT_AUTHORIZED"),
            (212, "RATE_LIMITED"),
            (500, "INTERNAL"),
            (501, "STORAGE_FAILED"),
            (510, "ENGINE_UNAVAILABLE"),
        ]
    );
    for c in ErrorCode::ALL {
        assert_eq!(ErrorCode::from_u16(*c as u16), Some(*c));
        assert_eq!(c.is_fatal(), (100..200).contains(&(*c as u16)));
    }
    assert_eq!(ErrorCode::from_u16(199), None);
}

#[test]
fn error_frames_carry_unknown_codes_unchanged() {
    // A client must accept codes it does not know (judge them by range).
    let f = Frame::Error {
        code: 299,
        reference: 0,
        message: t("new"),
        ref_kind: Some(spate_proto::RefKind::Connection),
    };
    assert_eq!(decode_one(&f.to_bytes()), f);
}

#[test]
fn error_reference_kinds_follow_protocol_md_13_1() {
    use spate_proto::RefKind;
    for c in ErrorCode::ALL {
        let want = match *c as u16 {
            106 | 202..=206 => RefKind::Subscription,
            100..=200 => RefKind::Connection, // fatal codes and UNKNOWN_OPCODE
            _ => RefKind::Request,
        };
        assert_eq!(RefKind::infer(*c), want, "{c}");
        match Frame::error(*c, 7, "x") {
            Frame::Error { ref_kind, .. } => assert_eq!(ref_kind, Some(want)),
            f => panic!("{f:?}"),
        }
    }
    // The kind can be named explicitly, and survives the wire.
    let f = Frame::error_about(ErrorCode::NotAllowed, RefKind::Subscription, 9, "draining");
    assert_eq!(decode_one(&f.to_bytes()), f);
    // An ERROR without ref_kind (an older server) decodes, kind unknown;
    // one with an undefined kind is malformed.
    let mut old = Frame::Error {
        code: 201,
        reference: 3,
        message: t("bad"),
        ref_kind: None,
    };
    assert_eq!(decode_one(&old.to_bytes()), old);
    if let Frame::Error { ref_kind, .. } = &mut old {
        *ref_kind = Some(RefKind::Request);
    }
    let mut b = old.to_bytes().to_vec();
    *b.last_mut().unwrap() = 3;
    assert!(matches!(
        decode_err(&b),
        DecodeError::Invalid {
            field: "ref_kind",
            ..
        }
    ));
}
