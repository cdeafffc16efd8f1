//! An idle connection holds no receive buffer: after its client has sent
//! a burst that filled the 64 KiB buffer, the buffer goes back as soon as
//! the socket runs dry, even though the handshake's HELLO arrived in it.

mod common;

use spate_proto::{ErrorCode, Frame, Hello, Text, PROTOCOL_VERSION};

use common::RawClient;

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line[6..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_keep_no_receive_buffer() {
    const CONNS: u64 = 300;
    let srv = common::start_default().await;
    // HELLO and, in the same write, a frame with an unknown opcode and a
    // 60 KiB body: the server reads both into one buffer (touching all of
    // it), answers the second with a non-fatal ERROR and waits for more.
    let mut burst = Frame::Hello(Hello {
        version: PROTOCOL_VERSION,
        flags: 0,
        client_name: Text::from_static("idle"),
        auth_token: Text::default(),
    })
    .to_bytes()
    .to_vec();
    let body = 60 * 1024;
    burst.extend_from_slice(&(body as u32 + 1).to_be_bytes());
    burst.push(0xee);
    burst.extend_from_slice(&vec![7u8; body]);

    let warm = RawClient::connect(srv.addr).await;
    let before = rss_kib();
    let mut conns = Vec::new();
    for _ in 0..CONNS {
        let mut c = RawClient::connect_raw(srv.addr).await;
        c.send_bytes(&burst).await;
        assert!(matches!(c.recv().await, Frame::Welcome(_)));
        c.expect_error(ErrorCode::UnknownOpcode, false).await;
        conns.push(c);
    }
    let per_conn = (rss_kib().saturating_sub(before)) * 1024 / CONNS;
    // One 64 KiB buffer kept per connection would be over 64 KiB here.
    assert!(
        per_conn < 32 * 1024,
        "{per_conn} bytes resident per idle connection"
    );
    drop((conns, warm));
    srv.stop().await;
}
