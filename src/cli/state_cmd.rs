//! `spate state` (placeholder).

use std::process::ExitCode;

/// Subcommands of `spate state`.
#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// Placeholder.
    Todo,
}

/// Runs the command.
pub fn run(_cmd: StateCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
