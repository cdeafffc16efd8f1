//! `spate gen` (placeholder).

use std::process::ExitCode;

/// Subcommands of `spate gen`.
#[derive(Debug, clap::Subcommand)]
pub enum GenerateCommand {
    /// Placeholder.
    Todo,
}

/// Runs the command.
pub fn run(_cmd: GenerateCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
