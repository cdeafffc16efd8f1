//! What one benchmark run does: the target broker, the scenario and its
//! sizes. Built by the CLI (`spate bench`, src/cli/bench_cmd.rs) or by
//! tests; the rest of
//! the load generator only reads it.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use spate_proto::Policy;

/// The broker under test, i.e. which protocol adapter speaks to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BrokerKind {
    /// spate, protocol v1.
    Spate,
    /// nats-server, core protocol.
    Nats,
    /// redis-server, Pub/Sub.
    Redis,
    /// The trivial byte forwarder (`spate bench forwarder`): the ceiling.
    Forwarder,
}

impl BrokerKind {
    /// Lowercase name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            BrokerKind::Spate => "spate",
            BrokerKind::Nats => "nats",
            BrokerKind::Redis => "redis",
            BrokerKind::Forwarder => "forwarder",
        }
    }

    /// The broker's usual loopback address.
    pub fn default_addr(self) -> SocketAddr {
        let port = match self {
            BrokerKind::Spate => 7411,
            BrokerKind::Nats => 4222,
            BrokerKind::Redis => 6379,
            BrokerKind::Forwarder => 7420,
        };
        SocketAddr::from(([127, 0, 0, 1], port))
    }
}

/// The scenario to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// P publishers, S subscribers, one topic.
    Fanout,
    /// Like fanout at a fixed moderate rate: tail latency unsaturated.
    Latency,
    /// T topics, a subscriber per topic over C connections.
    ManyTopics,
    /// Fast subscribers with and without one slow subscriber.
    Burst,
    /// N non-matching wildcard subscriptions plus one matching subscriber,
    /// compared with N = 0.
    Wildcards,
}

impl Scenario {
    /// Name as typed on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Fanout => "fanout",
            Scenario::Latency => "latency",
            Scenario::ManyTopics => "many-topics",
            Scenario::Burst => "burst",
            Scenario::Wildcards => "wildcards",
        }
    }
}

/// How the burst scenario's slow subscriber reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlowMode {
    /// At most this many messages per second.
    Rate(u64),
    /// Not at all until the publishers are done; then it drains, so what
    /// it lost can be counted.
    Stall,
}

/// spate SUBSCRIBE options the run asks for (`None`: server default).
/// Other brokers have no per-subscription options and ignore them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubOptions {
    /// Backpressure policy.
    #[serde(serialize_with = "policy_name")]
    pub policy: Option<Policy>,
    /// Queue limit in messages.
    pub queue_msgs: Option<u32>,
    /// Queue limit in bytes.
    pub queue_bytes: Option<u64>,
    /// Messages per MESSAGE_BATCH frame.
    pub max_batch: Option<u16>,
}

fn policy_name<S: serde::Serializer>(p: &Option<Policy>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.serialize_str(p.name()),
        None => s.serialize_none(),
    }
}

/// Everything one run needs.
#[derive(Debug, Clone, Serialize)]
pub struct BenchConfig {
    /// Scenario.
    pub scenario: Scenario,
    /// Target broker.
    pub broker: BrokerKind,
    /// Its address (loopback).
    pub addr: SocketAddr,
    /// Publisher connections.
    pub publishers: usize,
    /// Subscriber connections (fanout, latency); fast subscribers (burst).
    pub subscribers: usize,
    /// Payload bytes per message (at least the 16-byte stamp).
    pub payload: usize,
    /// Messages each publisher sends.
    pub messages: u64,
    /// Total publish rate over all publishers, msgs/s; `None` = full speed.
    pub rate: Option<u64>,
    /// Topics (many-topics).
    pub topics: usize,
    /// Subscriber connections the many subscriptions are spread over
    /// (many-topics, wildcards).
    pub connections: usize,
    /// Non-matching wildcard subscriptions (wildcards).
    pub wildcards: usize,
    /// How the slow subscriber reads (burst).
    pub slow: SlowMode,
    /// spate subscription options.
    pub sub_options: SubOptions,
    /// After the publishers finish, a subscriber that receives nothing for
    /// this long stops waiting (its missing messages count as lost).
    #[serde(with = "millis")]
    pub idle: Duration,
    /// Hard limit on one phase, setup to drain.
    #[serde(with = "millis")]
    pub timeout: Duration,
    /// The broker's pid, to sample its CPU and memory (optional).
    pub broker_pid: Option<u32>,
    /// spate and nats: connect over WebSocket (`ws://addr/`) instead of
    /// TCP.
    pub ws: bool,
    /// spate only: connect with TLS (`--tls --ca FILE`).
    #[serde(skip)]
    pub tls: Option<super::tls::BenchTls>,
}

mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

impl BenchConfig {
    /// A fanout run against `broker` with small defaults; tests and the CLI
    /// start from here.
    pub fn new(scenario: Scenario, broker: BrokerKind) -> BenchConfig {
        BenchConfig {
            scenario,
            broker,
            addr: broker.default_addr(),
            publishers: 1,
            subscribers: 1,
            payload: 16,
            messages: 100_000,
            rate: None,
            topics: 10_000,
            connections: 10,
            wildcards: 100_000,
            slow: SlowMode::Stall,
            sub_options: SubOptions::default(),
            idle: Duration::from_secs(2),
            timeout: Duration::from_secs(60),
            broker_pid: None,
            ws: false,
            tls: None,
        }
    }
}
