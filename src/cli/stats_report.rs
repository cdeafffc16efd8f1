//! The readable summary `spate stats` prints from a [`StatsSnapshot`]: a
//! server block (traffic, queues, memory, losses), the busiest topics and
//! the subscribers with the deepest queues. Given the previous snapshot it
//! adds message rates, which is how `--watch` shows throughput.

use std::fmt::Write as _;
use std::time::Duration;

use crate::stats::fill_ratio;
use crate::stats::{ConnectionStats, StatsSnapshot, SubscriptionStats};

/// The previous snapshot and the time since it, for rates.
pub type Previous<'a> = Option<(&'a StatsSnapshot, Duration)>;

/// Renders the summary, with at most `top` rows per table.
pub fn render(s: &StatsSnapshot, prev: Previous<'_>, top: usize) -> String {
    let mut out = String::new();
    server(&mut out, s, prev);
    out.push('\n');
    topics(&mut out, s, top);
    out.push('\n');
    subscribers(&mut out, s, top);
    out
}

fn server(out: &mut String, s: &StatsSnapshot, prev: Previous<'_>) {
    let v = &s.server;
    let state = if v.accepting {
        "accepting"
    } else {
        "SHUTTING DOWN"
    };
    let _ = writeln!(
        out,
        "spate {}  server {}  up {}  {state}",
        v.version,
        v.server_id,
        duration(v.uptime_secs)
    );
    let _ = writeln!(
        out,
        "connections {}  subscriptions {}  topics {}",
        count(v.connections),
        count(v.subscriptions),
        count(v.topics)
    );
    let rate = |now: u64, before: fn(&StatsSnapshot) -> u64| match prev {
        Some((p, dt)) if dt > Duration::ZERO => {
            let d = now.saturating_sub(before(p)) as f64 / dt.as_secs_f64();
            format!("  {}/s", count(d.round() as u64))
        }
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "in   {} msgs  {}{}",
        count(v.messages_in),
        bytes(v.bytes_in),
        rate(v.messages_in, |p| p.server.messages_in)
    );
    let _ = writeln!(
        out,
        "out  {} msgs  {}{}",
        count(v.messages_out),
        bytes(v.bytes_out),
        rate(v.messages_out, |p| p.server.messages_out)
    );
    let _ = writeln!(
        out,
        "queued {} msgs  {}   history {}   memory {} of {} ({:.1}%)",
        count(v.queued_messages),
        bytes(v.queued_bytes),
        bytes(v.history_bytes),
        bytes(v.memory_used_bytes),
        bytes(v.memory_budget_bytes),
        100.0 * fill_ratio(v.memory_used_bytes, v.memory_budget_bytes)
    );
    let _ = writeln!(
        out,
        "lost {}   gap notices {}   publisher blocks {}",
        reasons(v.lost_messages.iter()),
        count(v.gap_notices),
        count(v.publisher_blocks)
    );
    let _ = writeln!(out, "disconnects {}", reasons(v.disconnects.iter()));
}

fn topics(out: &mut String, s: &StatsSnapshot, top: usize) {
    let _ = writeln!(
        out,
        "TOP TOPICS BY RATE ({} total)",
        count(s.server.topics.max(s.topics.len() as u64))
    );
    if s.topics.is_empty() {
        let _ = writeln!(out, "  (no topics)");
        return;
    }
    let mut t: Vec<_> = s.topics.iter().collect();
    t.sort_by(|a, b| {
        b.rate_per_sec
            .total_cmp(&a.rate_per_sec)
            .then(b.messages_in.cmp(&a.messages_in))
            .then(a.name.cmp(&b.name))
    });
    let _ = writeln!(
        out,
        "  {:>10} {:>12} {:>12} {:>6} {:>10}  TOPIC",
        "MSG/S", "MESSAGES", "SEQ", "SUBS", "HISTORY"
    );
    for t in t.into_iter().take(top) {
        let _ = writeln!(
            out,
            "  {:>10} {:>12} {:>12} {:>6} {:>10}  {}",
            format!("{:.1}", t.rate_per_sec),
            count(t.messages_in),
            t.seq,
            t.subscribers,
            bytes(t.history_bytes),
            t.name
        );
    }
}

