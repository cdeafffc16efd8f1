//! Acknowledged publishes must not leave anything behind per publish in
//! the metrics machinery. A `metrics` facade histogram keeps every sample
//! until its recorder folds it (the Prometheus exporter does that only on
//! upkeep): the broker grew by ~20 bytes per acked publish that way. Here
//! the process-wide recorder counts every histogram sample handed to it;
//! after N acked publishes through a real server it must have seen none,
//! while the broker's own fixed-size histogram counted all N.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use spate_proto::Frame;

/// Counts histogram samples recorded through the facade; ignores the rest.
#[derive(Default)]
struct SampleCounter(AtomicU64);

impl HistogramFn for SampleCounter {
    fn record(&self, _value: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

struct CountingRecorder(Arc<SampleCounter>);

impl Recorder for CountingRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.0.clone())
    }
}

#[tokio::test]
async fn acked_publishes_keep_no_samples_outside_fixed_buckets() {
    const N: u64 = 5_000;
    const ROUND: u64 = 500;
    let samples = Arc::new(SampleCounter::default());
    metrics::set_global_recorder(CountingRecorder(samples.clone()))
        .unwrap_or_else(|_| panic!("the only recorder of this test binary"));

    let srv = start_default().await;
    let mut c = RawClient::connect(srv.addr).await;
    let mut acked = 0;
    for round in 0..N / ROUND {
        for i in 0..ROUND {
            let id = (round * ROUND + i + 1) as u32;
            c.feed(Frame::Publish(publish(
                id,
                "lat.t",
                &b"0123456789abcdef"[..],
                true,
            )))
            .await;
        }
        c.flush_io().await;
        for _ in 0..ROUND {
            match c.recv().await {
                Frame::PubAck { .. } => acked += 1,
                f => panic!("expected PUB_ACK, got {f:?}"),
            }
        }
    }
    assert_eq!(acked, N);

    assert_eq!(
        samples.0.load(Ordering::Relaxed),
        0,
        "acked publishes recorded samples through the metrics facade, which \
         keeps each one until upkeep: memory grows with every publish"
    );
    let lat = srv.broker.totals().ack_latency;
    assert_eq!(lat.count, N, "the broker's histogram counted every ack");
    assert!(lat.cumulative.iter().all(|n| *n <= N), "{lat:?}");
    assert!(lat.sum_secs > 0.0, "{lat:?}");
    srv.stop().await;
}
