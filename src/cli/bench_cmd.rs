//! `spate bench`: the load generator (crates/spate-bench) on the command
//! line. One subcommand per scenario, plus `forwarder`, the byte
//! forwarder used as the ceiling. Flags shared by every scenario live in
//! [`Common`]; each scenario adds its own sizes and defaults.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use spate_proto::Policy;

use spate_bench::{self as bench, BenchConfig, BrokerKind, Scenario, SlowMode, SubOptions};

/// Flags of `spate bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Scenario to run, or `forwarder` to serve the ceiling.
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// `spate bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// P publishers, S subscribers, one topic: throughput and latency.
    Fanout(FanoutArgs),
    /// Fixed moderate rate to S subscribers: tail latency unsaturated.
    Latency(LatencyArgs),
    /// T topics, one subscriber per topic spread over C connections.
    ManyTopics(ManyTopicsArgs),
    /// Fast subscribers with and without one slow subscriber.
    Burst(BurstArgs),
    /// Publish cost with N non-matching wildcard subscriptions vs none.
    Wildcards(WildcardsArgs),
    /// N connections that only handshake, then idle: accept time, SYN
    /// resends, broker memory per connection and after they close.
    IdleConns(IdleConnsArgs),
    /// Serve the trivial byte forwarder (the ceiling) in the foreground.
    Forwarder(ForwarderArgs),
}

/// Flags every scenario takes.
#[derive(Debug, Args)]
pub struct Common {
    /// Target broker (selects the protocol adapter).
    #[arg(long, value_enum, default_value = "spate")]
    pub broker: BrokerKind,
    /// Broker address (loopback only); default: for spate $SPATE_SERVER if
    /// set (as for the other client commands), else the broker's usual
    /// port (spate 7411, nats 4222, redis 6379, forwarder 7420).
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Publisher connections.
    #[arg(short = 'P', long, default_value_t = 1)]
    pub publishers: usize,
    /// Messages per publisher (default depends on the scenario).
    #[arg(short = 'M', long)]
    pub messages: Option<u64>,
    /// Payload bytes (≥ 16; default depends on the scenario).
    #[arg(short = 'B', long)]
    pub payload: Option<usize>,
    /// Total publish rate in msgs/s over all publishers (default: full
    /// speed).
    #[arg(long)]
    pub rate: Option<u64>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Generator runtime worker threads; 0 = a single-threaded runtime.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Hard limit per phase, seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Once publishing is done, a subscriber idle this long stops waiting
    /// (milliseconds); what it lacks counts as lost.
    #[arg(long, default_value_t = 2000)]
    pub idle_ms: u64,
    /// The broker's pid: adds its CPU use and peak memory to the report.
    #[arg(long)]
    pub broker_pid: Option<u32>,
    /// spate: backpressure policy of every subscription.
    #[arg(long)]
    pub policy: Option<Policy>,
    /// spate: queue limit in messages per subscription.
    #[arg(long)]
    pub queue: Option<u32>,
    /// spate: queue limit in bytes per subscription.
    #[arg(long)]
    pub queue_bytes: Option<u64>,
    /// spate: most messages per MESSAGE_BATCH frame.
    #[arg(long)]
    pub max_batch: Option<u16>,
    /// spate, nats: connect over WebSocket (`ws://ADDR/`; spate's
    /// `--ws-listen`, default address 127.0.0.1:7413; nats-server's
    /// `websocket` port, default 127.0.0.1:8080) instead of TCP.
    #[arg(long)]
    pub ws: bool,
    /// spate: connect with TLS (the server's `--tls-listen`; default
    /// address 127.0.0.1:7443), trusting the CA in --ca.
    #[arg(long, requires = "ca")]
    pub tls: bool,
    /// spate with --tls: PEM file of the CA that signed the broker's
    /// certificate.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<std::path::PathBuf>,
    /// spate with --tls: name to verify the broker's certificate against.
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    pub server_name: String,
}

/// `spate bench fanout`.
#[derive(Debug, Args)]
pub struct FanoutArgs {
    #[command(flatten)]
    common: Common,
    /// Subscriber connections.
    #[arg(short = 'S', long, default_value_t = 1)]
    subscribers: usize,
}

