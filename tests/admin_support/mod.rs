//! Drives the real `spate serve` binary for black-box tests: starts it on
//! ephemeral ports with JSON logs, learns its addresses from the "spate
//! ready" log event, waits for later log events and for its exit, and
//! sends it signals. A daemon left running by a failed test is killed.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long any one expected event may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// Log lines kept (a test that logs more only loses the oldest).
const MAX_LINES: usize = 10_000;

type Lines = Arc<(Mutex<Vec<serde_json::Value>>, Condvar)>;

/// A running `spate serve`.
pub struct Daemon {
    pid: i32,
    /// Client listener.
    pub listen: SocketAddr,
    /// Admin listener.
    pub admin: SocketAddr,
    lines: Lines,
    exit: mpsc::Receiver<ExitStatus>,
    exited: Option<ExitStatus>,
}

impl Daemon {
    /// Starts `spate serve` on ephemeral ports with `args` and `envs`, and
    /// waits until it logs "spate ready".
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Daemon {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spate"));
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .args(["--log-format", "json", "--log-level", "info"])
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn spate serve");
        let pid = child.id() as i32;
        let stderr = child.stderr.take().unwrap();
        let lines: Lines = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let v = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "message": line, "raw": true }));
                let (m, cv) = &*sink;
                let mut m = m.lock().unwrap();
                if m.len() >= MAX_LINES {
                    m.remove(0);
                }
                m.push(v);
                cv.notify_all();
            }
        });
        let (tx, exit) = mpsc::sync_channel(1);
        std::thread::spawn(move || {
            let status = child.wait().expect("wait for spate serve");
            let _ = tx.send(status);
        });
        let mut d = Daemon {
            pid,
            listen: "0.0.0.0:0".parse().unwrap(),
            admin: "0.0.0.0:0".parse().unwrap(),
            lines,
            exit,
            exited: None,
        };
        let ready = d.wait_log("spate ready");
        d.listen = ready["listen"].as_str().unwrap().parse().unwrap();
        d.admin = ready["admin"].as_str().unwrap().parse().unwrap();
        d
    }

    /// Waits for a log event whose message is `message`; panics with the
    /// log so far if it does not come (or the daemon exits first).
    pub fn wait_log(&self, message: &str) -> serde_json::Value {
        let deadline = Instant::now() + WAIT;
        let (m, cv) = &*self.lines;
        let mut lines = m.lock().unwrap();
        loop {
            if let Some(v) = lines.iter().find(|v| v["message"] == message) {
                return v.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                panic!("no log event {message:?} within {WAIT:?}; log: {lines:#?}");
            }
            lines = cv.wait_timeout(lines, deadline - now).unwrap().0;
        }
    }

    /// Every log event so far.
    pub fn log(&self) -> Vec<serde_json::Value> {
        self.lines.0.lock().unwrap().clone()
    }

    /// Sends `sig` (e.g. `libc::SIGTERM`).
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) with a pid this test spawned and has not reaped
        // (the waiter thread reaps it only after it exits).
        let rc = unsafe { libc::kill(self.pid, sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid);
    }

    /// Waits for the daemon to exit.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        if let Some(s) = self.exited {
            return s;
        }
        let s = self.exit.recv_timeout(within).unwrap_or_else(|_| {
            panic!(
                "spate serve still running after {within:?}; log: {:#?}",
                self.log()
            )
        });
        self.exited = Some(s);
        s
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.exited.is_none() && self.exit.try_recv().is_err() {
            // SAFETY: as in `signal`; SIGKILL so a failed test leaves nothing
            // behind.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
    }
}
