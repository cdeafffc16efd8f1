//! Aggregates a phase's recorders into the numbers users read
//! ([`PhaseReport`]), and prints a [`Report`] as a human table or JSON.
//!
//! Rates: *publish rate* is messages sent over the time until the broker
//! answered each publisher's final flush; *delivered rate* is messages
//! received by all measured subscribers together over the time from the
//! publishers' release to the last delivery. Latency is end to end (stamp
//! written → payload parsed), over every delivered message.

use std::fmt::Write as _;

use serde::Serialize;

use crate::config::BenchConfig;
use crate::phase::PhaseOutcome;
use crate::recorder::{new_histogram, Recorder};
use crate::subscriber::SubRole;

/// Most distinct error messages kept per phase.
const MAX_ERRORS: usize = 10;

/// Latency percentiles, microseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
}

/// The slow subscriber of the burst scenario.
#[derive(Debug, Clone, Serialize)]
pub struct SlowReport {
    /// Messages it should have received.
    pub expected: u64,
    /// Messages it received.
    pub delivered: u64,
    /// Losses the broker announced (spate GAP).
    pub gaps_reported: u64,
    /// Losses found from sequence numbers (every broker).
    pub seq_skipped: u64,
    /// The broker closed its connection before it had everything.
    pub disconnected: bool,
}

/// One phase's results.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    /// Phase label.
    pub name: String,
    /// Publisher connections.
    pub publishers: usize,
    /// Measured subscriber connections.
    pub subscribers: usize,
    /// Subscriptions held by all connections.
    pub subscriptions: usize,
    /// Messages published.
    pub published: u64,
    /// Seconds from release to the last publisher's flush answer.
    pub publish_secs: f64,
    /// Messages published per second.
    pub publish_rate: f64,
    /// Deliveries the measured subscribers should have had.
    pub expected: u64,
    /// Deliveries they had.
    pub delivered: u64,
    /// `expected - delivered`.
    pub lost: u64,
    /// Of those, announced by the broker (spate GAP).
    pub gaps_reported: u64,
    /// Sequence numbers skipped (single-topic scenarios).
    pub seq_skipped: u64,
    /// Sequence numbers that went backwards.
    pub seq_backwards: u64,
    /// Seconds from release to the last delivery.
    pub delivered_secs: f64,
    /// Deliveries per second, all measured subscribers together.
    pub delivered_rate: f64,
    /// Delivered payload MB (10^6 bytes) per second.
    pub delivered_mb_per_s: f64,
    /// End-to-end latency of the measured subscribers' messages.
    pub latency_us: Latency,
    /// The slow subscriber, if the phase had one.
    pub slow: Option<SlowReport>,
    /// Generator CPU over the phase, % of one core.
    pub gen_cpu_pct: f64,
    /// Broker CPU over the phase, % of one core (pid given).
    pub broker_cpu_pct: Option<f64>,
    /// Highest broker RSS sampled during the phase, MiB (pid given).
    pub broker_peak_rss_mib: Option<f64>,
    /// Seconds from release to the last subscriber finishing.
    pub wall_secs: f64,
    /// The hard timeout cut the phase short.
    pub truncated: bool,
    /// Errors seen (broker errors, disconnects).
    pub errors: Vec<String>,
}

/// A two-phase scenario's headline: the second phase relative to the first.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Which number is compared.
    pub metric: &'static str,
    /// Its value in the first phase.
    pub baseline: f64,
    /// Its value in the second.
    pub with: f64,
    /// `with / baseline`.
    pub ratio: f64,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: &'static str,
    /// Target broker name.
    pub broker: &'static str,
    /// The configuration run.
    pub config: BenchConfig,
    /// Generator runtime worker threads (0 = current-thread runtime).
    pub generator_threads: usize,
    /// Per phase.
    pub phases: Vec<PhaseReport>,
    /// Two-phase scenarios: the second against the first.
    pub comparison: Option<Comparison>,
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn per_sec(n: u64, s: f64) -> f64 {
    if s > 0.0 {
        n as f64 / s
    } else {
        0.0
    }
}