/// `spate bench latency`.
#[derive(Debug, Args)]
pub struct LatencyArgs {
    #[command(flatten)]
    common: Common,
    /// Subscriber connections.
    #[arg(short = 'S', long, default_value_t = 10)]
    subscribers: usize,
    /// Seconds of publishing at the rate (sets --messages if not given).
    #[arg(long, default_value_t = 5)]
    duration: u64,
}

/// `spate bench many-topics`.
#[derive(Debug, Args)]
pub struct ManyTopicsArgs {
    #[command(flatten)]
    common: Common,
    /// Topics, each with one subscription.
    #[arg(short = 'T', long, default_value_t = 10_000)]
    topics: usize,
    /// Subscriber connections the subscriptions are spread over.
    #[arg(short = 'C', long, default_value_t = 10)]
    connections: usize,
}

/// `spate bench burst`.
#[derive(Debug, Args)]
pub struct BurstArgs {
    #[command(flatten)]
    common: Common,
    /// Fast subscriber connections.
    #[arg(short = 'F', long, default_value_t = 10)]
    fast: usize,
    /// Messages per second the slow subscriber reads; 0 = it stalls
    /// completely while the publisher runs.
    #[arg(long, default_value_t = 1000)]
    slow_rate: u64,
}

/// `spate bench wildcards`.
#[derive(Debug, Args)]
pub struct WildcardsArgs {
    #[command(flatten)]
    common: Common,
    /// Non-matching wildcard subscriptions.
    #[arg(short = 'N', long, default_value_t = 100_000)]
    wildcards: usize,
    /// Connections the wildcard subscriptions are spread over.
    #[arg(short = 'C', long, default_value_t = 20)]
    connections: usize,
}

/// `spate bench idle-conns`.
#[derive(Debug, Args)]
pub struct IdleConnsArgs {
    /// Target broker (selects the handshake).
    #[arg(long, value_enum, default_value = "spate")]
    broker: BrokerKind,
    /// Broker address (loopback only); default: the broker's usual port.
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Connections to open (the generator raises its own open-file limit).
    #[arg(short = 'N', long, default_value_t = 10_000)]
    conns: usize,
    /// The broker's pid: adds its RSS before, during and after.
    #[arg(long)]
    broker_pid: Option<u32>,
    /// Milliseconds after closing every connection before the last RSS
    /// reading.
    #[arg(long, default_value_t = 5000)]
    settle_ms: u64,
    /// Hard limit on opening and handshaking, seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `spate bench forwarder`.
#[derive(Debug, Args)]
pub struct ForwarderArgs {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:7420")]
    listen: SocketAddr,
    /// Runtime worker threads; 0 = a single-threaded runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Runs the command.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let (common, cfg) = match args.command {
        BenchCommand::Forwarder(a) => return serve_forwarder(a),
        BenchCommand::IdleConns(a) => return idle_conns(a),
        BenchCommand::Fanout(a) => {
            let mut cfg = base(&a.common, Scenario::Fanout, 100_000, 16);
            cfg.subscribers = a.subscribers;
            (a.common, cfg)
        }
        BenchCommand::Latency(a) => {
            let rate = a.common.rate.unwrap_or(10_000);
            let per_pub = rate * a.duration / a.common.publishers.max(1) as u64;
            let mut cfg = base(&a.common, Scenario::Latency, per_pub.max(1), 16);
            cfg.rate = Some(rate);
            cfg.subscribers = a.subscribers;
            (a.common, cfg)
        }
        BenchCommand::ManyTopics(a) => {
            let mut cfg = base(&a.common, Scenario::ManyTopics, 200_000, 16);
            cfg.topics = a.topics;
            cfg.connections = a.connections;
            (a.common, cfg)
        }
        BenchCommand::Burst(a) => {
            let mut cfg = base(&a.common, Scenario::Burst, 200_000, 1024);
            cfg.subscribers = a.fast;
            cfg.slow = match a.slow_rate {
                0 => SlowMode::Stall,
                n => SlowMode::Rate(n),
            };
            (a.common, cfg)
        }
        BenchCommand::Wildcards(a) => {
            let mut cfg = base(&a.common, Scenario::Wildcards, 200_000, 16);
            cfg.wildcards = a.wildcards;
            cfg.connections = a.connections;
            (a.common, cfg)
        }
    };
    let mut cfg = cfg;
    if common.addr.is_none() && common.broker == BrokerKind::Spate {
        if let Some(addr) = spate_server_env()? {
            cfg.addr = addr;
        }
    }
    if let (true, Some(ca)) = (common.tls, &common.ca) {
        cfg.tls = Some(bench::tls::BenchTls::new(ca, &common.server_name)?);
    }
    let report = runtime(common.threads)?.block_on(bench::run(&cfg, common.threads))?;
    if common.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_table());
    }
    Ok(ExitCode::SUCCESS)
}

