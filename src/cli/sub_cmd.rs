//! `spate sub` (placeholder).

use std::process::ExitCode;

/// Flags of `spate sub`.
#[derive(Debug, clap::Args)]
pub struct SubArgs {}

/// Runs the command.
pub fn run(_args: SubArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
