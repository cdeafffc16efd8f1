//! `spate storage check|repair DIR`: offline inspection and repair of a
//! storage directory (`[storage] dir`). Run them with the broker stopped.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::storage::repair;

/// Subcommands of `spate storage`.
#[derive(Debug, clap::Subcommand)]
pub enum StorageCommand {
    /// Read every segment and report bad records: exit 0 if the log is
    /// intact, 1 if any record is damaged.
    Check {
        /// The storage directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Cut the first damaged segment at its first bad record and delete
    /// every later segment, after printing what is dropped. Exit 0 when
    /// the log is intact afterwards.
    Repair {
        /// The storage directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// Runs the command.
pub fn run(cmd: StorageCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StorageCommand::Check { dir } => {
            let reports = repair::check(&dir)?;
            let mut bad = 0;
            for r in &reports {
                match &r.bad {
                    Some((offset, why)) => {
                        bad += 1;
                        println!(
                            "{}: BAD at byte offset {offset}: {why} ({} good records before it, {} bytes after it)",
                            r.path.display(),
                            r.records,
                            r.len - offset
                        );
                    }
                    None => println!(
                        "{}: ok ({} records, {} bytes)",
                        r.path.display(),
                        r.records,
                        r.len
                    ),
                }
            }
            if bad == 0 {
                println!("{} segments, no damage", reports.len());
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "{bad} damaged segment(s): run `spate storage repair {}`",
                    dir.display()
                );
                Ok(ExitCode::FAILURE)
            }
        }
        StorageCommand::Repair { dir } => {
            let reports = repair::check(&dir)?;
            let plan = repair::plan(&reports);
            if plan.is_empty() {
                println!("{} segments, no damage: nothing to repair", reports.len());
                return Ok(ExitCode::SUCCESS);
            }
            if let Some((path, len, cut)) = &plan.truncate {
                println!(
                    "truncating {} from {len} to {cut} bytes (dropping {} bytes from the first bad record on)",
                    path.display(),
                    len - cut
                );
            }
            for (path, len) in &plan.delete {
                println!(
                    "deleting {} ({len} bytes, after the damage)",
                    path.display()
                );
            }
            repair::apply(&dir, &plan)?;
            let after = repair::check(&dir)?;
            if after.iter().any(|r| r.bad.is_some()) {
                println!("damage remains: run repair again");
                return Ok(ExitCode::FAILURE);
            }
            println!("repaired: {} segments, no damage", after.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}