/// `SPATE_SERVER`, the address every other client command uses, resolved.
fn spate_server_env() -> anyhow::Result<Option<SocketAddr>> {
    let Some(v) = std::env::var_os("SPATE_SERVER") else {
        return Ok(None);
    };
    let v = v.to_string_lossy();
    let addr = super::server_addr(&v).map_err(|e| anyhow::anyhow!("SPATE_SERVER: {e}"))?;
    let first = std::net::ToSocketAddrs::to_socket_addrs(addr.as_str())
        .map_err(|e| anyhow::anyhow!("SPATE_SERVER={v}: {e}"))?
        .next();
    first
        .map(Some)
        .ok_or_else(|| anyhow::anyhow!("SPATE_SERVER={v}: no address"))
}

fn base(c: &Common, scenario: Scenario, messages: u64, payload: usize) -> BenchConfig {
    let mut cfg = BenchConfig::new(scenario, c.broker);
    cfg.addr = c.addr.unwrap_or(match (c.ws, c.tls, c.broker) {
        (true, _, BrokerKind::Nats) => SocketAddr::from(([127, 0, 0, 1], 8080)),
        (true, _, _) => SocketAddr::from(([127, 0, 0, 1], 7413)),
        (false, true, _) => SocketAddr::from(([127, 0, 0, 1], 7443)),
        (false, false, _) => c.broker.default_addr(),
    });
    cfg.ws = c.ws;
    cfg.publishers = c.publishers;
    cfg.messages = c.messages.unwrap_or(messages);
    cfg.payload = c.payload.unwrap_or(payload);
    cfg.rate = c.rate;
    cfg.timeout = Duration::from_secs(c.timeout);
    cfg.idle = Duration::from_millis(c.idle_ms);
    cfg.broker_pid = c.broker_pid;
    cfg.sub_options = SubOptions {
        policy: c.policy,
        queue_msgs: c.queue,
        queue_bytes: c.queue_bytes,
        max_batch: c.max_batch,
    };
    cfg
}

fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut b = if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    b.enable_all().build().context("starting the tokio runtime")
}

fn idle_conns(a: IdleConnsArgs) -> anyhow::Result<ExitCode> {
    let limit = crate::server::nofile::raise_to_hard().context("raising RLIMIT_NOFILE")?;
    anyhow::ensure!(
        limit.now >= a.conns as u64 + 64,
        "the open-file limit is {} (hard): too low for {} connections",
        limit.now,
        a.conns
    );
    let cfg = bench::idle::IdleConfig {
        broker: a.broker,
        addr: a.addr.unwrap_or(a.broker.default_addr()),
        conns: a.conns,
        broker_pid: a.broker_pid,
        settle: Duration::from_millis(a.settle_ms),
        timeout: Duration::from_secs(a.timeout),
    };
    let report = runtime(0)?.block_on(bench::idle::run(&cfg))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_table());
    }
    Ok(if report.error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn serve_forwarder(a: ForwarderArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        a.listen.ip().is_loopback(),
        "the forwarder listens on loopback only, not {}",
        a.listen
    );
    runtime(a.threads)?.block_on(async {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("binding {}", a.listen))?;
        eprintln!("spate bench forwarder listening on {}", a.listen);
        bench::forwarder::serve(listener).await?;
        Ok(ExitCode::SUCCESS)
    })
}
