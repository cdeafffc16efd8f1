//! `spate config` and configuration precedence, through the real binary:
//! good files pass, each kind of bad file fails with FILE:LINE:COLUMN,
//! the field and the reason; `config default` prints exactly the packaged
//! file; and flag > SPATE_* variable > file > default.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `spate ARGS` with a clean environment: no SPATE_* or RUST_LOG leak in
/// from the shell running the tests.
fn spate(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spate"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SPATE_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("run spate")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs `spate config check` on `text` and returns (success, stderr).
fn check(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "spate.toml", text);
    let o = spate(&["config", "check", p.to_str().unwrap()], &[]);
    let err = stderr(&o).replace(p.to_str().unwrap(), "FILE");
    (o.status.success(), err)
}

#[test]
fn good_files_pass() {
    for text in [
        "",
        "[server]\nlisten = \"0.0.0.0:7411\"\n",
        "# comment only\n[queues]\ndefault_policy = \"block\"\ndefault_msgs = 100\n",
        "[[history.overrides]]\npattern = \"prices.>\"\nmax_msgs = 10\nmax_bytes = 1_000\n\n[[history.overrides]]\npattern = \"chat.*.typing\"\nmax_msgs = 0\nmax_bytes = 0\n",
        "[log]\nlevel = \"spate=debug,info\"\nformat = \"json\"\n",
    ] {
        let (ok, err) = check(text);
        assert!(ok, "{text:?} should pass: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "a.toml", "");
    let o = spate(&["config", "check", p.to_str().unwrap()], &[]);
    assert_eq!(stdout(&o), format!("{}: ok\n", p.display()));
}

#[test]
fn each_kind_of_bad_file_says_where_and_why() {
    let cases: &[(&str, &str)] = &[
        // Unknown key in a known table (a typo).
        (
            "[queues]\ndefault_msgs = 5\ndefualt_bytes = 9\n",
            "FILE:3:1: queues.defualt_bytes: unknown field `defualt_bytes`, expected one of",
        ),
        // Unknown table.
        ("[queue]\nmax_msgs = 1\n", "FILE:1:2: queue: unknown field `queue`"),
        // Unknown top-level key.
        ("listen = \"127.0.0.1:1\"\n", "FILE:1:1: listen: unknown field `listen`"),
        // Wrong type.
        (
            "[limits]\nmax_connections = \"many\"\n",
            "FILE:2:19: limits.max_connections: invalid type: string \"many\", expected u32",
        ),
        // Out of range for the type.
        ("[limits]\nmax_topic_len = 70000\n", "FILE:2:17: limits.max_topic_len: invalid value: integer `70000`"),
        // TOML syntax.
        ("[server\nlisten = 1\n", "FILE:1:8: "),
        // Bad enum value.
        (
            "[queues]\ndefault_policy = \"fast\"\n",
            "FILE:2:18: queues.default_policy: unknown policy \"fast\": expected block, drop-oldest",
        ),
        // Bad address.
        ("[server]\nlisten = \"localhost\"\n", "FILE:2:10: server.listen: invalid socket address syntax"),
        // Semantic: default above maximum.
        (
            "[queues]\nmax_msgs = 10\ndefault_msgs = 20\n",
            "FILE:3:16: queues.default_msgs: 20 exceeds queues.max_msgs (10)",
        ),
        // Semantic: bad history override pattern.
        (
            "[[history.overrides]]\npattern = \"a.>.b\"\nmax_msgs = 1\nmax_bytes = 1\n",
            "FILE:2:11: history.overrides[0].pattern: \"a.>.b\" is not a valid topic pattern",
        ),
        // Semantic: missing required field of an override.
        (
            "[[history.overrides]]\npattern = \"a\"\nmax_msgs = 1\n",
            "history.overrides[0]: missing field `max_bytes`",
        ),
        // Semantic: log level and format.
        ("[log]\nlevel = \"loud\"\n", "FILE:2:9: log.level: invalid log level \"loud\""),
        ("[log]\nformat = \"xml\"\n", "FILE:2:10: log.format: unknown format \"xml\""),
        // Semantic: frame limit range.
        ("[limits]\nmax_frame_bytes = 10\n", "FILE:2:19: limits.max_frame_bytes: 10 is out of range"),
    ];
    for (text, want) in cases {
        let (ok, err) = check(text);
        assert!(!ok, "{text:?} should fail");
        assert!(err.contains(want), "{text:?}:\nwant {want:?}\ngot  {err}");
    }
}

#[test]
fn all_semantic_problems_are_listed_at_once() {
    let (ok, err) = check("[queues]\nmax_msgs = 10\ndefault_msgs = 20\n[log]\nformat = \"xml\"\n");
    assert!(!ok);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(err.contains("FILE:3:16: queues.default_msgs"), "{err}");
    assert!(err.contains("FILE:5:10: log.format"), "{err}");
}

#[test]
fn every_error_of_a_file_is_listed_with_its_place() {
    let (ok, err) = check(
        "[queues]\n\
         defualt_msgs = 5\n\
         default_policy = \"fast\"\n\
         [limits]\n\
         max_connections = \"many\"\n\
         [nope]\n\
         a = 1\n\
         [log]\n\
         format = \"xml\"\n",
    );
    assert!(!ok);
    for want in [
        "FILE:2:1: queues.defualt_msgs: unknown field `defualt_msgs`",
        "FILE:3:18: queues.default_policy: unknown policy \"fast\"",
        "FILE:5:19: limits.max_connections: invalid type: string \"many\"",
        "FILE:6:2: nope: unknown field `nope`",
        "FILE:9:10: log.format: unknown format \"xml\"",
    ] {
        assert!(err.contains(want), "want {want:?} in\n{err}");
    }
    assert_eq!(err.matches("FILE:").count(), 5, "{err}");
}

#[test]
fn parse_errors_show_the_line_with_a_caret() {
    let (_, err) = check("[limits]\nmax_connections = \"many\"\n");
    assert!(
        err.contains("2 | max_connections = \"many\"\n  |                   ^"),
        "{err}"
    );
}

#[test]
fn missing_file_fails() {
    let o = spate(&["config", "check", "/nonexistent/spate.toml"], &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot read config file /nonexistent/spate.toml"));
}

#[test]
fn default_prints_the_packaged_file_which_is_valid() {
    let o = spate(&["config", "default"], &[]);
    assert!(o.status.success());
    let packaged =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/spate.toml")).unwrap();
    assert_eq!(
        o.stdout, packaged,
        "`spate config default` and packaging/spate.toml differ"
    );
    let (ok, err) = check(&stdout(&o));
    assert!(ok, "{err}");
    // Fully commented: every setting line has a comment above it or in its block.
    let text = stdout(&o);
    assert!(text.lines().filter(|l| l.starts_with('#')).count() > 60);
}

/// `spate config show` output parsed back into a table.
fn show(args: &[&str], envs: &[(&str, &str)]) -> toml::Table {
    let mut all = vec!["config", "show"];
    all.extend_from_slice(args);
    let o = spate(&all, envs);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).parse().expect("show prints TOML")
}

fn get<'a>(t: &'a toml::Table, table: &str, key: &str) -> &'a toml::Value {
    &t[table][key]
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "spate.toml",
        "[server]\nlisten = \"127.0.0.1:1001\"\n[queues]\nmemory_budget_bytes = 1_000_000\n[log]\nlevel = \"warn\"\n",
    );
    let f = file.to_str().unwrap();
    let listen = |t: &toml::Table| get(t, "server", "listen").as_str().unwrap().to_owned();

    // Default only.
    assert_eq!(listen(&show(&[], &[])), "127.0.0.1:7411");
    // File over default.
    let t = show(&["--config", f], &[]);
    assert_eq!(listen(&t), "127.0.0.1:1001");
    assert_eq!(
        get(&t, "queues", "memory_budget_bytes").as_integer(),
        Some(1_000_000)
    );
    // Unset keys keep their defaults.
    assert_eq!(
        get(&t, "limits", "max_connections").as_integer(),
        Some(10_000)
    );
    // Environment over file.
    let env = [
        ("SPATE_LISTEN", "127.0.0.1:2002"),
        ("SPATE_MEMORY_BUDGET", "2M"),
    ];
    let t = show(&["--config", f], &env);
    assert_eq!(listen(&t), "127.0.0.1:2002");
    assert_eq!(
        get(&t, "queues", "memory_budget_bytes").as_integer(),
        Some(2 << 20)
    );
    // Flag over environment.
    let t = show(
        &[
            "--config",
            f,
            "--listen",
            "127.0.0.1:3003",
            "--memory-budget",
            "3MiB",
        ],
        &env,
    );
    assert_eq!(listen(&t), "127.0.0.1:3003");
    assert_eq!(
        get(&t, "queues", "memory_budget_bytes").as_integer(),
        Some(3 << 20)
    );
    // SPATE_CONFIG names the file.
    let t = show(&[], &[("SPATE_CONFIG", f)]);
    assert_eq!(listen(&t), "127.0.0.1:1001");
}

