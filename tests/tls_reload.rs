//! The real binary reloads its TLS certificate on SIGHUP: a new connection
//! sees the new certificate, a connection opened before keeps working,
//! and files that do not load leave the previous certificate in place.

mod tls_support;

use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use spate_client::{Client, Event, Publication, SubscribeOptions};
use tls_support::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

const STEP: Duration = Duration::from_secs(10);

/// Waits for a log line containing `what`.
async fn wait_log(lines: &mut mpsc::UnboundedReceiver<String>, what: &str) -> String {
    tokio::time::timeout(STEP, async {
        while let Some(l) = lines.recv().await {
            if l.contains(what) {
                return l;
            }
        }
        panic!("spate serve exited before logging {what:?}");
    })
    .await
    .unwrap_or_else(|_| panic!("no log line {what:?} in time"))
}

fn sighup(pid: u32) {
    // SAFETY: kill(2) on the child this test spawned and still holds.
    let rc = unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    assert_eq!(rc, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate_and_keeps_open_connections() {
    let pki = pki();
    let dir = pki.dir.path();
    let (live_cert, live_key) = (dir.join("live.crt"), dir.join("live.key"));
    std::fs::copy(&pki.server.0, &live_cert).unwrap();
    std::fs::copy(&pki.server.1, &live_key).unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--no-admin"])
        .args(["--tls-listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&live_cert)
        .arg("--tls-key")
        .arg(&live_key)
        .env("SPATE_LOG_FORMAT", "text")
        .env("SPATE_LOG_LEVEL", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = server.id().unwrap();
    let (tx, mut lines) = mpsc::unbounded_channel();
    let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
    tokio::spawn(async move {
        while let Ok(Some(l)) = log.next_line().await {
            let _ = tx.send(l);
        }
    });
    let ready = wait_log(&mut lines, "spate ready").await;
    let at = ready.find(" tls=").expect("tls= in the ready line") + 5;
    let addr = ready[at..].split_whitespace().next().unwrap().to_string();

    // Opened with the first certificate.
    let old = Client::connect(addr.clone(), client_opts(&pki.ca.pem, None))
        .await
        .expect("first certificate");
    let mut sub = old
        .subscribe("t.x", SubscribeOptions::default())
        .await
        .unwrap();

    // A certificate from another CA replaces it.
    let (c, k) = pki
        .other_ca
        .leaf("renewed", &["localhost", "127.0.0.1"], false);
    std::fs::write(&live_cert, c).unwrap();
    std::fs::write(&live_key, k).unwrap();
    sighup(pid);
    wait_log(&mut lines, "TLS certificate and key reloaded").await;

    let err = Client::connect(addr.clone(), client_opts(&pki.ca.pem, None))
        .await
        .expect_err("the old CA no longer matches");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    let new = Client::connect(addr.clone(), client_opts(&pki.other_ca.pem, None))
        .await
        .expect("the new certificate");
    new.publish_acked(Publication::new("t.x", "after reload"))
        .await
        .unwrap();
    // The connection opened before the reload still works both ways.
    match tokio::time::timeout(STEP, sub.next()).await {
        Ok(Some(Event::Message(m))) => assert_eq!(&m.payload[..], b"after reload"),
        other => panic!("expected the message on the old connection, got {other:?}"),
    }
    old.publish_acked(Publication::new("t.y", "old still publishes"))
        .await
        .unwrap();

    // Files that do not load: logged, the current certificate stays.
    std::fs::write(&live_cert, "not a certificate").unwrap();
    sighup(pid);
    // The whole reload is refused (the config check loads the TLS files).
    wait_log(&mut lines, "reload failed").await;
    Client::connect(addr.clone(), client_opts(&pki.other_ca.pem, None))
        .await
        .expect("still the renewed certificate");

    server.start_kill().unwrap();
    let _ = tokio::time::timeout(STEP, server.wait()).await;
}
