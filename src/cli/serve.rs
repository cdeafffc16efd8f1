//! `spate serve` (placeholder until the server lands).

use std::process::ExitCode;

/// Flags of `spate serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

/// Runs the broker.
pub fn run(_args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
