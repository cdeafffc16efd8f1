//! Checks the reference tables of `protocol.md` against the code: opcodes
//! (and what each frame's decoder does with trailing bytes), SUBSCRIBE
//! option tags and value sizes, the enums (policy, start status, GAP
//! reason, condition, state status) and the error codes with their class.
//!
//! A checked table is the markdown table that starts right after an HTML
//! comment `<!-- check:NAME -->` in protocol.md; its first column holds the
//! wire value and its second the name in backticks.

mod common;

use bytes::{BufMut, BytesMut};
use common::{body, raw_frame, samples};
use spate_proto::options::tag;
use spate_proto::{
    op, opcode_name, Codec, CodecError, DecodeError, ErrorCode, Frame, GapReason, Policy, Start,
    SubscribeOptions,
};
use tokio_util::codec::Decoder;

/// Rows of the table marked `<!-- check:name -->`, header and separator
/// removed, each split into trimmed cells.
fn table(name: &str) -> Vec<Vec<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../protocol.md");
    let doc = std::fs::read_to_string(path).expect("protocol.md");
    let marker = format!("<!-- check:{name} -->");
    let at = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("protocol.md has no {marker}"));
    let rows: Vec<Vec<String>> = doc[at + marker.len()..]
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    assert!(rows.len() > 2, "{marker}: no table follows");
    rows[2..].to_vec()
}

/// `0x1f` or `31` → 31.
fn value(cell: &str) -> u16 {
    match cell.strip_prefix("0x") {
        Some(h) => u16::from_str_radix(h, 16),
        None => cell.parse(),
    }
    .unwrap_or_else(|_| panic!("{cell:?} is not a number"))
}

/// `` `NAME` `` → `NAME`.
fn name(cell: &str) -> &str {
    cell.trim_matches('`')
}

/// `(value, name)` pairs of a table.
fn pairs(t: &str) -> Vec<(u16, String)> {
    table(t)
        .iter()
        .map(|r| (value(&r[0]), name(&r[1]).to_string()))
        .collect()
}

