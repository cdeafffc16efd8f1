//! `spate ping`: the round-trip time to the broker, like `redis-cli ping`.
//! Connects (HELLO/WELCOME), then sends a few PINGs one after another and
//! prints each PONG's round-trip time, then min/avg/max.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use spate_client::ClientOptions;

/// Longest a single ping may take before the command gives up.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Flags of `spate ping`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Example:
  spate ping -c 3
  PONG from 127.0.0.1:7411: seq=1 time=0.112 ms
  ...

Exits 0 when every ping was answered, 1 otherwise (cannot connect, no answer
within 5 s).")]
pub struct PingArgs {
    #[command(flatten)]
    pub server: super::ServerArg,

    /// Number of pings.
    #[arg(long, short = 'c', default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub count: u32,

    /// Milliseconds between pings.
    #[arg(long, short = 'i', default_value_t = 500, value_name = "MS")]
    pub interval: u64,
}

/// Runs the command.
pub fn run(args: PingArgs) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(ping(args))
}

async fn ping(args: PingArgs) -> anyhow::Result<ExitCode> {
    let opts = ClientOptions::default().name("spate ping").reconnect(None);
    let connecting = Instant::now();
    let client = args.server.connect(opts).await?;
    let connect_ms = ms(connecting.elapsed());
    let info = client.server_info();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "connected to {} ({}) in {connect_ms:.3} ms",
        args.server.addr, info.server
    )?;
    let mut rtts = Vec::with_capacity(args.count as usize);
    for n in 1..=args.count {
        if n > 1 && args.interval > 0 {
            tokio::time::sleep(Duration::from_millis(args.interval)).await;
        }
        let t = Instant::now();
        // A flush is a PING answered by the PONG once the server has read it.
        tokio::time::timeout(PING_TIMEOUT, client.flush())
            .await
            .map_err(|_| {
                anyhow::anyhow!("no PONG from {} within {PING_TIMEOUT:?}", args.server.addr)
            })?
            .context("ping failed")?;
        let rtt = ms(t.elapsed());
        writeln!(
            out,
            "PONG from {}: seq={n} time={rtt:.3} ms",
            args.server.addr
        )?;
        rtts.push(rtt);
    }
    let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rtts.iter().copied().fold(0.0, f64::max);
    let avg = rtts.iter().sum::<f64>() / rtts.len() as f64;
    writeln!(
        out,
        "{} pings, rtt min/avg/max = {min:.3}/{avg:.3}/{max:.3} ms",
        rtts.len()
    )?;
    client.close().await;
    Ok(ExitCode::SUCCESS)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
