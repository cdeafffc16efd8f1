//! Micro-benchmarks for the wire codec (`spate-proto`): what every publish
//! and every delivery costs in encoding and decoding, at the two payload
//! sizes of the fan-out benchmark (16 B and 1 KiB).
//!
//! - `publish/encode`: a client encoding one PUBLISH frame;
//! - `publish/decode`: the server splitting and decoding it;
//! - `message/encode_shared`: the server encoding a delivery body once per
//!   publish plus the 9-byte per-subscriber header it shares it with;
//! - `message/decode`: a client decoding one MESSAGE frame;
//! - `batch64/decode`: a client decoding a MESSAGE_BATCH of 64.
//!
//! Decode cases first copy the frame into a fresh buffer each iteration, as
//! a socket read would, so they include that copy.
//!
//! Run: `cargo bench --bench codec` (add `-- --quick` for a short run).

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use spate_proto::{message_header, Codec, Frame, Message, Publish, Text};
use tokio_util::codec::Decoder;

/// Payload sizes measured.
const SIZES: [usize; 2] = [16, 1024];

/// Messages in the batch case.
const BATCH: usize = 64;

fn publish(size: usize) -> Frame {
    Frame::Publish(Publish {
        request_id: 7,
        topic: Text::from("bench.fanout"),
        payload: Bytes::from(vec![0xA5; size]),
        ..Publish::default()
    })
}

fn message(size: usize, seq: u64) -> Message {
    Message {
        epoch: 1,
        seq,
        timestamp_us: 1_700_000_000_000_000,
        topic: Text::from("bench.fanout"),
        payload: Bytes::from(vec![0x5A; size]),
        ..Message::default()
    }
}

/// Decoding one whole frame, `wire`, copied into a fresh buffer first as a
/// socket read would.
fn bench_decode(g: &mut BenchmarkGroup<'_, WallTime>, size: usize, wire: &Bytes) {
    g.bench_with_input(BenchmarkId::new("decode", size), wire, |b, w| {
        let mut codec = Codec::default();
        b.iter(|| {
            let mut src = BytesMut::from(&w[..]);
            black_box(codec.decode(&mut src).expect("valid").expect("whole"))
        })
    });
}

fn bench_publish(c: &mut Criterion) {
    let mut g = c.benchmark_group("publish");
    g.throughput(Throughput::Elements(1));
    for size in SIZES {
        let frame = publish(size);
        g.bench_with_input(BenchmarkId::new("encode", size), &frame, |b, f| {
            let mut buf = BytesMut::with_capacity(64 * 1024);
            b.iter(|| {
                buf.clear();
                black_box(f).encode(&mut buf);
                black_box(buf.len())
            })
        });
        let wire = frame.to_bytes();
        bench_decode(&mut g, size, &wire);
    }
    g.finish();
}

fn bench_message(c: &mut Criterion) {
    let mut g = c.benchmark_group("message");
    g.throughput(Throughput::Elements(1));
    for size in SIZES {
        let m = message(size, 42);
        g.bench_with_input(BenchmarkId::new("encode_shared", size), &m, |b, m| {
            b.iter(|| {
                let body = black_box(m).encode_body();
                black_box((message_header(3, body.len()), body))
            })
        });
        let wire = Frame::Message {
            sub_id: 3,
            message: m.clone(),
        }
        .to_bytes();
        bench_decode(&mut g, size, &wire);
    }
    g.finish();
}

fn bench_batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch64");
    g.throughput(Throughput::Elements(BATCH as u64));
    for size in SIZES {
        let wire = Frame::MessageBatch {
            sub_id: 3,
            messages: (0..BATCH as u64).map(|s| message(size, s)).collect(),
        }
        .to_bytes();
        bench_decode(&mut g, size, &wire);
    }
    g.finish();
}

criterion_group!(benches, bench_publish, bench_message, bench_batch);
criterion_main!(benches);
