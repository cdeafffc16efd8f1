//! Semantic checks a TOML parser cannot make: a default larger than its
//! maximum, a zero where the server needs at least one, a history override
//! whose pattern is not a valid topic pattern (the server's own rules,
//! [`crate::topics::validate_pattern`]), a log level tracing cannot
//! parse, two listeners on one address. [`validate`] returns every problem
//! at once, so an operator fixes a file in one pass.

use super::error::Problem;
use super::Config;

/// Smallest `limits.max_frame_bytes` that still fits a HELLO, a SUBSCRIBE
/// with its options and an ERROR with a useful message.
pub const MIN_FRAME_BYTES: u32 = 1024;

/// Largest `limits.max_frame_bytes`: one frame is decoded in memory, so a
/// multi-gigabyte frame would be a denial of service waiting to happen.
pub const MAX_FRAME_BYTES: u32 = 256 * 1024 * 1024;

/// Log formats `log.format` accepts.
pub const LOG_FORMATS: [&str; 2] = ["text", "json"];

/// Checks `cfg` and returns every problem found (empty when valid).
pub fn validate(cfg: &Config) -> Vec<Problem> {
    let mut p = Vec::new();
    listeners(cfg, &mut p);
    limits(cfg, &mut p);
    queues(cfg, &mut p);
    history(cfg, &mut p);
    storage(cfg, &mut p);
    timeouts(cfg, &mut p);
    super::engine::validate(&cfg.engine, &mut p);
    log(cfg, &mut p);
    crate::auth::validate::check(cfg, &mut p);
    super::tls_validate::check(cfg, &mut p);
    p
}

fn listeners(cfg: &Config, p: &mut Vec<Problem>) {
    let s = &cfg.server;
    if s.admin_enabled && s.admin_listen == s.listen && s.listen.port() != 0 {
        p.push(Problem::new(
            "server.admin_listen",
            format!("is the same address as server.listen ({})", s.listen),
        ));
    }
    if let Some(ws) = s.ws_listen.filter(|a| a.port() != 0) {
        if ws == s.listen || (s.admin_enabled && ws == s.admin_listen) {
            p.push(Problem::new(
                "server.ws_listen",
                format!("{ws} is already used by server.listen or server.admin_listen"),
            ));
        }
    }
    for o in &s.ws_allowed_origins {
        if o != "*" && !(o.starts_with("http://") || o.starts_with("https://")) {
            p.push(Problem::new(
                "server.ws_allowed_origins",
                format!("{o:?} is neither \"*\" nor an http:// or https:// origin"),
            ));
        }
    }
}

fn limits(cfg: &Config, p: &mut Vec<Problem>) {
    let l = &cfg.limits;
    at_least_one(p, "limits.max_connections", l.max_connections.into());
    at_least_one(
        p,
        "limits.max_subscriptions_per_connection",
        l.max_subscriptions_per_connection.into(),
    );
    at_least_one(p, "limits.max_topics", l.max_topics);
    at_least_one(p, "limits.max_topic_len", l.max_topic_len.into());
    if !(MIN_FRAME_BYTES..=MAX_FRAME_BYTES).contains(&l.max_frame_bytes) {
        p.push(Problem::new(
            "limits.max_frame_bytes",
            format!(
                "{} is out of range: must be between {MIN_FRAME_BYTES} and {MAX_FRAME_BYTES}",
                l.max_frame_bytes
            ),
        ));
    }
}

