//! Criterion micro-benchmark of the enqueue/fan-out path: a run of 64
//! publishes through `Broker::publish_many` (topic lock, seq, one encode
//! per message, history, one `push_many` per subscriber) and the writer's
//! `drain` of every subscriber queue — everything but the sockets.
//!
//! `cargo bench --bench fanout`

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use spate::broker::{Broker, PublishScratch};
use spate::config::Config;
use spate::queue::subscriber::Scheduler;
use spate::queue::Item;
use spate_proto::{ErrorCode, Publish, PublishRef, SubscribeOptions, Text};

/// A writer that is never woken: the benchmark drains queues itself.
struct NoWriter;

impl Scheduler for NoWriter {
    fn enqueue(&self, _q: Arc<spate::queue::SubscriberQueue>) -> bool {
        false
    }
    fn wake(&self) {}
    fn kill(&self, _code: ErrorCode, _reference: u32, _message: String) {}
}

fn fanout(c: &mut Criterion) {
    const RUN: usize = 64;
    let mut g = c.benchmark_group("publish_many+drain");
    for payload in [16usize, 1024] {
        for subs in [1u32, 10, 100] {
            let broker = Broker::new(Arc::new(Config::default()));
            let opts = SubscribeOptions {
                queue_msgs: Some(1_000_000),
                ..Default::default()
            };
            let queues: Vec<_> = (0..subs)
                .map(|i| {
                    broker
                        .subscribe(i, "bench.fanout", &opts, Arc::new(NoWriter))
                        .unwrap()
                })
                .collect();
            let pubs: Vec<Publish> = (0..RUN)
                .map(|i| Publish {
                    request_id: i as u32,
                    ack: false,
                    topic: Text::from("bench.fanout"),
                    key: None,
                    headers: Vec::new(),
                    payload: Bytes::from(vec![7u8; payload]),
                })
                .collect();
            let pubs: Vec<PublishRef> = pubs.iter().map(PublishRef::from).collect();
            let (mut out, mut blocked, mut scratch) =
                (Vec::new(), Vec::new(), PublishScratch::default());
            let mut items: Vec<Item> = Vec::new();
            g.throughput(Throughput::Elements(RUN as u64 * u64::from(subs)));
            g.bench_function(
                BenchmarkId::new(format!("{payload}B"), format!("{subs} subscribers")),
                |b| {
                    b.iter(|| {
                        broker.publish_many(&pubs, &mut out, &mut blocked, &mut scratch);
                        out.clear();
                        for q in &queues {
                            items.clear();
                            q.drain(&mut items, usize::MAX, Instant::now());
                        }
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
