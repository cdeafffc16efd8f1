//! `spate stats`: a running broker's figures from its admin listener's
//! `/v1/stats`, as a readable summary, as raw JSON for scripts, or redrawn
//! every few seconds like `top` (`--watch`, with message rates).

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::admin_http::{self as client, DEFAULT_TIMEOUT};
use super::stats_report as report;
use crate::stats::StatsSnapshot;

/// Flags of `spate stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Admin listener of the broker (host:port).
    #[arg(long, env = "SPATE_ADMIN", default_value = super::DEFAULT_ADMIN, value_name = "ADDR")]
    pub admin: String,

    /// Print the raw /v1/stats JSON instead of the summary.
    #[arg(long, conflicts_with = "watch")]
    pub json: bool,

    /// Redraw the summary every --interval seconds until Ctrl-C.
    #[arg(long, short = 'w')]
    pub watch: bool,

    /// Seconds between redraws with --watch.
    #[arg(
        long,
        short = 'n',
        default_value_t = 2.0,
        value_name = "SECS",
        requires = "watch"
    )]
    pub interval: f64,

    /// Rows per table (top topics, slowest subscribers).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
}

/// Runs the command.
pub fn run(args: StatsArgs) -> anyhow::Result<ExitCode> {
    if !(args.interval.is_finite() && args.interval >= 0.1) {
        anyhow::bail!("--interval must be at least 0.1 seconds");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        if args.json {
            let body = client::get_ok(&args.admin, "/v1/stats", DEFAULT_TIMEOUT).await?;
            let mut out = std::io::stdout().lock();
            out.write_all(&body)?;
            out.write_all(b"\n")?;
            return Ok(ExitCode::SUCCESS);
        }
        if args.watch {
            watch(&args).await
        } else {
            let s = client::fetch_stats(&args.admin, DEFAULT_TIMEOUT).await?;
            print!("{}", report::render(&s, None, args.top));
            Ok(ExitCode::SUCCESS)
        }
    })
}

/// Redraws until interrupted; a failed fetch is shown and retried, so the
/// view survives a broker restart.
async fn watch(args: &StatsArgs) -> anyhow::Result<ExitCode> {
    let period = Duration::from_secs_f64(args.interval);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut prev: Option<(StatsSnapshot, Instant)> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
        let body = match client::fetch_stats(&args.admin, DEFAULT_TIMEOUT).await {
            Ok(s) => {
                let now = Instant::now();
                let p = prev.as_ref().map(|(p, at)| (p, now - *at));
                let text = report::render(&s, p, args.top);
                prev = Some((s, now));
                text
            }
            Err(e) => {
                prev = None;
                format!("{e}\n")
            }
        };
        let header = format!(
            "spate stats  {}  every {:.1}s  (Ctrl-C to quit)\n\n",
            args.admin, args.interval
        );
        // Home, clear screen, then the frame: one write, so no flicker.
        let mut out = std::io::stdout().lock();
        out.write_all(format!("\x1b[H\x1b[2J{header}{body}").as_bytes())?;
        out.flush()?;
    }
}
