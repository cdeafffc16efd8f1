//! The built `spate` binary run as a user runs it: a command aimed at a
//! server through `SPATE_SERVER`, and its exit code and output.

use std::process::Stdio;

use tokio::process::Command;

use super::STEP;

/// `spate` with `SPATE_SERVER=addr`, no stdin, stdout and stderr captured,
/// killed if the test drops it.
pub fn spate_at(addr: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spate"));
    c.env("SPATE_SERVER", addr)
        .env_remove("SPATE_ADMIN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

/// What a finished command left.
pub struct Output {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Everything it printed to stdout.
    pub stdout: String,
    /// Everything it printed to stderr.
    pub stderr: String,
}

/// Runs `cmd` to its end (within [`STEP`]) and collects its output.
pub async fn run(cmd: &mut Command) -> Output {
    let out = tokio::time::timeout(STEP, cmd.output())
        .await
        .expect("command did not finish")
        .expect("spawn spate");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
