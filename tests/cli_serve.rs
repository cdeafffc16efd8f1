//! The whole command line as processes: `spate serve` on an ephemeral port,
//! a `spate sub` and `spate pub` talking to it.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const STEP: Duration = Duration::from_secs(10);

fn spate() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spate"));
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

/// Starts `spate serve` and returns it with the address from its
/// "spate ready" log line.
async fn serve() -> (Child, String) {
    let mut server = spate()
        .args(["serve", "--listen", "127.0.0.1:0", "--no-admin"])
        .spawn()
        .unwrap();
    let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(STEP, async {
        while let Some(line) = log.next_line().await.unwrap() {
            if line.contains("spate ready") {
                let at = line.find("listen=").expect("listen= in the ready line") + 7;
                return line[at..].split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("spate serve exited before it was ready");
    })
    .await
    .expect("spate serve did not become ready");
    // Keep draining the log so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
    (server, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sub_and_pub_as_processes() {
    let (_server, addr) = serve().await;
    // `--from 1` makes the outcome independent of whether the subscriber
    // is subscribed before or after each publish: the switch from replay
    // to live is atomic, so it prints each message exactly once.
    let sub = spate()
        .args([
            "sub",
            "--server",
            &addr,
            "orders.eu",
            "--from",
            "1",
            "--count",
            "3",
        ])
        .spawn()
        .unwrap();
    for payload in ["first", "second", "third"] {
        let out = spate()
            .args(["pub", "--server", &addr, "orders.eu", payload])
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = tokio::time::timeout(STEP, sub.wait_with_output())
        .await
        .expect("sub did not finish")
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "orders.eu first\norders.eu second\norders.eu third\n"
    );
}
