//! Prometheus metrics. `GET /metrics` renders three sources:
//!
//! - **Broker figures** (connections, traffic, losses, queues, memory): at
//!   scrape time [`Exporter::render`] copies the broker's running
//!   [`Totals`] (counters kept as things happen; no topic is locked) into a
//!   recorder of its own and renders it. Nothing extra runs on the hot path
//!   for them.
//! - **Publish-ack latency**: a fixed-bucket histogram the broker keeps
//!   itself ([`crate::broker::counters::AckLatency`]): a few atomic adds
//!   per acknowledged run, constant memory. (The exporter's own histograms
//!   keep every sample until they are folded, which grew the broker by
//!   ~20 bytes per acked publish between scrapes.)
//! - **Anything recorded with the `metrics` facade** into the process-wide
//!   recorder [`install_global`] sets up; its text is appended, and
//!   [`run_upkeep`] folds its samples on a timer whether or not anybody
//!   scrapes.
//!
//! Names follow Prometheus conventions: a `spate_` prefix, base units in the
//! name (`_bytes`, `_seconds`), `_total` on counters. Labels take only
//! small fixed sets of values (reason, policy), never client names.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, gauge, Unit};
use metrics_exporter_prometheus::formatting::{
    write_help_line, write_metric_line, write_type_line,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use parking_lot::Mutex;

pub use crate::broker::counters::LATENCY_BUCKETS;
pub use crate::stats::fill_ratio;
use crate::stats::{LatencyFigures, Totals};

/// Histogram of the time from reading a PUBLISH that asked for an
/// acknowledgement to queuing its PUB_ACK, seconds. Kept by the broker
/// ([`crate::broker::counters::AckLatency`]).
pub const PUBLISH_ACK_LATENCY: &str = "spate_publish_ack_latency_seconds";

/// How often [`run_upkeep`] folds the global recorder's histogram samples
/// (the exporter needs this upkeep or its histogram buffers grow).
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static GLOBAL: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder once and returns its
/// handle; `None` if some other recorder was installed first (its metrics
/// then simply do not appear on `/metrics`).
pub fn install_global() -> Option<PrometheusHandle> {
    GLOBAL
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}

/// Folds `handle`'s histogram samples every [`UPKEEP_INTERVAL`], forever:
/// spawn it at start-up, independent of the admin listener, so samples
/// recorded through the facade cannot pile up between (or without) scrapes.
pub async fn run_upkeep(handle: PrometheusHandle) {
    let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        handle.run_upkeep();
    }
}

/// Renders `/metrics`: the broker's totals plus the global recorder.
pub struct Exporter {
    snapshot: Mutex<PrometheusRecorder>,
    global: Option<PrometheusHandle>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").finish_non_exhaustive()
    }
}

impl Exporter {
    /// An exporter whose broker metrics live in a recorder of its own (so
    /// two brokers in one process, as in tests, never mix figures), and
    /// that appends `global`'s text when given.
    pub fn new(global: Option<PrometheusHandle>) -> Exporter {
        let recorder = PrometheusBuilder::new().build_recorder();
        metrics::with_local_recorder(&recorder, describe_snapshot_metrics);
        Exporter {
            snapshot: Mutex::new(recorder),
            global,
        }
    }

    /// Sets every broker metric from `t` and renders the exposition text.
    pub fn render(&self, t: &Totals) -> String {
        let mut out = {
            let recorder = self.snapshot.lock();
            metrics::with_local_recorder(&*recorder, || record_totals(t));
            recorder.handle().render()
        };
        render_latency(&mut out, &t.ack_latency);
        t.auth.render(&mut out);
        if let Some(g) = &self.global {
            g.run_upkeep();
            out.push_str(&g.render());
        }
        out
    }
}

/// Appends the publish-ack latency histogram in the exposition format
/// (the same lines the Prometheus exporter writes for a histogram).
fn render_latency(out: &mut String, f: &LatencyFigures) {
    let name = PUBLISH_ACK_LATENCY;
    write_help_line(
        out,
        name,
        "Time from reading an acknowledged PUBLISH to queuing its PUB_ACK.",
    );
    write_type_line(out, name, "histogram");
    let no_labels: &[String] = &[];
    for (le, n) in LATENCY_BUCKETS.iter().zip(f.cumulative) {
        write_metric_line(
            out,
            name,
            Some("bucket"),
            no_labels,
            Some(("le", le)),
            n,
            None,
        );
    }
    write_metric_line(
        out,
        name,
        Some("bucket"),
        no_labels,
        Some(("le", "+Inf")),
        f.count,
        None,
    );
    write_metric_line::<&str, f64>(out, name, Some("sum"), no_labels, None, f.sum_secs, None);
    write_metric_line::<&str, u64>(out, name, Some("count"), no_labels, None, f.count, None);
    out.push('\n');
}

