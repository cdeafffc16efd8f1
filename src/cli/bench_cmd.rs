//! `spate bench` (placeholder).

use std::process::ExitCode;

/// Flags of `spate bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {}

/// Runs the command.
pub fn run(_args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
