//! Sends every malformed-input vector of `conformance/vectors.json`
//! (protocol.md §20) to a real server over TCP, each on its own connection
//! (after a HELLO unless the vector says otherwise), and checks the
//! reaction the file requires: the first frame back (ERROR with its code
//! and reference, or SUBSCRIBED / WELCOME), then either EOF within a
//! deadline ("closed") or a PING answered by its PONG with nothing before
//! it ("open").

mod common;

use common::*;
use futures::StreamExt;
use serde_json::Value;
use spate_proto::{CodecError, Frame};
use tokio::io::AsyncWriteExt;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance/vectors.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).expect("vectors.json is valid JSON")
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The next frame within [`STEP`]; `Ok(None)` at EOF or reset.
async fn next(c: &mut RawClient) -> Result<Option<Frame>, String> {
    match tokio::time::timeout(STEP, c.io.next()).await {
        Err(_) => Err(format!("nothing from the server within {STEP:?}")),
        Ok(None) | Ok(Some(Err(CodecError::Io(_)))) => Ok(None),
        Ok(Some(Err(e))) => Err(format!("undecodable frame from the server: {e}")),
        Ok(Some(Ok(f))) => Ok(Some(f)),
    }
}

/// Runs one vector; `Err` says how the server's reaction differed.
async fn check(addr: std::net::SocketAddr, v: &Value) -> Result<(), String> {
    let bytes = unhex(v["hex"].as_str().expect("hex"));
    let want = &v["server"];
    let mut c = if v["hello_first"].as_bool().expect("hello_first") {
        RawClient::connect(addr).await
    } else {
        RawClient::connect_raw(addr).await
    };
    c.io.get_mut()
        .write_all(&bytes)
        .await
        .map_err(|e| format!("write: {e}"))?;

    let reply = next(&mut c)
        .await?
        .ok_or("the connection closed without a reply")?;
    match (want["reply"].as_str().expect("reply"), &reply) {
        (
            "ERROR",
            Frame::Error {
                code, reference, ..
            },
        ) => {
            let (wc, wr) = (want["error_code"].as_u64(), want["reference"].as_u64());
            if (Some(u64::from(*code)), Some(u64::from(*reference))) != (wc, wr) {
                return Err(format!(
                    "expected ERROR {} reference {}, got {reply:?}",
                    wc.unwrap_or(0),
                    wr.unwrap_or(0)
                ));
            }
        }
        ("SUBSCRIBED", Frame::Subscribed(_)) | ("WELCOME", Frame::Welcome(_)) => {}
        (w, _) => return Err(format!("expected {w}, got {reply:?}")),
    }

    match want["connection"].as_str().expect("connection") {
        "closed" => match next(&mut c).await? {
            None => Ok(()),
            Some(f) => Err(format!("expected the connection to close, got {f:?}")),
        },
        "open" => {
            let token = 0x5eed_0000_0000_0001;
            c.io.get_mut()
                .write_all(&Frame::Ping(token).to_bytes())
                .await
                .map_err(|e| format!("the connection did not stay open: write: {e}"))?;
            match next(&mut c).await? {
                Some(Frame::Pong(t)) if t == token => Ok(()),
                None => Err("the connection closed instead of staying open".into()),
                Some(f) => Err(format!("expected PONG after the reply, got {f:?}")),
            }
        }
        other => panic!("unknown connection reaction {other}"),
    }
}

#[tokio::test]
async fn the_server_reacts_to_every_malformed_vector_as_the_spec_requires() {
    let srv = start_default().await;
    let v = vectors();
    let vecs = v["malformed"].as_array().expect("malformed array");
    assert!(vecs.len() >= 50, "only {} vectors", vecs.len());
    let mut failures = Vec::new();
    for m in vecs {
        let id = m["id"].as_str().expect("id");
        if let Err(e) = check(srv.addr, m).await {
            failures.push(format!("`{id}` ({}): {e}", m["description"]));
        }
    }
    assert!(
        failures.is_empty(),
        "{} vectors got the wrong reaction:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Nothing above disturbed the server: a fresh connection still works.
    let mut c = RawClient::connect(srv.addr).await;
    assert!(c.barrier().await.is_empty());
    srv.stop().await;
}
