//! Checks `conformance/vectors.json` (protocol.md §20) against the real
//! codec, and against protocol.md §17, so that the three cannot drift:
//!
//! - every example decodes with [`Codec`] to exactly the fields the file
//!   lists, and re-encodes to exactly its bytes;
//! - every hex example of protocol.md §17 is in the file, with the same id,
//!   frame name and bytes (and the file has no example that §17 lacks);
//! - every malformed vector gets the decoder outcome the file states.
//!
//! The server's reaction to the malformed vectors is checked over TCP by
//! `tests/server_conformance_vectors.rs` at the repository root.

mod spec_examples;

use bytes::BytesMut;
use serde_json::{json, Value};
use spate_proto::{
    opcode_name, CodecError, Condition, DecodeError, Frame, Message, Publish, Start, StateChange,
    SubscribeOptions, Text,
};
use spate_proto::{Codec, ErrorCode};
use tokio_util::codec::Decoder;

fn repo_file(name: &str) -> String {
    let path = format!("{}/../../{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn vectors() -> Value {
    serde_json::from_str(&repo_file("conformance/vectors.json"))
        .expect("conformance/vectors.json is valid JSON")
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex {s:?}")))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn s(t: &Text) -> Value {
    Value::String(t.as_str().to_string())
}

/// u64 values are decimal strings in the file (JSON loses precision above 2^53).
fn big(v: u64) -> Value {
    Value::String(v.to_string())
}

fn headers(h: &[(Text, Text)]) -> Value {
    if h.is_empty() {
        Value::Null
    } else {
        h.iter().map(|(n, v)| json!([s(n), s(v)])).collect()
    }
}

fn message(m: &Message) -> Value {
    let mut flags = 0u8;
    if m.key.is_some() {
        flags |= 0x01;
    }
    if !m.headers.is_empty() {
        flags |= 0x02;
    }
    match m.state {
        Some(StateChange::Put) => flags |= 0x04,
        Some(StateChange::Delete) => flags |= 0x08,
        None => {}
    }
    json!({
        "epoch": big(m.epoch),
        "seq": big(m.seq),
        "timestamp_us": big(m.timestamp_us),
        "flags": flags,
        "topic": s(&m.topic),
        "key": m.key.as_ref().map(s),
        "headers": headers(&m.headers),
        "payload_hex": hex(&m.payload),
    })
}

fn publish(p: &Publish) -> Value {
    let mut flags = 0u8;
    if p.ack {
        flags |= 0x80;
    }
    if p.key.is_some() {
        flags |= 0x01;
    }
    if !p.headers.is_empty() {
        flags |= 0x02;
    }
    json!({
        "request_id": p.request_id,
        "flags": flags,
        "topic": s(&p.topic),
        "key": p.key.as_ref().map(s),
        "headers": headers(&p.headers),
        "payload_hex": hex(&p.payload),
    })
}

/// The options block as `{tag, name, value}` entries in the order the
/// encoder writes them (which is the order of the examples).
fn options(o: &SubscribeOptions) -> Value {
    let mut v = Vec::new();
    let mut e = |tag: u8, name: &str, value: Value| {
        v.push(json!({"tag": tag, "name": name, "value": value}));
    };
    if let Some(p) = o.policy {
        e(1, "POLICY", json!(p as u8));
    }
    if let Some(n) = o.queue_msgs {
        e(2, "QUEUE_MSGS", json!(n));
    }
    if let Some(n) = o.queue_bytes {
        e(3, "QUEUE_BYTES", big(n));
    }
    if let Some(n) = o.max_rate {
        e(4, "MAX_RATE", json!(n));
    }
    if let Some(n) = o.max_batch {
        e(5, "MAX_BATCH", json!(n));
    }
    if let Some(n) = o.linger_us {
        e(6, "LINGER_US", json!(n));
    }
    match o.start {
        Start::New => {}
        Start::FromSeq { seq, epoch } => {
            e(7, "FROM_SEQ", json!({"seq": big(seq), "epoch": big(epoch)}))
        }
        Start::LastN(n) => e(8, "LAST_N", json!(n)),
        Start::Snapshot => e(9, "SNAPSHOT", Value::Null),
    }
    for &t in &o.unknown_critical {
        e(t, "UNKNOWN", Value::Null);
    }
    Value::Array(v)
}

fn condition(c: Condition) -> (u8, u64) {
    match c {
        Condition::None => (0, 0),
        Condition::IfRevision(r) => (1, r),
        Condition::IfAbsent => (2, 0),
    }
}

/// A decoded frame in the file's language-neutral shape (see its "schema").
fn fields(f: &Frame) -> Value {
    match f {
        Frame::Hello(h) => json!({
            "version": h.version, "flags": h.flags,
            "client_name": s(&h.client_name), "auth_token": s(&h.auth_token),
        }),
        Frame::Ping(t) | Frame::Pong(t) => json!({"token": big(*t)}),
        Frame::Publish(p) => publish(p),
        Frame::PublishBatch(ps) => json!({
            "count": ps.len(), "entries": ps.iter().map(publish).collect::<Vec<_>>(),
        }),
        Frame::Subscribe {
            sub_id,
            pattern,
            options: o,
        } => json!({"sub_id": sub_id, "pattern": s(pattern), "options": options(o)}),
        Frame::Unsubscribe { sub_id } | Frame::Unsubscribed { sub_id } => {
            json!({"sub_id": sub_id})
        }
        Frame::StatePut {
            request_id,
            topic,
            key,
            condition: c,
            value,
        } => {
            let (c, rev) = condition(*c);
            json!({
                "request_id": request_id, "topic": s(topic), "key": s(key),
                "condition": c, "revision": big(rev), "value_hex": hex(value),
            })
        }
        Frame::StateDel {
            request_id,
            topic,
            key,
            condition: c,
        } => {
            let (c, rev) = condition(*c);
            json!({
                "request_id": request_id, "topic": s(topic), "key": s(key),
                "condition": c, "revision": big(rev),
            })
        }
        Frame::StateGet {
            request_id,
            topic,
            key,
        } => json!({"request_id": request_id, "topic": s(topic), "key": s(key)}),
        Frame::StateList {
            request_id,
            topic,
            after,
            limit,
        } => json!({
            "request_id": request_id, "topic": s(topic), "after": s(after), "limit": limit,
        }),
        Frame::Welcome(w) => json!({
            "version": w.version, "server": s(&w.server), "server_id": big(w.server_id),
            "max_frame": w.max_frame, "max_subscriptions": w.max_subscriptions,
            "max_topic_len": w.max_topic_len, "ping_interval_ms": w.ping_interval_ms,
        }),
        Frame::PubAck {
            request_id,
            epoch,
            seq,
            timestamp_us,
            receivers,
        } => json!({
            "request_id": request_id, "epoch": big(*epoch), "seq": big(*seq),
            "timestamp_us": big(*timestamp_us), "receivers": receivers,
        }),
        Frame::Message { sub_id, message: m } => json!({"sub_id": sub_id, "message": message(m)}),
        Frame::MessageBatch { sub_id, messages } => json!({
            "sub_id": sub_id, "count": messages.len(),
            "messages": messages.iter().map(message).collect::<Vec<_>>(),
        }),
        Frame::Subscribed(x) => json!({
            "sub_id": x.sub_id, "policy": x.policy as u8, "queue_msgs": x.queue_msgs,
            "queue_bytes": big(x.queue_bytes), "start": x.start as u8, "epoch": big(x.epoch),
            "first_seq": big(x.first_seq), "last_seq": big(x.last_seq),
        }),
        Frame::Gap(g) => json!({
            "sub_id": g.sub_id, "reason": g.reason as u8, "count": big(g.count),
            "first_seq": big(g.first_seq), "last_seq": big(g.last_seq), "topic": s(&g.topic),
        }),
        Frame::StateReply(r) => json!({
            "request_id": r.request_id, "status": r.status as u8, "revision": big(r.revision),
            "has_value": u8::from(r.value.is_some()),
            "value_hex": r.value.as_ref().map(|v| hex(v)),
        }),
        Frame::StateListReply {
            request_id,
            more,
            entries,
        } => json!({
            "request_id": request_id, "more": u8::from(*more), "count": entries.len(),
            "entries": entries.iter().map(|e| json!({
                "key": s(&e.key), "revision": big(e.revision), "value_hex": hex(&e.value),
            })).collect::<Vec<_>>(),
        }),
        Frame::Error {
            code,
            reference,
            message,
            ref_kind,
        } => json!({
            "code": code, "reference": reference, "message": s(message),
            "ref_kind": ref_kind.map(|k| k as u8),
        }),
        Frame::GoAway { drain_ms, reason } => json!({"drain_ms": drain_ms, "reason": s(reason)}),
    }
}

fn str_field<'a>(v: &'a Value, key: &str, ctx: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{ctx}: `{key}` missing or not a string"))
}

