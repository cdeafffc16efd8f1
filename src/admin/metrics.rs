//! Prometheus metrics. Two sources feed `GET /metrics`:
//!
//! - **Broker figures** (connections, traffic, losses, queues, memory) are
//!   already counted by the broker; at scrape time [`Exporter::render`]
//!   copies a [`StatsSnapshot`] into a recorder of its own and renders it.
//!   Nothing extra runs on the hot path for them.
//! - **Hot-path histograms** (publish-ack latency) are recorded by the server
//!   with the `metrics` facade into the process-wide recorder that
//!   [`install_global`] sets up; their text is appended.
//!
//! Names follow Prometheus conventions: a `spate_` prefix, base units in the
//! name (`_bytes`, `_seconds`), `_total` on counters. Labels take only
//! small fixed sets of values (reason, policy), never client names.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use parking_lot::Mutex;

use crate::stats::StatsSnapshot;

/// Histogram of the time from reading a PUBLISH that asked for an
/// acknowledgement to queuing its PUB_ACK, seconds. Record it with
/// [`record_publish_ack`].
pub const PUBLISH_ACK_LATENCY: &str = "spate_publish_ack_latency_seconds";

/// Bucket bounds of [`PUBLISH_ACK_LATENCY`], seconds: 25 µs to 1 s.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 1.0,
];

/// How often the global recorder's histograms are folded (the exporter
/// needs this upkeep or its histogram buffers grow between scrapes).
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Records one publish-ack latency sample (a no-op until
/// [`install_global`] has run, e.g. in library tests).
pub fn record_publish_ack(elapsed: Duration) {
    metrics::histogram!(PUBLISH_ACK_LATENCY).record(elapsed.as_secs_f64());
}

static GLOBAL: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder once and returns its
/// handle; `None` if some other recorder was installed first (its metrics
/// then simply do not appear on `/metrics`).
pub fn install_global() -> Option<PrometheusHandle> {
    GLOBAL
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(PUBLISH_ACK_LATENCY.into()), &LATENCY_BUCKETS)
                .expect("bucket list is not empty");
            let handle = builder.install_recorder().ok()?;
            describe_histogram!(
                PUBLISH_ACK_LATENCY,
                Unit::Seconds,
                "Time from reading an acknowledged PUBLISH to queuing its PUB_ACK."
            );
            Some(handle)
        })
        .clone()
}

/// Renders `/metrics`: the broker's snapshot plus the global recorder.
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
    /// An exporter whose snapshot metrics live in a recorder of its own (so
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

    /// Sets every snapshot metric from `s` and renders the exposition text.
    pub fn render(&self, s: &StatsSnapshot) -> String {
        let mut out = {
            let recorder = self.snapshot.lock();
            metrics::with_local_recorder(&*recorder, || record_snapshot(s));
            recorder.handle().render()
        };
        if let Some(g) = &self.global {
            g.run_upkeep();
            out.push_str(&g.render());
        }
        out
    }
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

fn record_snapshot(s: &StatsSnapshot) {
    let v = &s.server;
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

    let mut by_policy: Vec<(&str, f64)> = spate_proto::Policy::ALL
        .iter()
        .map(|p| (p.name(), 0.0))
        .collect();
    let mut max_fill: f64 = 0.0;
    for sub in s.connections.iter().flat_map(|c| &c.subscriptions) {
        if let Some(slot) = by_policy.iter_mut().find(|(p, _)| *p == sub.policy) {
            slot.1 += 1.0;
        }
        max_fill = max_fill.max(fill_ratio(sub.queue_messages, sub.queue_limit_messages));
        max_fill = max_fill.max(fill_ratio(sub.queue_bytes, sub.queue_limit_bytes));
    }
    for (policy, n) in by_policy {
        gauge!("spate_subscriptions_by_policy", "policy" => policy).set(n);
    }
    gauge!("spate_queue_max_fill_ratio").set(max_fill);
}

/// `used / limit`, 0 when there is no limit.
pub fn fill_ratio(used: u64, limit: u64) -> f64 {
    if limit == 0 {
        0.0
    } else {
        used as f64 / limit as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{ConnectionStats, SubscriptionStats};

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
        let text = Exporter::new(None).render(&sample());
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
        a.render(&sample());
        let text = b.render(&StatsSnapshot::default());
        assert!(
            text.lines().any(|l| l == "spate_messages_in_total 0"),
            "{text}"
        );
    }

    #[test]
    fn global_histogram_is_appended_with_buckets() {
        let global = install_global();
        assert!(global.is_some(), "no other recorder in this test binary");
        record_publish_ack(Duration::from_micros(300));
        let text = Exporter::new(global).render(&StatsSnapshot::default());
        assert!(
            text.contains("# TYPE spate_publish_ack_latency_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("spate_publish_ack_latency_seconds_bucket{le=\"0.0005\"}"),
            "{text}"
        );
    }
}
