//! `packaging/systemd/spate.service` passes `systemd-analyze verify` (with
//! ExecStart pointed at the binary under test, since /usr/bin/spate is
//! only there once the package is installed) and says what the package
//! and the operations docs promise: Type=notify, its own user, hardening,
//! a high descriptor limit. When systemd-analyze is missing the verify
//! test says so and passes; CI installs systemd so it runs there.

use std::path::{Path, PathBuf};
use std::process::Command;

fn unit_text() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/systemd/spate.service"),
    )
    .expect("packaging/systemd/spate.service")
}

fn systemd_analyze() -> Option<PathBuf> {
    ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// The unit's `Key=value` lines (comments and sections skipped).
fn settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn unit_file_verifies() {
    let Some(analyze) = systemd_analyze() else {
        eprintln!("SKIPPED: systemd-analyze not found (apt-get install systemd); the unit was not verified");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("spate.service");
    let text = unit_text().replace("/usr/bin/spate", env!("CARGO_BIN_EXE_spate"));
    std::fs::write(&unit, text).unwrap();

    // The man pages named in Documentation= exist once generated: point
    // man(1) at freshly generated ones when man is installed.
    let man = dir.path().join("man");
    let st = Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(["generate", "man", "--dir"])
        .arg(man.join("man1"))
        .status()
        .unwrap();
    assert!(st.success());
    let have_man = Path::new("/usr/bin/man").exists();
    let mut cmd = Command::new(analyze);
    cmd.arg("verify");
    if have_man {
        cmd.env("MANPATH", &man);
    } else {
        eprintln!("note: man(1) not installed; verifying without the Documentation= check");
        cmd.arg("--man=no");
    }
    let out = cmd.arg(&unit).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Warnings about other units on the machine are not ours; any line
    // naming our unit is (verify exits 0 on e.g. an unknown key).
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("spate.service"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
}

#[test]
fn unit_is_notify_unprivileged_and_hardened() {
    let s = settings(&unit_text());
    let has = |k: &str, v: &str| s.iter().any(|(a, b)| a == k && b == v);
    for (k, v) in [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        (
            "ExecStart",
            "/usr/bin/spate serve --config /etc/spate/spate.toml",
        ),
        ("User", "spate"),
        ("Group", "spate"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("StateDirectory", "spate"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
        ("LimitNOFILE", "1048576"),
        ("WantedBy", "multi-user.target"),
    ] {
        assert!(has(k, v), "missing {k}={v}");
    }
    // SIGHUP reloads users, permissions and limits (src/cli/reload.rs) and
    // the TLS certificate (tests/tls_reload.rs).
    assert!(has("ExecReload", "/bin/kill -HUP $MAINPID"));
}

#[test]
fn stop_timeout_exceeds_the_default_drain() {
    let s = settings(&unit_text());
    let stop = s
        .iter()
        .find(|(k, _)| k == "TimeoutStopSec")
        .expect("TimeoutStopSec set");
    let secs: u64 = stop.1.trim_end_matches('s').parse().unwrap();
    let drain_ms = spate::config::Config::default().timeouts.shutdown_drain_ms;
    assert!(
        secs * 1000 > drain_ms + 5_000,
        "TimeoutStopSec={secs}s leaves no room for a {drain_ms} ms drain"
    );
}