fn queues(cfg: &Config, p: &mut Vec<Problem>) {
    let q = &cfg.queues;
    at_least_one(p, "queues.default_msgs", q.default_msgs.into());
    at_least_one(p, "queues.default_bytes", q.default_bytes);
    at_least_one(p, "queues.max_batch", q.max_batch.into());
    not_above(
        p,
        "queues.default_msgs",
        q.default_msgs.into(),
        "queues.max_msgs",
        q.max_msgs.into(),
    );
    not_above(
        p,
        "queues.default_bytes",
        q.default_bytes,
        "queues.max_bytes",
        q.max_bytes,
    );
    not_above(
        p,
        "queues.guaranteed_bytes",
        q.guaranteed_bytes,
        "queues.default_bytes",
        q.default_bytes,
    );
    // A queue that cannot hold one largest frame would lose every large
    // message: insist on room for at least one.
    if q.default_bytes > 0 && q.default_bytes < u64::from(cfg.limits.max_frame_bytes) {
        p.push(Problem::new(
            "queues.default_bytes",
            format!(
                "{} cannot hold one frame of limits.max_frame_bytes ({}); raise it to at least that",
                q.default_bytes, cfg.limits.max_frame_bytes
            ),
        ));
    }
}

fn history(cfg: &Config, p: &mut Vec<Problem>) {
    let max_len = usize::from(cfg.limits.max_topic_len);
    for (i, o) in cfg.history.overrides.iter().enumerate() {
        let field = format!("history.overrides[{i}].pattern");
        if let Err(why) = crate::topics::validate_pattern(&o.pattern, max_len) {
            p.push(Problem::new(
                field,
                format!("{:?} is not a valid topic pattern: {why}", o.pattern),
            ));
        } else if let Some(j) = cfg.history.overrides[..i]
            .iter()
            .position(|e| e.pattern == o.pattern)
        {
            p.push(Problem::new(
                field,
                format!(
                    "{:?} repeats history.overrides[{j}].pattern; the first match wins, so this entry never applies",
                    o.pattern
                ),
            ));
        }
    }
}

// h-storage: `[storage]`.
fn storage(cfg: &Config, p: &mut Vec<Problem>) {
    let st = &cfg.storage;
    at_least_one(p, "storage.fsync_interval_ms", st.fsync_interval_ms);
    if st.segment_bytes < 4096 {
        p.push(Problem::new(
            "storage.segment_bytes",
            "must be at least 4096 (a segment holds at least one record)",
        ));
    }
    let max_len = usize::from(cfg.limits.max_topic_len);
    for (i, r) in st.persist.iter().enumerate() {
        if let Err(why) = crate::topics::validate_pattern(&r.pattern, max_len) {
            p.push(Problem::new(
                format!("storage.persist[{i}].pattern"),
                format!("{:?} is not a valid topic pattern: {why}", r.pattern),
            ));
        }
    }
    if let Some(dir) = &st.dir {
        if dir.as_os_str().is_empty() {
            p.push(Problem::new(
                "storage.dir",
                "is empty: leave it out for in-memory only",
            ));
        }
        if cfg.engine.kind == super::engine::EngineKind::Redis {
            p.push(Problem::new(
                "storage.dir",
                "cannot be used with engine.kind = \"redis\": Redis keeps the seqs, history and \
                 state of every topic; remove [storage] dir (the log is for the memory engine)",
            ));
        }
    }
}

fn timeouts(cfg: &Config, p: &mut Vec<Problem>) {
    let t = &cfg.timeouts;
    at_least_one(p, "timeouts.hello_ms", t.hello_ms);
    if t.ping_interval_ms > 0 && t.ping_timeout_ms == 0 {
        p.push(Problem::new(
            "timeouts.ping_timeout_ms",
            "must be at least 1 while timeouts.ping_interval_ms is set",
        ));
    }
}

fn log(cfg: &Config, p: &mut Vec<Problem>) {
    if let Err(e) = crate::logging::parse_filter(&cfg.log.level) {
        p.push(Problem::new("log.level", e.to_string()));
    }
    if !LOG_FORMATS.contains(&cfg.log.format.as_str()) {
        p.push(Problem::new(
            "log.format",
            format!(
                "unknown format {:?}: expected \"text\" or \"json\"",
                cfg.log.format
            ),
        ));
    }
}

fn at_least_one(p: &mut Vec<Problem>, field: &str, v: u64) {
    if v == 0 {
        p.push(Problem::new(field, "must be at least 1"));
    }
}

