//! Server → client opcodes sent by a client: the server must not parse
//! their bodies at all (protocol.md §13.3). Each one is answered like an
//! unknown opcode — ERROR `UNKNOWN_OPCODE`, reference 0 — and the
//! connection stays open.

mod common;

use common::{start_default, RawClient};
use spate_proto::{op, ErrorCode, Frame, RefKind};

/// Every opcode only a server sends.
const SERVER_ONLY: [u8; 11] = [
    op::WELCOME,
    op::PUB_ACK,
    op::MESSAGE,
    op::MESSAGE_BATCH,
    op::SUBSCRIBED,
    op::UNSUBSCRIBED,
    op::GAP,
    op::STATE_REPLY,
    op::STATE_LIST_REPLY,
    op::ERROR,
    op::GOAWAY,
];

/// `[len][opcode][body]`.
fn raw(opcode: u8, body: &[u8]) -> Vec<u8> {
    let mut b = ((body.len() + 1) as u32).to_be_bytes().to_vec();
    b.push(opcode);
    b.extend_from_slice(body);
    b
}

#[tokio::test]
async fn server_only_opcodes_are_unknown_and_the_connection_stays_open() {
    let srv = start_default().await;
    let mut c = RawClient::connect(srv.addr).await;
    // The issue's case (40 zero bytes made MESSAGE_BATCH "34 unexpected
    // trailing bytes", fatal), an all-ones body, an empty one, and a body
    // that would decode as a valid frame of that opcode.
    let bodies: [&[u8]; 3] = [&[0u8; 40], &[0xff; 7], &[]];
    for opcode in SERVER_ONLY {
        let valid = spate_proto::Frame::Unsubscribed { sub_id: 1 };
        let mut cases: Vec<Vec<u8>> = bodies.iter().map(|b| raw(opcode, b)).collect();
        let mut v = valid.to_bytes().to_vec();
        v[4] = opcode;
        cases.push(v);
        for bytes in cases {
            c.send_bytes(&bytes).await;
            match c.recv().await {
                Frame::Error {
                    code,
                    reference,
                    message,
                    ref_kind,
                } => {
                    assert_eq!(
                        (code, reference),
                        (ErrorCode::UnknownOpcode as u16, 0),
                        "opcode 0x{opcode:02x}: {message}"
                    );
                    assert_eq!(ref_kind, Some(RefKind::Connection));
                    assert!(
                        message.contains(&format!("0x{opcode:02x}")),
                        "names the opcode: {message}"
                    );
                }
                f => panic!("opcode 0x{opcode:02x}: expected ERROR, got {f:?}"),
            }
            // Still open and in sync: a PING gets its PONG, nothing between.
            assert!(
                c.barrier().await.is_empty(),
                "opcode 0x{opcode:02x}: extra frames"
            );
        }
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_server_only_opcode_instead_of_hello_is_hello_required() {
    let srv = start_default().await;
    for opcode in SERVER_ONLY {
        let mut c = RawClient::connect_raw(srv.addr).await;
        c.send_bytes(&raw(opcode, &[0u8; 40])).await;
        let msg = c.expect_error(ErrorCode::HelloRequired, true).await;
        assert!(msg.contains("HELLO"), "{msg}");
    }
    srv.stop().await;
}