/// Publishes the broker processed per second: the flush-acknowledged
/// publish rate, or, when a phase ended without that acknowledgement (a
/// broker too slow for the deadline), the rate at which a subscriber that
/// matches every publish received them.
fn processed(p: &PhaseReport) -> f64 {
    if p.truncated || !p.errors.is_empty() {
        p.delivered_rate
    } else {
        p.publish_rate
    }
}

/// Aggregates one phase.
pub fn phase_report(o: &PhaseOutcome) -> PhaseReport {
    let normal: Vec<&Recorder> = o
        .subs
        .iter()
        .filter(|(r, _)| *r == SubRole::Normal)
        .map(|(_, r)| r)
        .collect();
    let expected: u64 = o
        .plan
        .subs
        .iter()
        .filter(|s| s.role == SubRole::Normal)
        .map(|s| s.expected)
        .sum();
    let sum = |f: fn(&Recorder) -> u64| normal.iter().map(|r| f(r)).sum::<u64>();
    let delivered = sum(|r| r.received);
    let mut hist = new_histogram();
    for r in &normal {
        // Same bounds everywhere, so adding cannot fail.
        let _ = hist.add(&r.latency);
    }
    let us = |q: f64| hist.value_at_quantile(q) as f64 / 1e3;
    let latency = if hist.is_empty() {
        Latency::default()
    } else {
        Latency {
            p50: us(0.5),
            p90: us(0.9),
            p99: us(0.99),
            p999: us(0.999),
            max: hist.max() as f64 / 1e3,
        }
    };
    let published: u64 = o.pubs.iter().map(|p| p.sent).sum();
    let publish_secs = secs(
        o.pubs
            .iter()
            .map(|p| p.finished_ns.saturating_sub(o.start_ns))
            .max()
            .unwrap_or(0),
    );
    let last = normal.iter().map(|r| r.last_ns).max().unwrap_or(0);
    let delivered_secs = secs(last.saturating_sub(o.start_ns));
    let slow = o
        .plan
        .subs
        .iter()
        .zip(&o.subs)
        .find_map(|(plan, (role, r))| {
            matches!(role, SubRole::Slow(_)).then(|| SlowReport {
                expected: plan.expected,
                delivered: r.received,
                gaps_reported: r.gaps_reported,
                seq_skipped: r.seq_skipped,
                disconnected: r.closed_early,
            })
        });
    let mut errors: Vec<String> = Vec::new();
    let all = o
        .pubs
        .iter()
        .flat_map(|p| &p.errors)
        .chain(o.subs.iter().flat_map(|(_, r)| &r.errors));
    for e in all {
        if errors.len() < MAX_ERRORS && !errors.contains(e) {
            errors.push(e.clone());
        }
    }
    let wall = o.wall.as_secs_f64();
    let pct = |d: std::time::Duration| 100.0 * d.as_secs_f64() / wall.max(1e-9);
    PhaseReport {
        name: o.plan.name.clone(),
        publishers: o.pubs.len(),
        subscribers: normal.len(),
        subscriptions: o.plan.subs.iter().map(|s| s.patterns.len()).sum(),
        published,
        publish_secs,
        publish_rate: per_sec(published, publish_secs),
        expected,
        delivered,
        lost: expected.saturating_sub(delivered),
        gaps_reported: sum(|r| r.gaps_reported),
        seq_skipped: sum(|r| r.seq_skipped),
        seq_backwards: sum(|r| r.seq_backwards),
        delivered_secs,
        delivered_rate: per_sec(delivered, delivered_secs),
        delivered_mb_per_s: per_sec(sum(|r| r.bytes), delivered_secs) / 1e6,
        latency_us: latency,
        slow,
        gen_cpu_pct: pct(o.gen_cpu),
        broker_cpu_pct: o.broker_cpu.map(pct),
        broker_peak_rss_mib: o.broker_peak_rss_kib.map(|k| k as f64 / 1024.0),
        wall_secs: wall,
        truncated: o.truncated,
        errors,
    }
}

