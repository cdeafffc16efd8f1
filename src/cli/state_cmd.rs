//! `spate state`: read and write a topic's versioned state (one value and
//! revision per key) from the shell, with compare-and-set. Exit statuses
//! let scripts tell the expected refusals apart from failures: 3 for a
//! revision conflict, 4 for a missing key.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{json, Value};
use spate_client::{Client, ClientOptions, Condition, StateError};

use super::sub_cmd::put_bytes;

/// Exit status when a condition (`--if-revision`, `--if-absent`) failed.
pub const EXIT_CONFLICT: u8 = 3;
/// Exit status when the key does not exist.
pub const EXIT_NOT_FOUND: u8 = 4;

/// Keys asked for per STATE_LIST page.
const PAGE: u32 = 1000;

const EXIT_CODES: &str = "\
Exit status: 0 done; 1 error (e.g. cannot connect); 3 the condition failed
(revision conflict); 4 the key does not exist.";

/// Subcommands of `spate state`.
#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// Set a key's value and print its new revision.
    #[command(after_long_help = EXIT_CODES)]
    Put(PutArgs),
    /// Print a key's value.
    #[command(after_long_help = EXIT_CODES)]
    Get(GetArgs),
    /// Delete a key and print the revision of the delete.
    #[command(after_long_help = EXIT_CODES)]
    Del(DelArgs),
    /// Print every key of a topic's state, in key order.
    List(ListArgs),
}

/// Where the state lives.
#[derive(Debug, clap::Args)]
pub struct Target {
    #[command(flatten)]
    pub server: super::ServerArg,
    /// Topic holding the state.
    pub topic: String,
}

/// Flags of `spate state put`.
#[derive(Debug, clap::Args)]
pub struct PutArgs {
    #[command(flatten)]
    pub target: Target,
    /// Key to set.
    pub key: String,
    /// New value.
    pub value: String,
    /// Only if the key's current revision is REV (compare-and-set).
    #[arg(long, value_name = "REV", conflicts_with = "if_absent")]
    pub if_revision: Option<u64>,
    /// Only if the key does not exist yet.
    #[arg(long)]
    pub if_absent: bool,
}

/// Flags of `spate state get`.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub target: Target,
    /// Key to read.
    pub key: String,
    /// Output: the bare value, or `{"key":…,"value":…,"revision":N}`.
    #[arg(long, short = 'f', value_enum, default_value_t = super::sub_cmd::Format::Text)]
    pub format: super::sub_cmd::Format,
}

/// Flags of `spate state del`.
#[derive(Debug, clap::Args)]
pub struct DelArgs {
    #[command(flatten)]
    pub target: Target,
    /// Key to delete.
    pub key: String,
    /// Only if the key's current revision is REV.
    #[arg(long, value_name = "REV")]
    pub if_revision: Option<u64>,
}

/// Flags of `spate state list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub target: Target,
    /// Output: `KEY REVISION VALUE` lines, or one JSON object per key.
    #[arg(long, short = 'f', value_enum, default_value_t = super::sub_cmd::Format::Text)]
    pub format: super::sub_cmd::Format,
}

/// Runs the command.
pub fn run(cmd: StateCommand) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            match cmd {
                StateCommand::Put(a) => put(a).await,
                StateCommand::Get(a) => get(a).await,
                StateCommand::Del(a) => del(a).await,
                StateCommand::List(a) => list(a).await,
            }
        })
}

async fn connect(t: &Target) -> anyhow::Result<Client> {
    let opts = ClientOptions::default().name("spate state").reconnect(None);
    t.server.connect(opts).await
}

async fn put(a: PutArgs) -> anyhow::Result<ExitCode> {
    let condition = match (a.if_revision, a.if_absent) {
        (Some(rev), _) => Condition::IfRevision(rev),
        (None, true) => Condition::IfAbsent,
        (None, false) => Condition::None,
    };
    let client = connect(&a.target).await?;
    let result = client
        .state_put(
            a.target.topic.as_str(),
            a.key.as_str(),
            a.value.into_bytes(),
            condition,
        )
        .await;
    client.close().await;
    written(result, &a.target.topic, &a.key)
}

async fn del(a: DelArgs) -> anyhow::Result<ExitCode> {
    let condition = a.if_revision.map_or(Condition::None, Condition::IfRevision);
    let client = connect(&a.target).await?;
    let result = client
        .state_del(a.target.topic.as_str(), a.key.as_str(), condition)
        .await;
    client.close().await;
    written(result, &a.target.topic, &a.key)
}

/// Prints the revision of a write, or explains why it did not happen.
fn written(result: Result<u64, StateError>, topic: &str, key: &str) -> anyhow::Result<ExitCode> {
    match result {
        Ok(revision) => {
            println!("{revision}");
            Ok(ExitCode::SUCCESS)
        }
        Err(StateError::Conflict { revision: 0, .. }) => {
            eprintln!("spate: conflict: key {key:?} of {topic} does not exist");
            Ok(ExitCode::from(EXIT_CONFLICT))
        }
        Err(StateError::Conflict { revision, .. }) => {
            eprintln!("spate: conflict: key {key:?} of {topic} is at revision {revision}");
            Ok(ExitCode::from(EXIT_CONFLICT))
        }
        Err(StateError::NotFound) => {
            eprintln!("spate: key {key:?} of {topic} does not exist");
            Ok(ExitCode::from(EXIT_NOT_FOUND))
        }
        Err(StateError::Client(e)) => Err(e.into()),
    }
}

async fn get(a: GetArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&a.target).await?;
    let found = client
        .state_get(a.target.topic.as_str(), a.key.as_str())
        .await?;
    client.close().await;
    let Some(v) = found else {
        eprintln!(
            "spate: key {:?} of {} does not exist",
            a.key, a.target.topic
        );
        return Ok(ExitCode::from(EXIT_NOT_FOUND));
    };
    let mut out = io::stdout().lock();
    match a.format {
        super::sub_cmd::Format::Text => {
            out.write_all(&v.value)?;
            out.write_all(b"\n")?;
        }
        super::sub_cmd::Format::Json => {
            serde_json::to_writer(&mut out, &entry_json(&a.key, &v.value, v.revision))?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

async fn list(a: ListArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&a.target).await?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut after = String::new();
    loop {
        let page = client
            .state_list(a.target.topic.as_str(), after.as_str(), PAGE)
            .await
            .context("listing state")?;
        for e in &page.entries {
            match a.format {
                super::sub_cmd::Format::Text => {
                    write!(out, "{} {} ", e.key, e.revision)?;
                    out.write_all(&e.value)?;
                    out.write_all(b"\n")?;
                }
                super::sub_cmd::Format::Json => {
                    serde_json::to_writer(&mut out, &entry_json(&e.key, &e.value, e.revision))?;
                    out.write_all(b"\n")?;
                }
            }
        }
        match page.entries.last() {
            Some(last) if page.more => after = last.key.to_string(),
            _ => break,
        }
    }
    out.flush()?;
    client.close().await;
    Ok(ExitCode::SUCCESS)
}

fn entry_json(key: &str, value: &[u8], revision: u64) -> Value {
    let mut v = json!({ "key": key });
    put_bytes(&mut v, "value", value);
    v["revision"] = Value::from(revision);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_json_shape() {
        assert_eq!(
            entry_json("k", b"v", 7),
            json!({"key":"k","value":"v","revision":7})
        );
        let v = entry_json("k", &[0xff], 7);
        assert_eq!(v["value_encoding"], "base64");
    }
}
