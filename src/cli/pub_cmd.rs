//! `spate pub`: publish one message, or one message per line of standard
//! input. Lines are streamed: publishes are pipelined without waiting for
//! each other, then one flush (a PING barrier) waits until the server has
//! processed all of them and reports the first error it raised, so the exit
//! status tells whether everything was accepted.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use bytes::Bytes;
use spate_client::{ClientOptions, Publication, Text};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Bytes read from standard input at a time.
const STDIN_BUFFER: usize = 256 * 1024;

/// Flags of `spate pub`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  spate pub orders.eu.created '{\"id\":1}'
  spate pub --key sensor-7 --header unit=C sensors.temp 21.5
  seq 1 1000000 | spate pub numbers
  spate pub --ack orders.eu.created '{\"id\":2}'   prints the seq it got, e.g. 17

Exits 0 only once the server has processed every message; otherwise exits 1
with the server's error.")]
pub struct PubArgs {
    #[command(flatten)]
    pub server: super::ServerArg,

    /// Topic to publish to: dot-separated tokens, no wildcards.
    pub topic: String,

    /// Message payload. Without it, every line of standard input is one
    /// message (the line ending is not part of the payload).
    pub payload: Option<String>,

    /// Message key, used by conflation and state.
    #[arg(long, short = 'k', value_name = "KEY")]
    pub key: Option<String>,

    /// Message header; repeat for several.
    #[arg(long = "header", short = 'H', value_name = "NAME=VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,

    /// Wait for the server's acknowledgement of each message and print the
    /// seq it was assigned, one line per message (slower than the default
    /// pipelining for many lines).
    #[arg(long)]
    pub ack: bool,
}

/// Runs the command.
pub fn run(args: PubArgs) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(publish(args))?;
    Ok(ExitCode::SUCCESS)
}

async fn publish(args: PubArgs) -> anyhow::Result<()> {
    let opts = ClientOptions::default().name("spate pub").reconnect(None);
    let client = args.server.connect(opts).await?;
    let template = Template::new(&args);
    let mut out = std::io::stdout().lock();
    match &args.payload {
        Some(p) if args.ack => {
            let ack = client
                .publish_acked(template.with(Bytes::copy_from_slice(p.as_bytes())))
                .await
                .context("publish failed")?;
            writeln!(out, "{}", ack.seq)?;
        }
        Some(p) => client
            .publish_with(template.with(Bytes::copy_from_slice(p.as_bytes())))
            .await
            .context("publish failed")?,
        None => {
            let mut stdin = BufReader::with_capacity(STDIN_BUFFER, tokio::io::stdin());
            let mut line = Vec::with_capacity(1024);
            let mut n = 0u64;
            loop {
                line.clear();
                if stdin
                    .read_until(b'\n', &mut line)
                    .await
                    .context("reading standard input")?
                    == 0
                {
                    break;
                }
                n += 1;
                let payload = Bytes::copy_from_slice(strip_line_ending(&line));
                if args.ack {
                    let ack = client
                        .publish_acked(template.with(payload))
                        .await
                        .with_context(|| format!("publish of line {n} failed"))?;
                    writeln!(out, "{}", ack.seq)?;
                    continue;
                }
                client
                    .publish_with(template.with(payload))
                    .await
                    .with_context(|| format!("publish of line {n} failed"))?;
            }
        }
    }
    client.flush().await?;
    client.close().await;
    Ok(())
}

/// Topic, key and headers shared by every message of one run.
struct Template {
    topic: Text,
    key: Option<Text>,
    headers: Vec<(Text, Text)>,
}

impl Template {
    fn new(args: &PubArgs) -> Template {
        Template {
            topic: Text::from(args.topic.as_str()),
            key: args.key.as_deref().map(Text::from),
            headers: args
                .headers
                .iter()
                .map(|(n, v)| (Text::from(n.as_str()), Text::from(v.as_str())))
                .collect(),
        }
    }

    fn with(&self, payload: Bytes) -> Publication {
        let mut p = Publication::new(self.topic.clone(), payload);
        if let Some(k) = &self.key {
            p = p.key(k.clone());
        }
        for (n, v) in &self.headers {
            p = p.header(n.clone(), v.clone());
        }
        p
    }
}

fn strip_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("expected NAME=VALUE, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_are_not_part_of_the_payload() {
        assert_eq!(strip_line_ending(b"a\n"), b"a");
        assert_eq!(strip_line_ending(b"a\r\n"), b"a");
        assert_eq!(strip_line_ending(b"a"), b"a");
        assert_eq!(strip_line_ending(b"\n"), b"");
    }

    #[test]
    fn headers_parse_as_name_equals_value() {
        assert_eq!(parse_header("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_header("a="), Ok(("a".into(), String::new())));
        assert!(parse_header("=b").is_err());
        assert!(parse_header("ab").is_err());
    }
}
