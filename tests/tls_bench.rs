//! `spate bench` over TLS: the load generator's TLS connect path against a
//! server's TLS listener delivers every message (correctness, not speed).

mod tls_support;

use std::time::Duration;

use spate_bench::{self as bench, BenchConfig, BrokerKind, Scenario};
use tls_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_over_tls() {
    let pki = pki();
    let srv = start_tls(tls_config(&pki)).await;
    let mut c = BenchConfig::new(Scenario::Fanout, BrokerKind::Spate);
    c.addr = srv.tls.unwrap();
    c.tls = Some(bench::tls::BenchTls::new(&pki.ca.pem, "localhost").unwrap());
    c.messages = 3_000;
    c.publishers = 1;
    c.subscribers = 3;
    c.payload = 1024;
    c.timeout = Duration::from_secs(30);
    c.idle = Duration::from_secs(3);
    let r = bench::run(&c, 2).await.unwrap();
    let p = &r.phases[0];
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!((p.published, p.delivered, p.lost), (3_000, 9_000, 0));
    // The wrong CA is refused.
    c.tls = Some(bench::tls::BenchTls::new(&pki.other_ca.pem, "localhost").unwrap());
    let err = bench::run(&c, 2)
        .await
        .expect_err("untrusted certificate")
        .to_string();
    assert!(err.contains("UnknownIssuer"), "{err}");
    srv.stop().await;
}
