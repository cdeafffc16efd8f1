//! A real redis-server for the engine tests: started on a free port in a
//! temporary directory, without persistence, and killed when dropped.
//! Missing `redis-server` skips the test with a notice, or fails it when
//! `SPATE_REQUIRE_REDIS=1` (set by scripts/test-all.sh).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use spate::config::engine::EngineKind;
use spate::config::Config;

/// A running redis-server.
pub struct RedisServer {
    /// Port it listens on (127.0.0.1).
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

/// Is redis-server on PATH? Panics if it is required and missing.
pub fn available() -> bool {
    let found = std::process::Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var("SPATE_REQUIRE_REDIS").as_deref() == Ok("1") {
            panic!("redis-server is required (SPATE_REQUIRE_REDIS=1) but not on PATH");
        }
        eprintln!("SKIPPED: redis-server not on PATH (apt-get install redis-server)");
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    /// Starts a fresh redis-server and waits until it accepts connections.
    pub async fn start() -> RedisServer {
        let dir = tempfile::tempdir().unwrap();
        let mut r = RedisServer {
            port: free_port(),
            child: None,
            dir,
        };
        r.launch().await;
        r
    }

    async fn launch(&mut self) {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start redis-server");
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        let ready = async {
            while let Some(l) = lines.next_line().await.unwrap() {
                if l.contains("Ready to accept connections") {
                    return true;
                }
            }
            false
        };
        let ok = tokio::time::timeout(Duration::from_secs(10), ready).await;
        assert!(matches!(ok, Ok(true)), "redis-server did not become ready");
        // Keep draining its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
    }

    /// The URL nodes connect to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL): everything it held is gone.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().await.expect("kill redis-server");
        }
    }

    /// Starts it again on the same port, empty.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.launch().await;
    }

    /// A connection for the test to look at or change what Redis holds.
    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .expect("connect to redis-server")
    }

    /// Node settings: the test defaults on this Redis.
    pub fn node_config(&self) -> Config {
        let mut c = super::test_config();
        c.engine.kind = EngineKind::Redis;
        c.engine.url = self.url();
        c.engine.command_timeout_ms = 1_000;
        c.engine.connect_timeout_ms = 1_000;
        c
    }

    /// A node as a separate `spate serve` process on this Redis (so a test
    /// can SIGKILL it), with the address from its ready line.
    pub async fn spawn_node(&self) -> (Child, std::net::SocketAddr) {
        let conf = self.dir.path().join(format!("node-{}.toml", free_port()));
        std::fs::write(
            &conf,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\nadmin_enabled = false\n\
                 [engine]\nkind = \"redis\"\nurl = \"{}\"\n",
                self.url()
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_spate"))
            .arg("serve")
            .arg("--config")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn spate serve");
        let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(line) = log.next_line().await.unwrap() {
                if line.contains("spate ready") {
                    let at = line.find("listen=").expect("listen= in the ready line") + 7;
                    return line[at..]
                        .split_whitespace()
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap();
                }
            }
            panic!("spate serve exited before it was ready");
        })
        .await
        .expect("spate serve did not become ready");
        tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
        (child, addr)
    }
}
