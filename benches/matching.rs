//! Micro-benchmarks for the topic layer: `SubscriptionTrie::matches` with and
//! without 100,000 wildcard subscriptions that cannot match (its cost must
//! not grow with them), with 100,000 literal subscriptions published to
//! round-robin over 100,000 topics, and `validate_topic`, which runs on every
//! publish.
//!
//! Run: `cargo bench --bench matching` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use spate::topics::{validate_topic, SubscriptionTrie};

/// How many subscriptions (and topics) the large cases hold.
const MANY: usize = 100_000;

/// The topic published to in the wildcard cases.
const TOPIC: &str = "orders.eu.created";

/// A trie with one subscription that matches [`TOPIC`], plus `others`
/// wildcard subscriptions that do not. The non-matching ones are spread
/// over four shapes that share part of the topic's walk, so the trie has to
/// miss in large child maps rather than at the root.
fn wildcard_trie(others: usize) -> SubscriptionTrie<u64> {
    let mut trie = SubscriptionTrie::new();
    trie.insert("orders.>", 0, 0);
    for i in 0..others {
        let pattern = match i % 4 {
            0 => format!("orders.*.x{i}"),
            1 => format!("*.eu.y{i}"),
            2 => format!("svc{i}.*.created"),
            _ => format!("user{i}.>"),
        };
        trie.insert(&pattern, i as u64 + 1, i as u64 + 1);
    }
    trie
}

/// `count` distinct three-token topics.
fn literal_topics(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("feed.{}.item{i}", i % 1000))
        .collect()
}

fn bench_wildcards(c: &mut Criterion) {
    let mut group = c.benchmark_group("matches_wildcards");
    group.throughput(Throughput::Elements(1));
    for (name, others) in [
        ("1_matching_0_others", 0),
        ("1_matching_100k_non_matching", MANY),
    ] {
        let trie = wildcard_trie(others);
        let mut out = Vec::with_capacity(8);
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                trie.matches(black_box(TOPIC), &mut out);
                assert_eq!(out.len(), 1);
            })
        });
    }
    group.finish();
}

fn bench_literals(c: &mut Criterion) {
    let topics = literal_topics(MANY);
    let mut trie = SubscriptionTrie::new();
    for (id, topic) in topics.iter().enumerate() {
        trie.insert(topic, id as u64, id as u64);
    }
    let unsubscribed: Vec<String> = (0..MANY)
        .map(|i| format!("feed.{}.other{i}", i % 1000))
        .collect();

    let mut group = c.benchmark_group("matches_literals_100k_subs");
    group.throughput(Throughput::Elements(1));
    for (name, published, want) in [
        ("hit_round_robin_100k_topics", &topics, 1),
        ("miss_round_robin_100k_topics", &unsubscribed, 0),
    ] {
        let mut out = Vec::with_capacity(8);
        let mut next = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                trie.matches(black_box(&published[next]), &mut out);
                assert_eq!(out.len(), want);
                next = (next + 1) % published.len();
            })
        });
    }
    group.finish();
}

fn bench_validate(c: &mut Criterion) {
    let long = (0..16)
        .map(|i| format!("token{i:02}"))
        .collect::<Vec<_>>()
        .join(".");
    let mut group = c.benchmark_group("validate_topic");
    for (name, topic) in [
        ("short_ascii_17B", TOPIC.to_owned()),
        ("long_ascii_127B", long),
        ("non_ascii_38B", "commandes.europe.créées.仕様".to_owned()),
    ] {
        group.throughput(Throughput::Bytes(topic.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| validate_topic(black_box(&topic), 1024).expect("valid topic"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_wildcards, bench_literals, bench_validate);
criterion_main!(benches);