#[test]
fn log_level_flag_then_spate_log_level_then_rust_log_then_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "spate.toml", "[log]\nlevel = \"warn\"\n");
    let f = file.to_str().unwrap();
    let level = |args: &[&str], envs: &[(&str, &str)]| {
        let mut a = vec!["--config", f];
        a.extend_from_slice(args);
        get(&show(&a, envs), "log", "level")
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(level(&[], &[]), "warn");
    assert_eq!(level(&[], &[("RUST_LOG", "debug")]), "debug");
    assert_eq!(
        level(&[], &[("RUST_LOG", "debug"), ("SPATE_LOG_LEVEL", "error")]),
        "error"
    );
    assert_eq!(
        level(&["--log-level", "trace"], &[("SPATE_LOG_LEVEL", "error")]),
        "trace"
    );
}

#[test]
fn every_documented_variable_is_read() {
    let envs = [
        ("SPATE_LISTEN", "127.0.0.1:4000"),
        ("SPATE_ADMIN_LISTEN", "127.0.0.1:4001"),
        ("SPATE_MAX_CONNECTIONS", "7"),
        ("SPATE_MAX_FRAME", "64K"),
        ("SPATE_MAX_SUBSCRIPTIONS", "8"),
        ("SPATE_MEMORY_BUDGET", "1G"),
        ("SPATE_DEFAULT_POLICY", "conflate"),
        ("SPATE_DEFAULT_QUEUE_MSGS", "9"),
        ("SPATE_DEFAULT_QUEUE_BYTES", "128K"),
        ("SPATE_MAX_QUEUE_MSGS", "10"),
        ("SPATE_MAX_QUEUE_BYTES", "256K"),
        ("SPATE_HISTORY_MSGS", "11"),
        ("SPATE_HISTORY_BYTES", "12"),
        ("SPATE_HISTORY_AGE_SECS", "13"),
        ("SPATE_PUBLISH_RATE", "14"),
        ("SPATE_SHUTDOWN_DRAIN_MS", "15"),
        ("SPATE_LOG_LEVEL", "debug"),
        ("SPATE_LOG_FORMAT", "json"),
        ("SPATE_NO_ADMIN", "1"),
    ];
    let t = show(&[], &envs);
    let int = |a: &str, b: &str| get(&t, a, b).as_integer().unwrap();
    let s = |a: &str, b: &str| get(&t, a, b).as_str().unwrap().to_owned();
    assert_eq!(s("server", "listen"), "127.0.0.1:4000");
    assert_eq!(s("server", "admin_listen"), "127.0.0.1:4001");
    assert_eq!(get(&t, "server", "admin_enabled").as_bool(), Some(false));
    assert_eq!(int("limits", "max_connections"), 7);
    assert_eq!(int("limits", "max_frame_bytes"), 64 << 10);
    assert_eq!(int("limits", "max_subscriptions_per_connection"), 8);
    assert_eq!(int("queues", "memory_budget_bytes"), 1 << 30);
    assert_eq!(s("queues", "default_policy"), "conflate");
    assert_eq!(int("queues", "default_msgs"), 9);
    assert_eq!(int("queues", "default_bytes"), 128 << 10);
    assert_eq!(int("queues", "max_msgs"), 10);
    assert_eq!(int("queues", "max_bytes"), 256 << 10);
    assert_eq!(int("history", "max_msgs"), 11);
    assert_eq!(int("history", "max_bytes"), 12);
    assert_eq!(int("history", "max_age_secs"), 13);
    assert_eq!(int("rate_limits", "publish_per_connection"), 14);
    assert_eq!(int("timeouts", "shutdown_drain_ms"), 15);
    assert_eq!(s("log", "level"), "debug");
    assert_eq!(s("log", "format"), "json");
}

#[test]
fn serve_refuses_a_bad_config_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "spate.toml",
        "[queues]\nmax_msgs = 10\ndefault_msgs = 20\n",
    );
    let o = spate(&["serve", "--config", file.to_str().unwrap()], &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("queues.default_msgs: 20 exceeds queues.max_msgs (10)"),
        "{}",
        stderr(&o)
    );
    // A bad value from a flag is blamed on the flag, and bad sizes are caught by clap.
    let o = spate(&["serve", "--default-queue-msgs", "2000000"], &[]);
    assert!(
        stderr(&o).contains("(set by a flag or SPATE_* variable)"),
        "{}",
        stderr(&o)
    );
    let o = spate(&["serve", "--memory-budget", "lots"], &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a byte size"), "{}", stderr(&o));
}
