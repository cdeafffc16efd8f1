//! `spate info`: what a broker is: its version, id and limits from the
//! handshake (WELCOME), and its uptime and load from the admin listener
//! when that is reachable.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use spate_client::ClientOptions;

use super::admin_http as client;
use super::stats_report as report;
use super::sub_cmd::Format;

/// How long to wait for the admin listener (it is optional).
const ADMIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Flags of `spate info`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
The admin part (uptime, connections, topics, memory) is shown when the admin
listener answers; otherwise a line says why it is missing. JSON output writes
server_id as a string (it exceeds 2^53).")]
pub struct InfoArgs {
    #[command(flatten)]
    pub server: super::ServerArg,

    /// Admin listener of the broker (host:port).
    #[arg(long, env = "SPATE_ADMIN", default_value = super::DEFAULT_ADMIN, value_name = "ADDR")]
    pub admin: String,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs the command.
pub fn run(args: InfoArgs) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(info(args))
}

async fn info(args: InfoArgs) -> anyhow::Result<ExitCode> {
    let opts = ClientOptions::default().name("spate info").reconnect(None);
    let client = args.server.connect(opts).await?;
    let w = client.server_info();
    client.close().await;
    let stats = client::fetch_stats(&args.admin, ADMIN_TIMEOUT).await;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let mut v = json!({
                "server": args.server.addr,
                "software": w.server.as_str(),
                "server_id": w.server_id.to_string(),
                "protocol_version": w.version,
                "max_frame": w.max_frame,
                "max_subscriptions": w.max_subscriptions,
                "max_topic_len": w.max_topic_len,
                "ping_interval_ms": w.ping_interval_ms,
            });
            v["admin"] = match &stats {
                Ok(s) => json!({
                    "address": args.admin,
                    "uptime_secs": s.server.uptime_secs,
                    "connections": s.server.connections,
                    "subscriptions": s.server.subscriptions,
                    "topics": s.server.topics,
                    "memory_used_bytes": s.server.memory_used_bytes,
                    "memory_budget_bytes": s.server.memory_budget_bytes,
                }),
                Err(e) => json!({ "address": args.admin, "error": e.to_string() }),
            };
            serde_json::to_writer(&mut out, &v)?;
            writeln!(out)?;
        }
        Format::Text => {
            writeln!(out, "server:            {}", args.server.addr)?;
            writeln!(out, "software:          {}", w.server)?;
            writeln!(out, "server_id:         {}", w.server_id)?;
            writeln!(out, "protocol version:  {}", w.version)?;
            writeln!(out, "max frame:         {} bytes", w.max_frame)?;
            writeln!(
                out,
                "max subscriptions: {} per connection",
                w.max_subscriptions
            )?;
            writeln!(out, "max topic length:  {} bytes", w.max_topic_len)?;
            writeln!(out, "ping interval:     {} ms", w.ping_interval_ms)?;
            match &stats {
                Ok(s) => {
                    let v = &s.server;
                    writeln!(out, "admin:             {}", args.admin)?;
                    writeln!(
                        out,
                        "uptime:            {}",
                        report::duration(v.uptime_secs)
                    )?;
                    writeln!(
                        out,
                        "clients:           {} connections, {} subscriptions, {} topics",
                        v.connections, v.subscriptions, v.topics
                    )?;
                    writeln!(
                        out,
                        "memory:            {} of {} bytes",
                        v.memory_used_bytes, v.memory_budget_bytes
                    )?;
                }
                Err(e) => writeln!(out, "admin:             not reachable ({e})")?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
