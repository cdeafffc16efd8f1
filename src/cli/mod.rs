//! The `spate` command line: one binary, one subcommand per job. Each
//! subcommand's flags and behaviour live in its own file.

use clap::{Parser, Subcommand};

pub mod bench_cmd;
pub mod config_cmd;
pub mod gen_cmd;
pub mod pub_cmd;
pub mod serve;
pub mod state_cmd;
pub mod stats_cmd;
pub mod sub_cmd;

/// Default address of the broker's client listener.
pub const DEFAULT_SERVER: &str = "127.0.0.1:7411";
/// Default address of the broker's admin HTTP listener.
pub const DEFAULT_ADMIN: &str = "127.0.0.1:7412";

/// The broker a client command talks to.
#[derive(Debug, clap::Args)]
pub struct ServerArg {
    /// Server address (host:port).
    #[arg(
        long = "server",
        short = 's',
        env = "SPATE_SERVER",
        default_value = DEFAULT_SERVER,
        value_name = "ADDR"
    )]
    pub addr: String,
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
    /// Check or print configuration files.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Load-test a broker (spate, nats-server or redis-server).
    Bench(bench_cmd::BenchArgs),
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
        Command::Config(c) => config_cmd::run(c),
        Command::Bench(a) => bench_cmd::run(a),
        Command::Generate(c) => gen_cmd::run(c),
    }
}
