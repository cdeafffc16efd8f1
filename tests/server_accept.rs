//! The client listener takes a crowd: after a restart every client
//! reconnects at once, and connections the broker has not accepted yet
//! wait in the kernel's accept queue. With `TcpListener::bind`'s queue of
//! 1,024 the rest had their SYNs dropped and waited out a 1 s resend.

mod common;

use std::sync::Arc;
use std::time::Duration;

use spate::server::Server;
use tokio::net::TcpStream;

/// More connections than a 1,024-long accept queue holds, with nothing
/// accepting them, all complete at once.
#[tokio::test]
async fn a_crowd_of_connects_fits_in_the_accept_queue() {
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096);
    if somaxconn <= 1100 {
        eprintln!("skipped: net.core.somaxconn is {somaxconn}, which caps any listener near 1,024");
        return;
    }
    let n = somaxconn.min(2000);
    spate::server::nofile::raise_to_hard().expect("raise RLIMIT_NOFILE");
    let server = Server::bind(Arc::new(common::test_config())).await.unwrap();
    let addr = server.local_addr();
    // The server is never run: every connection stays in the accept queue.
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        // A dropped SYN is resent after 1 s: well past this.
        let c = tokio::time::timeout(Duration::from_millis(700), TcpStream::connect(addr))
            .await
            .unwrap_or_else(|_| panic!("connect #{} waited for a SYN resend", i + 1))
            .unwrap();
        conns.push(c);
    }
    assert_eq!(conns.len(), n);
    drop(server);
}
