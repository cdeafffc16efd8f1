//! The `spate` command line: one binary, one subcommand per job. Each
//! subcommand's flags and behaviour live in its own file (`*_cmd.rs`,
//! `serve.rs`); `admin_http.rs` (an HTTP client for the admin listener)
//! and `stats_report.rs` (the stats table) serve `stats` and `info`.

use clap::{Parser, Subcommand};

pub mod admin_http;
pub mod bench_cmd;
pub mod config_cmd;
pub mod gen_cmd;
pub mod info_cmd;
pub mod passwd_cmd;
pub mod ping_cmd;
pub mod pub_cmd;
pub mod reload;
pub mod serve;
pub mod state_cmd;
pub mod stats_cmd;
pub mod stats_report;
pub mod storage_cmd;
pub mod sub_cmd;
pub mod tls_args;

/// Default address of the broker's client listener.
pub const DEFAULT_SERVER: &str = "127.0.0.1:7411";
/// Default address of the broker's admin HTTP listener.
pub const DEFAULT_ADMIN: &str = "127.0.0.1:7412";

/// Default port of the broker's client listener, used when an address
/// names only a host.
pub const DEFAULT_PORT: u16 = 7411;

/// The broker a client command talks to.
#[derive(Debug, clap::Args)]
pub struct ServerArg {
    /// Server address: HOST:PORT, or HOST alone for port 7411 (host names
    /// are resolved).
    #[arg(
        long = "server",
        short = 's',
        env = "SPATE_SERVER",
        default_value = DEFAULT_SERVER,
        value_name = "ADDR",
        value_parser = server_addr
    )]
    pub addr: String,
    /// Auth token sent in HELLO: `user:secret` or a JWT (protocol.md §5.6).
    #[arg(
        long = "token",
        env = "SPATE_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// TLS (`--tls`, `--ca`, `--cert`, `--cert-key`, `--server-name`).
    #[command(flatten)]
    pub tls: tls_args::TlsArgs,
}

impl ServerArg {
    /// Connects a client to this server. A failure to connect says what to
    /// check; every other error is the client's own.
    pub async fn connect(
        &self,
        opts: spate_client::ClientOptions,
    ) -> anyhow::Result<spate_client::Client> {
        let opts = match &self.token {
            Some(t) => opts.token(t.clone()),
            None => opts,
        };
        let opts = self.tls.apply(opts)?;
        spate_client::Client::connect(self.addr.as_str(), opts)
            .await
            .map_err(|e| match e {
                spate_client::Error::Connect { .. } | spate_client::Error::Timeout(_) => {
                    anyhow::anyhow!(
                        "{e}\nhint: is `spate serve` running on {}? (choose another broker with --server or SPATE_SERVER)",
                        self.addr
                    )
                }
                e => e.into(),
            })
    }
}

/// Accepts `HOST:PORT`, `[V6]:PORT`, a bare IPv6 address, or a host alone
/// (the default port is added).
pub fn server_addr(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty address".into());
    }
    if s.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(s.to_owned());
    }
    if let Ok(ip) = s.parse::<std::net::Ipv6Addr>() {
        return Ok(format!("[{ip}]:{DEFAULT_PORT}"));
    }
    if s.starts_with('[') && s.ends_with(']') {
        return Ok(format!("{s}:{DEFAULT_PORT}"));
    }
    match s.rsplit_once(':') {
        None => Ok(format!("{s}:{DEFAULT_PORT}")),
        Some((host, port)) => {
            if host.is_empty() {
                return Err(format!("{s:?} has no host"));
            }
            port.parse::<u16>()
                .map_err(|_| format!("{s:?}: the port must be a number from 0 to 65535"))?;
            Ok(s.to_owned())
        }
    }
}

/// True when the error is standard output having been closed by its
/// reader (`spate info | head -3`): a normal end, not a failure.
pub fn is_closed_output(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The text of an error and its causes, each said once: a cause whose text
/// its parent already quotes is not repeated.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// spate: a pub/sub message broker that stays honest under pressure.
///
/// Run `spate serve` to start the broker, then `spate sub PATTERN` and
/// `spate pub TOPIC PAYLOAD` in other terminals.
#[derive(Debug, Parser)]
#[command(name = "spate", version, about, long_about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the broker in the foreground (use systemd or a container to
    /// daemonize).
    Serve(serve::ServeArgs),
    /// Publish one message, or one message per line of standard input.
    Pub(pub_cmd::PubArgs),
    /// Subscribe to a topic or wildcard pattern and print each message.
    Sub(sub_cmd::SubArgs),
    /// Read and write versioned state (key/value per topic, with
    /// compare-and-set).
    #[command(subcommand)]
    State(state_cmd::StateCommand),
    /// Show a running broker's statistics from its admin listener.
    Stats(stats_cmd::StatsArgs),
    /// Measure the round-trip time to a broker (a few PINGs).
    Ping(ping_cmd::PingArgs),
    /// Show a broker's version, id, limits and (from its admin listener)
    /// uptime and load.
    Info(info_cmd::InfoArgs),
    /// Check or print configuration files.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Load-test a broker (spate, nats-server or redis-server).
    Bench(bench_cmd::BenchArgs),
    /// Hash a user's secret for the config (reads it from stdin, or asks
    /// without echo on a terminal); prints the Argon2 PHC string.
    Passwd(passwd_cmd::PasswdArgs),
    /// Check or repair a storage directory offline (`[storage] dir`).
    #[command(subcommand)]
    Storage(storage_cmd::StorageCommand),
    /// Generate shell completions or the man page.
    #[command(subcommand, hide = true)]
    Generate(gen_cmd::GenerateCommand),
}

/// Parses the command line and runs the chosen subcommand.
pub fn run() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Pub(a) => pub_cmd::run(a),
        Command::Sub(a) => sub_cmd::run(a),
        Command::State(c) => state_cmd::run(c),
        Command::Stats(a) => stats_cmd::run(a),
        Command::Ping(a) => ping_cmd::run(a),
        Command::Info(a) => info_cmd::run(a),
        Command::Config(c) => config_cmd::run(c),
        Command::Bench(a) => bench_cmd::run(a),
        Command::Passwd(a) => passwd_cmd::run(a),
        Command::Storage(c) => storage_cmd::run(c),
        Command::Generate(c) => gen_cmd::run(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_get_the_default_port() {
        assert_eq!(server_addr("localhost").unwrap(), "localhost:7411");
        assert_eq!(server_addr("example.org:99").unwrap(), "example.org:99");
        assert_eq!(server_addr("10.0.0.1").unwrap(), "10.0.0.1:7411");
        assert_eq!(server_addr("::1").unwrap(), "[::1]:7411");
        assert_eq!(server_addr("[::1]").unwrap(), "[::1]:7411");
        assert_eq!(server_addr("[::1]:80").unwrap(), "[::1]:80");
        assert!(server_addr("host:port").is_err());
        assert!(server_addr(":80").is_err());
        assert!(server_addr("").is_err());
    }

    #[test]
    fn each_cause_is_printed_once() {
        let io = std::io::Error::other("boom");
        #[derive(Debug, thiserror::Error)]
        #[error("outer: {0}")]
        struct Outer(#[source] std::io::Error);
        let e = anyhow::Error::new(Outer(io)).context("doing it");
        assert_eq!(error_text(&e), "doing it: outer: boom");
    }
}
