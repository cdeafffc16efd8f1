//! # spate-bench: the load generator behind `spate bench`
//!
//! Scenarios (`scenarios.rs`)
//! made of phases (`phase.rs`) of publisher and subscriber tasks
//! (`publisher.rs`, `subscriber.rs`) that talk to spate, nats-server,
//! redis-server or the byte forwarder (`forwarder.rs`) through small
//! protocol adapters (`wire/`), over TCP or, for spate and nats-server,
//! WebSocket (`ws.rs`, a client-side adapter of its own). Every payload carries a stamp
//! (`stamp.rs`) so latency and loss are measured the same way on every
//! broker; `recorder.rs` and `report.rs` turn what the subscribers saw
//! into the table or JSON the user reads.
//!
//! Everything is loopback-only and bounded: counts are fixed up front,
//! every phase has a hard deadline, and subscribers stop waiting after an
//! idle period once the publishers are done (what they lack is loss).
//!
//! A library crate of its own, so that the broker library carries none of
//! it (nor hdrhistogram), and it depends on `spate-proto` only, never on
//! the server it measures. It is reached through `spate bench` (the
//! `spate` binary's CLI parses the flags and calls [`run`]) rather than a
//! separate `spate-bench` binary: one binary to build, ship and document,
//! and the README, `benches/compare.sh`, the packaging and the tests
//! already run `spate bench`.

pub mod config;
pub mod conn;
pub mod error;
pub mod forwarder;
pub mod idle;
pub mod phase;
pub mod procstat;
pub mod publisher;
pub mod recorder;
pub mod report;
pub mod scenarios;
pub mod stamp;
pub mod subscriber;
pub mod tls;
pub mod wire;
pub mod ws;

pub use config::{BenchConfig, BrokerKind, Scenario, SlowMode, SubOptions};
pub use error::BenchError;
pub use report::Report;

/// Runs every phase of `cfg`'s scenario on the current tokio runtime.
/// `generator_threads` is only recorded in the report.
pub async fn run(cfg: &BenchConfig, generator_threads: usize) -> Result<Report, BenchError> {
    let mut phases = Vec::new();
    for plan in scenarios::plans(cfg)? {
        let outcome = phase::run(cfg, plan).await?;
        phases.push(report::phase_report(&outcome));
    }
    Ok(Report::new(cfg, generator_threads, phases))
}