fn describe_snapshot_metrics() {
    describe_gauge!(
        "spate_build_info",
        "Always 1; the version label names the running build."
    );
    describe_gauge!(
        "spate_uptime_seconds",
        Unit::Seconds,
        "Seconds since the server started."
    );
    describe_gauge!(
        "spate_accepting",
        "1 while accepting new clients, 0 while shutting down."
    );
    describe_gauge!("spate_connections", "Open client connections.");
    describe_gauge!("spate_subscriptions", "Live subscriptions.");
    describe_gauge!(
        "spate_subscriptions_by_policy",
        "Live subscriptions by backpressure policy."
    );
    describe_gauge!("spate_topics", "Topics tracked.");
    describe_counter!("spate_messages_in_total", "Messages published (accepted).");
    describe_counter!(
        "spate_bytes_in_total",
        Unit::Bytes,
        "Payload bytes published."
    );
    describe_counter!(
        "spate_messages_out_total",
        "Messages written to subscribers."
    );
    describe_counter!(
        "spate_bytes_out_total",
        Unit::Bytes,
        "Bytes written to client sockets."
    );
    describe_counter!(
        "spate_lost_messages_total",
        "Messages subscribers lost, by reason (the policy that dropped or conflated them)."
    );
    describe_counter!(
        "spate_gap_notices_total",
        "GAP notices sent to subscribers."
    );
    describe_counter!("spate_disconnects_total", "Connections closed, by reason.");
    describe_counter!(
        "spate_publisher_blocks_total",
        "Publishes that waited for a full `block` queue."
    );
    describe_gauge!("spate_queued_messages", "Messages queued for subscribers.");
    describe_gauge!(
        "spate_queued_bytes",
        Unit::Bytes,
        "Bytes queued for subscribers."
    );
    describe_gauge!(
        "spate_queue_max_fill_ratio",
        "Fill of the fullest subscriber queue: the larger of messages/limit and bytes/limit. 0 to 1, except that a `block` queue may go above 1 by one read run per publisher (protocol.md 10.2: up to 1,024 frames and 256 KiB plus one frame), e.g. 3.5 for 350 messages in a queue of 100."
    );
    describe_gauge!(
        "spate_history_bytes",
        Unit::Bytes,
        "Bytes retained in topic histories."
    );
    describe_gauge!(
        "spate_memory_budget_bytes",
        Unit::Bytes,
        "Server-wide memory budget."
    );
    describe_gauge!(
        "spate_memory_used_bytes",
        Unit::Bytes,
        "Bytes of the memory budget in use."
    );
}