fn subscribers(out: &mut String, s: &StatsSnapshot, top: usize) {
    let _ = writeln!(out, "SLOWEST SUBSCRIBERS BY QUEUE DEPTH");
    let mut subs: Vec<(&ConnectionStats, &SubscriptionStats)> = s
        .connections
        .iter()
        .flat_map(|c| c.subscriptions.iter().map(move |sub| (c, sub)))
        .filter(|(_, sub)| sub.queue_messages > 0 || lost(sub) > 0)
        .collect();
    if subs.is_empty() {
        let _ = writeln!(out, "  (no subscriber has a backlog or has lost messages)");
        return;
    }
    subs.sort_by(|(_, a), (_, b)| {
        b.queue_messages
            .cmp(&a.queue_messages)
            .then(b.queue_bytes.cmp(&a.queue_bytes))
            .then(lost(b).cmp(&lost(a)))
    });
    let _ = writeln!(
        out,
        "  {:>10} {:>10} {:>5} {:>10} {:<11} {:>6} {:<16} {:<21} {:>5}  PATTERN",
        "QUEUED", "BYTES", "FILL", "LOST", "POLICY", "CONN", "CLIENT", "PEER", "SUB"
    );
    for (c, sub) in subs.into_iter().take(top) {
        let fill = fill_ratio(sub.queue_messages, sub.queue_limit_messages)
            .max(fill_ratio(sub.queue_bytes, sub.queue_limit_bytes));
        let _ = writeln!(
            out,
            "  {:>10} {:>10} {:>4.0}% {:>10} {:<11} {:>6} {:<16} {:<21} {:>5}  {}",
            count(sub.queue_messages),
            bytes(sub.queue_bytes),
            100.0 * fill,
            count(lost(sub)),
            sub.policy,
            c.id,
            clip(&c.client_name, 16),
            c.peer,
            sub.sub_id,
            sub.pattern
        );
    }
}

fn lost(sub: &SubscriptionStats) -> u64 {
    sub.lost.values().sum()
}

/// `a 3, b 7` for the non-zero entries, or `none`.
fn reasons<'a>(m: impl Iterator<Item = (&'a String, &'a u64)>) -> String {
    let parts: Vec<String> = m
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {}", count(*n)))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut c: String = s.chars().take(max - 1).collect();
    c.push('~');
    c
}

/// `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `512 B`, `1.5 KiB`, `12.3 MiB`, `1.0 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// `45s`, `3m 07s`, `2h 03m`, `4d 05h`.
pub fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::TopicStats;

    #[test]
    fn the_server_id_reads_as_in_welcome_and_json() {
        let mut s = StatsSnapshot::default();
        s.server.server_id = 14_509_512_613_105_829_889;
        let text = render(&s, None, 5);
        assert!(text.contains("server 14509512613105829889 "), "{text}");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(1 << 30), "1.0 GiB");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(187), "3m 07s");
        assert_eq!(duration(7380), "2h 03m");
        assert_eq!(duration(90_000), "1d 01h");
    }

    fn snapshot() -> StatsSnapshot {
        let mut s = StatsSnapshot::default();
        s.server.version = "0.1.0".into();
        s.server.accepting = true;
        s.server.messages_in = 2000;
        s.server.lost_messages.insert("dropped_oldest".into(), 5);
        s.server.lost_messages.insert("conflated".into(), 0);
        for (name, rate) in [("slow", 1.0), ("busy", 500.0), ("mid", 20.0)] {
            s.topics.push(TopicStats {
                name: name.into(),
                rate_per_sec: rate,
                ..TopicStats::default()
            });
        }
        let sub = |id, queued, lost: u64| SubscriptionStats {
            sub_id: id,
            pattern: format!("p{id}"),
            policy: "drop-oldest".into(),
            queue_messages: queued,
            queue_limit_messages: 100,
            lost: [("dropped_oldest".to_owned(), lost)].into(),
            ..SubscriptionStats::default()
        };
        s.connections.push(ConnectionStats {
            id: 7,
            client_name: "a-very-long-client-name-indeed".into(),
            peer: "127.0.0.1:5000".into(),
            subscriptions: vec![sub(1, 10, 0), sub(2, 90, 5), sub(3, 0, 0)],
            ..ConnectionStats::default()
        });
        s
    }

    #[test]
    fn summary_orders_topics_by_rate_and_subscribers_by_depth() {
        let text = render(&snapshot(), None, 2);
        assert!(
            text.contains("lost dropped_oldest 5   gap notices 0"),
            "{text}"
        );
        assert!(text.contains("disconnects none"), "{text}");
        let busy = text.find("  busy").unwrap();
        let mid = text.find("  mid").unwrap();
        assert!(busy < mid, "{text}");
        assert!(!text.contains("  slow\n"), "top 2 only:\n{text}");
        let deep = text.find("  p2").unwrap();
        let shallow = text.find("  p1").unwrap();
        assert!(deep < shallow, "{text}");
        assert!(
            !text.contains("  p3"),
            "idle subscriptions are not listed:\n{text}"
        );
        assert!(text.contains(" 90% "), "{text}");
        assert!(text.contains("a-very-long-cli~"), "{text}");
    }

    #[test]
    fn rates_come_from_the_previous_snapshot() {
        let before = snapshot();
        let mut now = snapshot();
        now.server.messages_in += 1000;
        let text = render(&now, Some((&before, Duration::from_secs(2))), 5);
        assert!(text.contains("in   3,000 msgs  0 B  500/s"), "{text}");
    }

    #[test]
    fn empty_broker_says_so() {
        let text = render(&StatsSnapshot::default(), None, 5);
        assert!(text.contains("(no topics)"));
        assert!(text.contains("(no subscriber has a backlog"));
    }
}