/// Decodes one whole frame with a default codec (max_frame 1,114,112).
fn decode(bytes: &[u8]) -> (Result<Option<Frame>, CodecError>, usize) {
    let mut buf = BytesMut::from(bytes);
    let r = Codec::default().decode(&mut buf);
    (r, buf.len())
}

#[test]
fn every_example_decodes_to_its_fields_and_reencodes_to_its_bytes() {
    let v = vectors();
    let examples = v["examples"].as_array().expect("examples array");
    assert!(examples.len() >= 16, "only {} examples", examples.len());
    for ex in examples {
        let id = str_field(ex, "id", "example");
        let bytes = unhex(str_field(ex, "hex", id));
        let (got, left) = decode(&bytes);
        let frame = got
            .unwrap_or_else(|e| panic!("example `{id}` does not decode: {e}"))
            .unwrap_or_else(|| panic!("example `{id}` is an incomplete frame"));
        assert_eq!(left, 0, "example `{id}` has bytes after its frame");
        assert_eq!(
            ex["opcode"].as_u64(),
            Some(u64::from(frame.opcode())),
            "example `{id}`: opcode"
        );
        assert_eq!(
            opcode_name(frame.opcode()),
            ex["name"].as_str(),
            "example `{id}`: name"
        );
        let direction = match frame.opcode() {
            0x02 | 0x03 => "both",
            op if op < 0x80 => "client_to_server",
            _ => "server_to_client",
        };
        assert_eq!(
            ex["direction"].as_str(),
            Some(direction),
            "example `{id}`: direction"
        );
        assert_eq!(
            fields(&frame),
            ex["fields"],
            "example `{id}`: decoded fields (left) differ from the file's (right)"
        );
        assert_eq!(
            hex(&frame.to_bytes()),
            hex(&bytes),
            "example `{id}`: re-encoding gives other bytes"
        );
    }
}