fn record_totals(t: &Totals) {
    let v = &t.server;
    gauge!("spate_build_info", "version" => v.version.clone()).set(1.0);
    gauge!("spate_uptime_seconds").set(v.uptime_secs as f64);
    gauge!("spate_accepting").set(if v.accepting { 1.0 } else { 0.0 });
    gauge!("spate_connections").set(v.connections as f64);
    gauge!("spate_subscriptions").set(v.subscriptions as f64);
    gauge!("spate_topics").set(v.topics as f64);
    counter!("spate_messages_in_total").absolute(v.messages_in);
    counter!("spate_bytes_in_total").absolute(v.bytes_in);
    counter!("spate_messages_out_total").absolute(v.messages_out);
    counter!("spate_bytes_out_total").absolute(v.bytes_out);
    for (reason, n) in &v.lost_messages {
        counter!("spate_lost_messages_total", "reason" => reason.clone()).absolute(*n);
    }
    counter!("spate_gap_notices_total").absolute(v.gap_notices);
    for (reason, n) in &v.disconnects {
        counter!("spate_disconnects_total", "reason" => reason.clone()).absolute(*n);
    }
    counter!("spate_publisher_blocks_total").absolute(v.publisher_blocks);
    gauge!("spate_queued_messages").set(v.queued_messages as f64);
    gauge!("spate_queued_bytes").set(v.queued_bytes as f64);
    gauge!("spate_history_bytes").set(v.history_bytes as f64);
    gauge!("spate_memory_budget_bytes").set(v.memory_budget_bytes as f64);
    gauge!("spate_memory_used_bytes").set(v.memory_used_bytes as f64);

    for p in spate_proto::Policy::ALL {
        let n = t
            .subscriptions_by_policy
            .get(p.name())
            .copied()
            .unwrap_or(0);
        gauge!("spate_subscriptions_by_policy", "policy" => p.name()).set(n as f64);
    }
    gauge!("spate_queue_max_fill_ratio").set(t.queue_max_fill_ratio);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::counters::AckLatency;
    use crate::stats::{ConnectionStats, StatsSnapshot, SubscriptionStats};

    fn sample() -> StatsSnapshot {
        let mut s = StatsSnapshot::default();
        s.server.version = "9.9.9".into();
        s.server.connections = 2;
        s.server.messages_in = 1500;
        s.server.bytes_out = 1 << 20;
        s.server.lost_messages.insert("dropped_oldest".into(), 7);
        s.server.disconnects.insert("slow_consumer".into(), 1);
        s.connections.push(ConnectionStats {
            subscriptions: vec![SubscriptionStats {
                policy: "conflate".into(),
                queue_messages: 30,
                queue_limit_messages: 40,
                queue_limit_bytes: 1000,
                ..SubscriptionStats::default()
            }],
            ..ConnectionStats::default()
        });
        s
    }

    #[test]
    fn snapshot_becomes_prometheus_text() {
        let text = Exporter::new(None).render(&Totals::from(&sample()));
        for line in [
            "# TYPE spate_messages_in_total counter",
            "spate_messages_in_total 1500",
            "spate_bytes_out_total 1048576",
            "spate_connections 2",
            "spate_lost_messages_total{reason=\"dropped_oldest\"} 7",
            "spate_disconnects_total{reason=\"slow_consumer\"} 1",
            "spate_subscriptions_by_policy{policy=\"conflate\"} 1",
            "spate_subscriptions_by_policy{policy=\"block\"} 0",
            "spate_queue_max_fill_ratio 0.75",
            "spate_build_info{version=\"9.9.9\"} 1",
            "# HELP spate_queued_bytes Bytes queued for subscribers.",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn exporters_do_not_share_figures() {
        let a = Exporter::new(None);
        let b = Exporter::new(None);
        a.render(&Totals::from(&sample()));
        let text = b.render(&Totals::default());
        assert!(
            text.lines().any(|l| l == "spate_messages_in_total 0"),
            "{text}"
        );
    }

    #[test]
    fn latency_histogram_is_rendered_with_buckets() {
        let h = AckLatency::default();
        h.record(7, 0.000_3, 4);
        h.record(8, 2.0, 1);
        let t = Totals {
            ack_latency: h.figures(),
            ..Totals::default()
        };
        let text = Exporter::new(None).render(&t);
        for line in [
            "# TYPE spate_publish_ack_latency_seconds histogram",
            "spate_publish_ack_latency_seconds_bucket{le=\"0.00025\"} 0",
            "spate_publish_ack_latency_seconds_bucket{le=\"0.0005\"} 4",
            "spate_publish_ack_latency_seconds_bucket{le=\"0.000025\"} 0",
            "spate_publish_ack_latency_seconds_bucket{le=\"1\"} 4",
            "spate_publish_ack_latency_seconds_bucket{le=\"+Inf\"} 5",
            "spate_publish_ack_latency_seconds_count 5",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        let sum = text
            .lines()
            .find_map(|l| l.strip_prefix("spate_publish_ack_latency_seconds_sum "))
            .expect("sum line");
        assert!((sum.parse::<f64>().unwrap() - 2.0012).abs() < 1e-6, "{sum}");
    }

    #[test]
    fn global_recorder_text_is_appended() {
        let global = install_global();
        assert!(global.is_some(), "no other recorder in this test binary");
        metrics::counter!("spate_test_global_total").increment(3);
        let text = Exporter::new(global).render(&Totals::default());
        assert!(text.contains("spate_test_global_total 3"), "{text}");
    }
}
