//! TLS listeners over real sockets, with certificates made in the test:
//! publish/subscribe over TLS beside the plaintext listener, a client that
//! trusts the wrong CA, a plaintext client on the TLS port, a TLS client
//! on the plaintext port, a TLS-only server, mutual TLS (no certificate,
//! another CA's, a good one and its identity), and wss.

mod common;
mod tls_support;

use std::sync::Arc;

use bytes::Bytes;
use common::{RawClient, STEP};
use futures::{SinkExt, StreamExt};
use spate::config::settings::ClientCertMode;
use spate_client::{Client, ClientOptions, ErrorCode, Event, SubscribeOptions};
use spate_proto::{Frame, Hello, Text};
use tls_support::*;

async fn one_message(sub: &mut spate_client::Subscription) -> spate_client::Message {
    match tokio::time::timeout(STEP, sub.next()).await {
        Ok(Some(Event::Message(m))) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn pub_sub_over_tls_beside_plaintext() {
    let pki = pki();
    let srv = start_tls(tls_config(&pki)).await;
    let tls_addr = srv.tls.expect("TLS listener").to_string();
    let plain_addr = srv.plain.expect("plaintext listener").to_string();
    let tls_client = Client::connect(tls_addr.clone(), client_opts(&pki.ca.pem, None))
        .await
        .expect("TLS connect");
    let plain_client = Client::connect(plain_addr, ClientOptions::default().reconnect(None))
        .await
        .expect("plaintext connect");
    let mut over_tls = tls_client
        .subscribe("t.x", SubscribeOptions::default())
        .await
        .unwrap();
    let mut over_plain = plain_client
        .subscribe("t.x", SubscribeOptions::default())
        .await
        .unwrap();
    // A large payload crosses several TLS records.
    let big = Bytes::from(vec![7u8; 200 * 1024]);
    plain_client
        .publish_acked(spate_client::Publication::new("t.x", big.clone()))
        .await
        .unwrap();
    tls_client
        .publish_acked(spate_client::Publication::new("t.x", "hi"))
        .await
        .unwrap();
    for sub in [&mut over_tls, &mut over_plain] {
        assert_eq!(one_message(sub).await.payload, big);
        assert_eq!(one_message(sub).await.payload, Bytes::from("hi"));
    }
    // The name checked is the host dialled; "localhost" is in the certificate too.
    let by_name = format!("localhost:{}", srv.tls.unwrap().port());
    Client::connect(by_name, client_opts(&pki.ca.pem, None))
        .await
        .expect("connect by host name");
    srv.stop().await;
}

#[tokio::test]
async fn a_client_trusting_another_ca_fails_with_a_clear_error() {
    let pki = pki();
    let srv = start_tls(tls_config(&pki)).await;
    let err = Client::connect(
        srv.tls.unwrap().to_string(),
        client_opts(&pki.other_ca.pem, None),
    )
    .await
    .expect_err("the server's certificate is not trusted");
    let text = err.to_string();
    assert!(matches!(err, spate_client::Error::Tls(_)), "{err:?}");
    assert!(
        text.contains("UnknownIssuer") && text.contains("--ca"),
        "{text}"
    );
    // The CLI says the same and exits non-zero.
    let out = common::cli::run(
        common::cli::spate_at(&srv.tls.unwrap().to_string())
            .args(["pub", "t.x", "hello", "--ca"])
            .arg(&pki.other_ca.pem),
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("UnknownIssuer"), "{}", out.stderr);
    // With the right CA the CLI publishes.
    let out = common::cli::run(
        common::cli::spate_at(&srv.tls.unwrap().to_string())
            .args(["pub", "t.x", "hello", "--tls", "--ca"])
            .arg(&pki.ca.pem),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    srv.stop().await;
}

#[tokio::test]
async fn a_plaintext_client_on_the_tls_port_gets_tls_required() {
    let pki = pki();
    let srv = start_tls(tls_config(&pki)).await;
    let mut raw = RawClient::connect_raw(srv.tls.unwrap()).await;
    raw.send(Frame::Hello(Hello {
        version: 1,
        flags: 0,
        client_name: Text::from("plain"),
        auth_token: Text::default(),
    }))
    .await;
    let msg = raw
        .expect_error(spate_proto::ErrorCode::TlsRequired, true)
        .await;
    assert!(msg.contains("TLS"), "{msg}");
    // The Rust client reports it as the server's error.
    let err = Client::connect(
        srv.tls.unwrap().to_string(),
        ClientOptions::default().reconnect(None),
    )
    .await
    .expect_err("plaintext on the TLS port");
    assert_eq!(err.code(), Some(ErrorCode::TlsRequired), "{err}");
    srv.stop().await;
}

#[tokio::test]
async fn a_tls_client_on_the_plaintext_port_is_told_so() {
    let pki = pki();
    let srv = start_tls(tls_config(&pki)).await;
    let err = Client::connect(
        srv.plain.unwrap().to_string(),
        client_opts(&pki.ca.pem, None),
    )
    .await
    .expect_err("TLS to the plaintext port");
    assert!(err.to_string().contains("plaintext port"), "{err}");
    srv.stop().await;
}

#[tokio::test]
async fn a_tls_only_server_has_no_plaintext_listener() {
    let pki = pki();
    let mut cfg = tls_config(&pki);
    cfg.server.plaintext_enabled = false;
    // Would clash if it were bound: another server holds the port.
    let other = start_tls(tls_config(&pki)).await;
    cfg.server.listen = other.plain.unwrap();
    let srv = start_tls(cfg).await;
    assert_eq!(srv.plain, None);
    Client::connect(srv.tls.unwrap().to_string(), client_opts(&pki.ca.pem, None))
        .await
        .expect("TLS works");
    srv.stop().await;
    other.stop().await;
}

fn mtls_config(pki: &Pki, mode: ClientCertMode) -> spate::config::Config {
    let mut cfg = tls_config(pki);
    cfg.tls.client_ca = Some(pki.ca.pem.clone());
    cfg.tls.client_cert = mode;
    cfg
}

/// Connects and does one round trip (with TLS 1.3 a refused client
/// certificate shows only on the first read).
async fn round_trip(addr: String, opts: ClientOptions) -> Result<(), spate_client::Error> {
    let c = Client::connect(addr, opts).await?;
    c.publish_acked(spate_client::Publication::new("t.x", "x"))
        .await?;
    Ok(())
}

#[tokio::test]
async fn mutual_tls_required_refuses_without_a_good_certificate() {
    let pki = pki();
    let srv = start_tls(mtls_config(&pki, ClientCertMode::Required)).await;
    let addr = srv.tls.unwrap().to_string();
    let e = round_trip(addr.clone(), client_opts(&pki.ca.pem, None))
        .await
        .expect_err("no client certificate");
    assert!(e.to_string().contains("CertificateRequired"), "{e}");
    let e = round_trip(addr.clone(), client_opts(&pki.ca.pem, Some(&pki.mallory)))
        .await
        .expect_err("a certificate from another CA");
    assert!(e.to_string().contains("UnknownCA"), "{e}");
    round_trip(addr.clone(), client_opts(&pki.ca.pem, Some(&pki.alice)))
        .await
        .expect("alice's certificate");
    // The CLI presents one with --cert/--key.
    let out = common::cli::run(
        common::cli::spate_at(&addr)
            .args(["pub", "t.x", "hi", "--ca"])
            .arg(&pki.ca.pem)
            .arg("--cert")
            .arg(&pki.alice.0)
            .arg("--cert-key")
            .arg(&pki.alice.1),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    srv.stop().await;
}

#[tokio::test]
async fn mutual_tls_optional_takes_clients_without_a_certificate_but_not_bad_ones() {
    let pki = pki();
    let srv = start_tls(mtls_config(&pki, ClientCertMode::Optional)).await;
    let addr = srv.tls.unwrap().to_string();
    round_trip(addr.clone(), client_opts(&pki.ca.pem, None))
        .await
        .expect("no certificate is allowed");
    let e = round_trip(addr.clone(), client_opts(&pki.ca.pem, Some(&pki.mallory)))
        .await
        .expect_err("a certificate from another CA");
    assert!(e.to_string().contains("UnknownCA"), "{e}");
    srv.stop().await;
}

/// The accept path itself: the verified certificate's identity lands in
/// the connection's Peer.
#[tokio::test]
async fn the_client_certificate_identity_reaches_the_peer() {
    let pki = pki();
    let cfg = mtls_config(&pki, ClientCertMode::Optional);
    let acceptors = spate::tls::TlsAcceptors::load(&cfg.tls).unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    for (cert, want) in [(Some(&pki.alice), Some("alice")), (None, None)] {
        let opts = client_opts(&pki.ca.pem, cert);
        let client = tokio::spawn({
            let addr = addr.clone();
            async move { Client::connect(addr, opts).await.map(|_| ()) }
        });
        let (sock, peer_addr) = l.accept().await.unwrap();
        let stream = spate::tls::accept::handshake(acceptors.tcp(), sock, peer_addr, STEP)
            .await
            .expect("handshake");
        let peer = spate::tls::accept::peer_of(&stream, peer_addr, spate::conn::Transport::Tls);
        assert_eq!(peer.cert_identity.as_deref(), want);
        assert_eq!(peer.transport, spate::conn::Transport::Tls);
        drop(stream);
        let _ = client.await;
    }
}

#[tokio::test]
async fn websocket_over_tls() {
    let pki = pki();
    let mut cfg = tls_config(&pki);
    cfg.server.wss_listen = Some("127.0.0.1:0".parse().unwrap());
    let srv = start_tls(cfg).await;
    let wss = srv.wss.expect("wss listener");
    // A TLS client made the ordinary way, then the WebSocket handshake.
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&pki.ca.pem).unwrap();
    use rustls_pki_types::pem::PemObject;
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(wss).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .expect("TLS handshake");
    let url = format!("wss://localhost:{}/", wss.port());
    let (mut ws, _) = tokio_tungstenite::client_async(url, tls)
        .await
        .expect("WebSocket handshake");
    use tokio_tungstenite::tungstenite::Message;
    let hello = Frame::Hello(Hello {
        version: 1,
        flags: 0,
        client_name: Text::from("wss"),
        auth_token: Text::default(),
    });
    ws.send(Message::Binary(hello.to_bytes())).await.unwrap();
    let reply = tokio::time::timeout(STEP, ws.next())
        .await
        .expect("a reply in time")
        .expect("open")
        .expect("no error");
    let Message::Binary(b) = reply else {
        panic!("expected a binary message, got {reply:?}")
    };
    assert_eq!(b[4], 0x81, "WELCOME opcode");
    srv.stop().await;
}

#[tokio::test]
async fn a_silent_client_on_the_tls_port_is_closed_after_the_hello_timeout() {
    use tokio::io::AsyncReadExt;
    let pki = pki();
    let mut cfg = tls_config(&pki);
    cfg.timeouts.hello_ms = 200;
    let srv = start_tls(cfg).await;
    for first in [&b""[..], &[0x16, 0x03, 0x01][..]] {
        // Nothing at all, then the start of a ClientHello that never ends.
        let mut s = tokio::net::TcpStream::connect(srv.tls.unwrap())
            .await
            .unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut s, first)
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(STEP, s.read(&mut buf))
            .await
            .expect("closed by the server in time")
            .unwrap_or(0);
        assert_eq!(n, 0, "nothing but the close");
    }
    srv.stop().await;
}