/// `(id, frame name, bytes)` of every ```hex block of protocol.md.
fn spec_examples(doc: &str) -> Vec<(String, String, Vec<u8>)> {
    spec_examples::examples(doc)
        .into_iter()
        .map(|e| (e.id, e.frame_name, e.bytes))
        .collect()
}

#[test]
fn the_examples_are_exactly_those_of_protocol_md() {
    let spec = spec_examples(&repo_file("protocol.md"));
    assert!(
        spec.len() >= 16,
        "only {} examples in protocol.md",
        spec.len()
    );
    let v = vectors();
    let file: Vec<(String, String, String)> = v["examples"]
        .as_array()
        .expect("examples array")
        .iter()
        .map(|e| {
            let id = str_field(e, "id", "example").to_string();
            let name = str_field(e, "name", &id).to_string();
            let hx = str_field(e, "hex", &id).to_string();
            (id, name, hx)
        })
        .collect();
    for (id, name, bytes) in &spec {
        let found = file
            .iter()
            .find(|(fid, ..)| fid == id)
            .unwrap_or_else(|| panic!("protocol.md example `{id}` is not in vectors.json"));
        assert_eq!(&found.1, name, "example `{id}`: frame name");
        assert_eq!(
            found.2,
            hex(bytes),
            "example `{id}`: vectors.json (left) and protocol.md (right) bytes differ"
        );
    }
    for (id, ..) in &file {
        assert!(
            spec.iter().any(|(sid, ..)| sid == id),
            "vectors.json example `{id}` is not in protocol.md §17"
        );
    }
    assert_eq!(spec.len(), file.len(), "duplicate example ids");
}

#[test]
fn every_malformed_vector_gets_the_stated_decoder_outcome() {
    let v = vectors();
    assert_eq!(
        v["max_frame"].as_u64(),
        Some(Codec::default().max_frame() as u64)
    );
    let vecs = v["malformed"].as_array().expect("malformed array");
    assert!(vecs.len() >= 50, "only {} malformed vectors", vecs.len());
    let mut ids = std::collections::HashSet::new();
    for m in vecs {
        let id = str_field(m, "id", "malformed vector");
        assert!(ids.insert(id.to_string()), "duplicate id `{id}`");
        let bytes = unhex(str_field(m, "hex", id));
        let want = str_field(m, "decode", id);
        let (got, left) = decode(&bytes);
        let outcome = match &got {
            Ok(Some(_)) if left == 0 => "ok".to_string(),
            Ok(Some(_)) => format!("ok with {left} bytes left over"),
            Ok(None) => "incomplete".to_string(),
            Err(CodecError::Decode(DecodeError::UnknownOpcode(_))) => "unknown_opcode".into(),
            Err(CodecError::Decode(e)) if e.code() == ErrorCode::FrameTooLarge => {
                "too_large".into()
            }
            Err(CodecError::Decode(e)) if e.code() == ErrorCode::MalformedFrame => {
                "malformed".into()
            }
            Err(e) => format!("other error: {e}"),
        };
        assert_eq!(outcome, want, "vector `{id}`: decoder outcome ({got:?})");

        // The stated reaction is self-consistent: fatal codes close.
        let server = &m["server"];
        let conn = str_field(server, "connection", id);
        assert!(conn == "open" || conn == "closed", "vector `{id}`: {conn}");
        match str_field(server, "reply", id) {
            "ERROR" => {
                let code = server["error_code"].as_u64().expect("error_code") as u16;
                let code = ErrorCode::from_u16(code)
                    .unwrap_or_else(|| panic!("vector `{id}`: unknown code {code}"));
                assert_eq!(server["error_name"].as_str(), Some(code.name()), "`{id}`");
                assert_eq!(code.is_fatal(), conn == "closed", "vector `{id}`");
                assert!(server["reference"].is_u64(), "vector `{id}`: reference");
            }
            "SUBSCRIBED" | "WELCOME" => assert_eq!(conn, "open", "vector `{id}`"),
            other => panic!("vector `{id}`: unexpected reply {other}"),
        }
        assert!(m["hello_first"].is_boolean(), "vector `{id}`: hello_first");
    }
}

#[test]
fn the_field_conversion_notices_a_wrong_value() {
    // Guards the comparison itself: a changed u64 or a str/bytes mix-up
    // must not compare equal.
    let f = Frame::Ping(42);
    assert_eq!(fields(&f), json!({"token": "42"}));
    assert_ne!(fields(&f), json!({"token": 42}));
    assert_ne!(fields(&Frame::Ping(43)), json!({"token": "42"}));
}
