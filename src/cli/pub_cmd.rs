//! `spate pub` (placeholder).

use std::process::ExitCode;

/// Flags of `spate pub`.
#[derive(Debug, clap::Args)]
pub struct PubArgs {}

/// Runs the command.
pub fn run(_args: PubArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
