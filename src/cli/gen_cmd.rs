//! `spate generate` (hidden): man pages and shell completions generated
//! from the clap definition, so they never disagree with `--help`. The
//! Debian package build (`packaging/build-deb.sh`) runs these.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// Subcommands of `spate generate`.
#[derive(Debug, clap::Subcommand)]
pub enum GenerateCommand {
    /// Man pages: `spate.1` on standard output, or with --dir one page per
    /// subcommand (`spate.1`, `spate-serve.1`, ...) written into DIR.
    Man {
        /// Directory to write every page into.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Completion script for SHELL on standard output, or with --dir written
    /// into DIR under the shell's conventional name (spate.bash, _spate,
    /// spate.fish, ...).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: Shell,
        /// Directory to write the script into.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Runs the command.
pub fn run(cmd: GenerateCommand) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    match cmd {
        GenerateCommand::Man { dir: None } => {
            clap_mangen::Man::new(command).render(&mut std::io::stdout().lock())?;
        }
        GenerateCommand::Man { dir: Some(dir) } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(command, &dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))?;
        }
        GenerateCommand::Completions { shell, dir: None } => {
            clap_complete::generate(shell, &mut command, "spate", &mut std::io::stdout().lock());
        }
        GenerateCommand::Completions {
            shell,
            dir: Some(dir),
        } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_complete::generate_to(shell, &mut command, "spate", &dir)
                .with_context(|| format!("writing {shell} completions into {}", dir.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
