//! `spate config`: check a config file before deploying it, print the
//! commented default file, or show the effective configuration after
//! flags and `SPATE_*` variables are applied.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::{self, ConfigError, ConfigFlags};

/// Subcommands of `spate config`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate config files: exit 0 if all are valid, else print each
    /// error as FILE:LINE:COLUMN: FIELD: REASON and exit 1.
    Check {
        /// Files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the fully commented default config file (the one installed as
    /// /etc/spate/spate.toml).
    Default,
    /// Print the effective configuration as TOML: defaults, then --config
    /// FILE, then SPATE_* variables, then flags.
    Show {
        /// Same flags as `spate serve`.
        #[command(flatten)]
        flags: Box<ConfigFlags>,
    },
}

/// Runs the command.
pub fn run(cmd: ConfigCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Check { files } => Ok(check(&files)),
        ConfigCommand::Default => {
            std::io::stdout().write_all(config::default_file::DEFAULT_TOML.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Show { flags } => {
            let cfg = config::load(&flags)?;
            let text = toml::to_string_pretty(&cfg).context("serializing the configuration")?;
            std::io::stdout().write_all(text.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for f in files {
        match config::load::load_file(f) {
            Ok(_) => println!("{}: ok", f.display()),
            Err(e) => {
                ok = false;
                eprintln!("{}", describe(&e));
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The error, plus the offending line with a caret for parse errors.
pub fn describe(e: &ConfigError) -> String {
    match e {
        ConfigError::Parse(p) => match &p.excerpt {
            Some(x) => format!("{p}\n{x}"),
            None => p.to_string(),
        },
        ConfigError::Several(all) => all.iter().map(describe).collect::<Vec<_>>().join("\n"),
        other => other.to_string(),
    }
}
