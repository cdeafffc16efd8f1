//! `spate config` (placeholder).

use std::process::ExitCode;

/// Subcommands of `spate config`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Placeholder.
    Todo,
}

/// Runs the command.
pub fn run(_cmd: ConfigCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
