//! `spate stats` (placeholder).

use std::process::ExitCode;

/// Flags of `spate stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {}

/// Runs the command.
pub fn run(_args: StatsArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