/// `EpochChanged` / `IfRevision(0)` → `EPOCH_CHANGED` / `IF_REVISION`.
fn screaming(debug: &str) -> String {
    let mut out = String::new();
    for (i, c) in debug.split('(').next().unwrap().chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Decodes `body` as `opcode` and names the enum found at the patched byte,
/// or `None` if the value is rejected as invalid.
fn decode_enum(opcode: u8, body: &[u8], pick: impl Fn(Frame) -> String) -> Option<String> {
    match Frame::decode(opcode, bytes::Bytes::copy_from_slice(body)) {
        Ok(f) => Some(pick(f)),
        Err(DecodeError::Invalid { .. }) => None,
        Err(e) => panic!("unexpected {e:?}"),
    }
}

/// Checks that exactly the table's values decode, each to the table's name.
fn check_enum(table_name: &str, mut decode: impl FnMut(u8) -> Option<String>) {
    let doc = pairs(table_name);
    for v in 0..=255u8 {
        let row = doc.iter().find(|(dv, _)| *dv == v as u16);
        assert_eq!(
            decode(v),
            row.map(|r| r.1.clone()),
            "{table_name}: value {v}"
        );
    }
}

#[test]
fn opcode_table_matches_the_codec() {
    let doc = pairs("opcodes");
    let code: Vec<(u16, String)> = (0..=255u8)
        .filter_map(|o| opcode_name(o).map(|n| (o as u16, n.to_string())))
        .collect();
    assert_eq!(doc, code);
}

#[test]
fn opcode_table_trailing_byte_rules_match_the_decoder() {
    let rows = table("opcodes");
    for f in samples() {
        let mut b = body(&f).to_vec();
        b.push(0x5a);
        let mut buf = raw_frame(f.opcode(), &b);
        let observed = match Codec::default().decode(&mut buf) {
            Ok(Some(g)) if g == f => "ignore",
            Ok(Some(_)) => "rest",
            Err(CodecError::Decode(DecodeError::TrailingBytes { .. })) => "error",
            other => panic!("{f:?}: {other:?}"),
        };
        let name = opcode_name(f.opcode()).unwrap();
        let row = rows.iter().find(|r| name_of(r) == name).expect("row");
        let cell = &row[4];
        assert!(
            cell.starts_with(observed) || cell.contains(&format!("{observed} when")),
            "{name}: protocol.md says {cell:?}, decoder does {observed}"
        );
    }
}

fn name_of(row: &[String]) -> &str {
    name(&row[1])
}

#[test]
fn option_tag_table_matches_the_codec() {
    let code = [
        (
            tag::POLICY,
            "POLICY",
            SubscribeOptions {
                policy: Some(Policy::Block),
                ..Default::default()
            },
        ),
        (
            tag::QUEUE_MSGS,
            "QUEUE_MSGS",
            SubscribeOptions {
                queue_msgs: Some(1),
                ..Default::default()
            },
        ),
        (
            tag::QUEUE_BYTES,
            "QUEUE_BYTES",
            SubscribeOptions {
                queue_bytes: Some(1),
                ..Default::default()
            },
        ),
        (
            tag::MAX_RATE,
            "MAX_RATE",
            SubscribeOptions {
                max_rate: Some(1),
                ..Default::default()
            },
        ),
        (
            tag::MAX_BATCH,
            "MAX_BATCH",
            SubscribeOptions {
                max_batch: Some(1),
                ..Default::default()
            },
        ),
        (
            tag::LINGER_US,
            "LINGER_US",
            SubscribeOptions {
                linger_us: Some(1),
                ..Default::default()
            },
        ),
        (
            tag::FROM_SEQ,
            "FROM_SEQ",
            SubscribeOptions {
                start: Start::FromSeq { seq: 1, epoch: 2 },
                ..Default::default()
            },
        ),
        (
            tag::LAST_N,
            "LAST_N",
            SubscribeOptions {
                start: Start::LastN(1),
                ..Default::default()
            },
        ),
        (
            tag::SNAPSHOT,
            "SNAPSHOT",
            SubscribeOptions {
                start: Start::Snapshot,
                ..Default::default()
            },
        ),
    ];
    let rows = table("option-tags");
    assert_eq!(rows.len(), code.len());
    for (row, (tag, tag_name, options)) in rows.iter().zip(code) {
        assert_eq!((value(&row[0]), name(&row[1])), (tag as u16, tag_name));
        // The documented value size is what the encoder writes.
        let f = Frame::Subscribe {
            sub_id: 1,
            pattern: "a".into(),
            options,
        };
        let b = body(&f);
        // body: sub_id(4) pattern(2+1) block_len(2) tag(1) len(2) value
        assert_eq!(b[9], tag);
        let len = u16::from_be_bytes([b[10], b[11]]) as usize;
        let doc_len = match row[2].as_str() {
            "u8" => 1,
            "u16" => 2,
            "u32" => 4,
            "u64" => 8,
            s if s.contains("(16 bytes)") => 16,
            s if s.contains("(0 bytes)") => 0,
            s => panic!("{tag_name}: unrecognised value type {s:?}"),
        };
        assert_eq!(len, doc_len, "{tag_name}: value size");
    }
}

#[test]
fn policy_table_matches_the_codec() {
    check_enum("policies", |v| {
        Policy::from_u8(v).map(|p| p.name().to_string())
    });
}

#[test]
fn gap_reason_table_matches_the_codec() {
    check_enum("gap-reasons", |v| {
        GapReason::from_u8(v).map(|g| g.name().to_uppercase())
    });
}

#[test]
fn start_status_table_matches_the_codec() {
    let sub = samples()
        .into_iter()
        .find(|f| matches!(f, Frame::Subscribed(_)))
        .unwrap();
    let mut b = body(&sub).to_vec();
    check_enum("start-status", |v| {
        b[17] = v; // sub_id 4, policy 1, queue_msgs 4, queue_bytes 8
        decode_enum(op::SUBSCRIBED, &b, |f| match f {
            Frame::Subscribed(s) => screaming(&format!("{:?}", s.start)),
            f => panic!("{f:?}"),
        })
    });
}

#[test]
fn condition_table_matches_the_codec() {
    check_enum("conditions", |v| {
        let mut b = BytesMut::new();
        b.put_u32(1);
        b.put_u16(1);
        b.put_slice(b"t");
        b.put_u16(1);
        b.put_slice(b"k");
        b.put_u8(v);
        b.put_u64(0);
        decode_enum(op::STATE_DEL, &b, |f| match f {
            Frame::StateDel { condition, .. } => screaming(&format!("{condition:?}")),
            f => panic!("{f:?}"),
        })
    });
}

#[test]
fn state_status_table_matches_the_codec() {
    check_enum("state-status", |v| {
        let mut b = BytesMut::new();
        b.put_u32(1);
        b.put_u8(v);
        b.put_u64(0);
        b.put_u8(0);
        decode_enum(op::STATE_REPLY, &b, |f| match f {
            Frame::StateReply(r) => screaming(&format!("{:?}", r.status)),
            f => panic!("{f:?}"),
        })
    });
}

#[test]
fn error_code_table_matches_the_codec() {
    let rows = table("error-codes");
    let doc: Vec<(u16, String, String)> = rows
        .iter()
        .map(|r| (value(&r[0]), name(&r[1]).to_string(), r[2].clone()))
        .collect();
    let code: Vec<(u16, String, String)> = ErrorCode::ALL
        .iter()
        .map(|c| {
            let class = if c.is_fatal() {
                "fatal"
            } else if (200..300).contains(&(*c as u16)) {
                "request"
            } else {
                "server"
            };
            (*c as u16, c.name().to_string(), class.to_string())
        })
        .collect();
    assert_eq!(doc, code);
}