fn not_above(p: &mut Vec<Problem>, field: &str, v: u64, max_field: &str, max: u64) {
    if v > max {
        p.push(Problem::new(
            field,
            format!("{v} exceeds {max_field} ({max})"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::HistoryOverride;

    fn fields(cfg: &Config) -> Vec<String> {
        validate(cfg).into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(validate(&Config::default()), vec![]);
    }

    #[test]
    fn default_above_max_is_reported() {
        let mut cfg = Config::default();
        cfg.queues.default_msgs = cfg.queues.max_msgs + 1;
        let problems = validate(&cfg);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "queues.default_msgs");
        assert!(
            problems[0].reason.contains("exceeds queues.max_msgs"),
            "{problems:?}"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut cfg = Config::default();
        cfg.limits.max_connections = 0;
        cfg.limits.max_frame_bytes = 10;
        cfg.log.format = "xml".into();
        cfg.log.level = "loud".into();
        cfg.server.admin_listen = cfg.server.listen;
        assert_eq!(
            fields(&cfg),
            [
                "server.admin_listen",
                "limits.max_connections",
                "limits.max_frame_bytes",
                "log.level",
                "log.format"
            ]
        );
    }

    #[test]
    fn queue_must_hold_one_frame() {
        let mut cfg = Config::default();
        cfg.queues.default_bytes = u64::from(cfg.limits.max_frame_bytes) - 1;
        cfg.queues.guaranteed_bytes = 0;
        assert_eq!(fields(&cfg), ["queues.default_bytes"]);
    }

    #[test]
    fn bad_and_repeated_history_patterns_are_reported() {
        let mut cfg = Config::default();
        let o = |p: &str| HistoryOverride {
            pattern: p.into(),
            max_msgs: 1,
            max_bytes: 1,
            max_age_secs: 0,
        };
        cfg.history.overrides = vec![
            o("orders.>"),
            o("a..b"),
            o("a.>.b"),
            o("a.b*"),
            o("orders.>"),
            o(""),
        ];
        let problems = validate(&cfg);
        let got: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            got,
            [
                "history.overrides[1].pattern",
                "history.overrides[2].pattern",
                "history.overrides[3].pattern",
                "history.overrides[4].pattern",
                "history.overrides[5].pattern"
            ]
        );
        assert!(problems[0].reason.contains("empty token"));
        assert!(problems[1].reason.contains("last token"));
        assert!(
            problems[2].reason.contains("must be a whole token"),
            "{problems:?}"
        );
        assert!(problems[3].reason.contains("repeats history.overrides[0]"));
        assert!(problems[4].reason.contains("is empty"));
    }

    #[test]
    fn ping_timeout_needed_with_interval() {
        let mut cfg = Config::default();
        cfg.timeouts.ping_timeout_ms = 0;
        assert_eq!(fields(&cfg), ["timeouts.ping_timeout_ms"]);
        cfg.timeouts.ping_interval_ms = 0;
        assert!(fields(&cfg).is_empty());
    }

    #[test]
    fn storage_and_the_redis_engine_are_refused_together() {
        let mut cfg = Config::default();
        cfg.storage.dir = Some("/var/lib/spate".into());
        cfg.engine.kind = super::super::engine::EngineKind::Redis;
        assert_eq!(fields(&cfg), vec!["storage.dir"]);
        cfg.engine.kind = super::super::engine::EngineKind::Memory;
        assert!(fields(&cfg).is_empty());
    }

    #[test]
    fn storage_settings_are_checked() {
        let mut cfg = Config::default();
        cfg.storage.segment_bytes = 100;
        cfg.storage.fsync_interval_ms = 0;
        cfg.storage.persist[0].pattern = "a.>.b".into();
        assert_eq!(
            fields(&cfg),
            vec![
                "storage.fsync_interval_ms",
                "storage.segment_bytes",
                "storage.persist[0].pattern"
            ]
        );
    }
}