impl Report {
    /// Assembles the report of a run.
    pub fn new(cfg: &BenchConfig, generator_threads: usize, phases: Vec<PhaseReport>) -> Report {
        let comparison = match (cfg.scenario.name(), phases.as_slice()) {
            ("burst", [a, b]) => Some(("delivered_rate", a.delivered_rate, b.delivered_rate)),
            ("wildcards", [a, b]) => Some(("processed_publish_rate", processed(a), processed(b))),
            _ => None,
        }
        .map(|(metric, baseline, with)| Comparison {
            metric,
            baseline,
            with,
            ratio: if baseline > 0.0 { with / baseline } else { 0.0 },
        });
        Report {
            scenario: cfg.scenario.name(),
            broker: cfg.broker.name(),
            config: cfg.clone(),
            generator_threads,
            phases,
            comparison,
        }
    }

    /// The human-readable table.
    pub fn to_table(&self) -> String {
        let c = &self.config;
        let mut s = String::new();
        let rate = c
            .rate
            .map_or("full speed".into(), |r| format!("{r} msgs/s"));
        let _ = writeln!(
            s,
            "spate bench {} → {} at {}: payload {} B, {} msgs × {} publishers, {rate}, generator {}",
            self.scenario,
            self.broker,
            match c.ws {
                true => format!("ws://{}/", c.addr),
                false => c.addr.to_string(),
            },
            c.payload,
            c.messages,
            c.publishers,
            match self.generator_threads {
                0 => "current-thread".to_string(),
                n => format!("{n} threads"),
            }
        );
        let _ = writeln!(
            s,
            "{:<16} {:>7} {:>11} {:>12} {:>9} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7} {:>7} {:>8}",
            "phase",
            "subs",
            "pub msg/s",
            "deliv msg/s",
            "MB/s",
            "lost",
            "p50 µs",
            "p90 µs",
            "p99 µs",
            "p99.9 µs",
            "max µs",
            "gen%",
            "brk%",
            "rss MiB"
        );
        for p in &self.phases {
            let opt = |v: Option<f64>, prec: usize| v.map_or("-".into(), |v| format!("{v:.prec$}"));
            let _ = writeln!(
                s,
                "{:<16} {:>7} {:>11.0} {:>12.0} {:>9.1} {:>9} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>9.1} {:>7.0} {:>7} {:>8}",
                p.name,
                p.subscriptions,
                p.publish_rate,
                p.delivered_rate,
                p.delivered_mb_per_s,
                p.lost,
                p.latency_us.p50,
                p.latency_us.p90,
                p.latency_us.p99,
                p.latency_us.p999,
                p.latency_us.max,
                p.gen_cpu_pct,
                opt(p.broker_cpu_pct, 0),
                opt(p.broker_peak_rss_mib, 1),
            );
            if p.gaps_reported > 0 || p.seq_skipped > 0 || p.seq_backwards > 0 {
                let _ = writeln!(
                    s,
                    "  {}: broker announced {} lost; sequence holes {}, backwards {}",
                    p.name, p.gaps_reported, p.seq_skipped, p.seq_backwards
                );
            }
            if let Some(w) = &p.slow {
                let _ = writeln!(
                    s,
                    "  slow subscriber: delivered {} of {}, broker announced {} lost, {} missing by sequence{}",
                    w.delivered,
                    w.expected,
                    w.gaps_reported,
                    w.seq_skipped,
                    if w.disconnected { ", disconnected by the broker" } else { "" }
                );
            }
            if p.truncated {
                let _ = writeln!(s, "  {}: cut short by the {:?} timeout", p.name, c.timeout);
            }
            for e in &p.errors {
                let _ = writeln!(s, "  {}: error: {e}", p.name);
            }
        }
        if let Some(k) = &self.comparison {
            let _ = writeln!(
                s,
                "{} {}: {:.0} → {:.0} ({:.1}%)",
                self.phases[1].name,
                k.metric,
                k.baseline,
                k.with,
                100.0 * k.ratio
            );
        }
        s
    }
}
