//! `spate sub`: subscribe to a topic or pattern and print each message,
//! one line each, as text (`TOPIC PAYLOAD`, `TOPIC KEY=PAYLOAD`) or JSON. Lost messages are
//! never silent: GAP reports and notices (reconnects, truncated history)
//! appear as lines on stderr in text mode, or as `gap` / `notice` objects
//! in JSON mode. Output is buffered while messages keep arriving and
//! flushed whenever the stream goes idle, so piping is fast and watching
//! is live.

use std::borrow::Cow;
use std::io::{self, Write};
use std::process::ExitCode;

use base64::Engine;
use futures::{FutureExt, StreamExt};
use serde_json::{json, Value};
use spate_client::{
    ClientOptions, Event, Gap, Message, Notice, Policy, Start, StateChange, SubscribeOptions,
};

/// Bytes of output buffered before a write.
const OUT_BUFFER: usize = 64 * 1024;

/// Exit status after Ctrl-C (128 + SIGINT), as shells expect.
const INTERRUPTED: u8 = 130;

/// How messages are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `TOPIC PAYLOAD` (or `TOPIC KEY=PAYLOAD`) per line; gaps and notices
    /// on stderr.
    Text,
    /// One JSON object per line: messages, gaps and notices.
    Json,
}

/// Flags of `spate sub`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  spate sub 'orders.>'                        every topic under orders.
  spate sub sensors.temp --format json --count 10
  spate sub dash.prices --policy conflate --max-rate 5
  spate sub hist.a --from 1 --count 5         the first five retained messages
  spate sub cfg --snapshot                    current state, then changes

Text output: one line per message, `TOPIC PAYLOAD`, or `TOPIC KEY=PAYLOAD` when
the message has a key; a state delete prints `TOPIC KEY (deleted)`. Non-UTF-8
payloads print as base64:<data>. Gaps and notices go to stderr.

JSON output: one object per line. Messages carry topic, seq, epoch,
timestamp_us, key, headers and payload (with \"payload_encoding\": \"base64\"
when not UTF-8) and, for state changes, \"state\": \"put\" or \"delete\".
epoch is a string (it exceeds 2^53, which jq and JavaScript would round);
--epoch accepts it with or without quotes. Counts and seqs are numbers. The client reconnects after a dropped connection
and resumes a topic from where it stopped; anything that could not be
recovered is reported as a gap or notice.")]
pub struct SubArgs {
    #[command(flatten)]
    pub server: super::ServerArg,

    /// Topic or pattern: `*` matches one token, `>` one or more trailing
    /// tokens (e.g. `orders.*.created`, `orders.>`).
    pub pattern: String,

    /// Exit after printing this many messages.
    #[arg(long, short = 'n', value_name = "N")]
    pub count: Option<u64>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// What the server does when this subscription's queue is full: block,
    /// drop-oldest, drop-newest, conflate or disconnect [default: the
    /// server's].
    #[arg(long, value_name = "POLICY", help_heading = "Backpressure")]
    pub policy: Option<Policy>,

    /// Server-side queue limit, in messages.
    #[arg(long = "queue", value_name = "MSGS", help_heading = "Backpressure",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub queue: Option<u32>,

    /// Server-side queue limit, in bytes.
    #[arg(long, value_name = "BYTES", help_heading = "Backpressure",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub queue_bytes: Option<u64>,

    /// Deliver at most this many messages per second (beyond it, the
    /// policy applies; 0 = no limit). With `conflate`, keys take turns: each
    /// delivery is the latest value of the key delivered least recently.
    #[arg(long, value_name = "PER_SEC", help_heading = "Backpressure")]
    pub max_rate: Option<u32>,

    /// Most messages per delivery frame.
    #[arg(long, value_name = "N", help_heading = "Batching",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub max_batch: Option<u16>,

    /// Milliseconds the server may wait to fill a batch (fractions allowed).
    #[arg(long, value_name = "MS", value_parser = parse_linger, help_heading = "Batching")]
    pub linger: Option<u32>,

    /// Replay retained history from this seq first (literal topics only).
    #[arg(long, value_name = "SEQ", conflicts_with_all = ["last", "snapshot"], help_heading = "History")]
    pub from: Option<u64>,

    /// The epoch SEQ belongs to; if the topic's history has since been
    /// reset you get a notice instead of wrong messages [default: any].
    #[arg(
        long,
        value_name = "EPOCH",
        requires = "from",
        value_parser = parse_id,
        help_heading = "History"
    )]
    pub epoch: Option<u64>,

    /// Replay the last N retained messages first (literal topics only).
    #[arg(
        long,
        value_name = "N",
        conflicts_with = "snapshot",
        help_heading = "History"
    )]
    pub last: Option<u32>,

    /// Deliver the topic's state (latest value per key) first, then each
    /// change.
    #[arg(long, help_heading = "History")]
    pub snapshot: bool,

    /// Exit with an error when the connection drops instead of
    /// reconnecting and resuming.
    #[arg(long)]
    pub no_reconnect: bool,
}

impl SubArgs {
    /// Refuses flag combinations the server would refuse, in the user's
    /// words (flags) rather than the protocol's.
    fn check(&self) -> anyhow::Result<()> {
        let wildcard = self.pattern.split('.').any(|t| t == "*" || t == ">");
        if wildcard {
            let flag = if self.from.is_some() {
                Some("--from")
            } else if self.last.is_some() {
                Some("--last")
            } else if self.snapshot {
                Some("--snapshot")
            } else {
                None
            };
            if let Some(flag) = flag {
                anyhow::bail!(
                    "{flag} needs a literal topic, not the wildcard pattern {:?} (history and state are per topic)",
                    self.pattern
                );
            }
        }
        Ok(())
    }

    fn options(&self) -> SubscribeOptions {
        let start = match (self.from, self.last, self.snapshot) {
            (Some(seq), _, _) => Start::FromSeq {
                seq,
                epoch: self.epoch.unwrap_or(0),
            },
            (_, Some(n), _) => Start::LastN(n),
            (_, _, true) => Start::Snapshot,
            _ => Start::New,
        };
        SubscribeOptions {
            policy: self.policy,
            queue_msgs: self.queue,
            queue_bytes: self.queue_bytes,
            max_rate: self.max_rate,
            max_batch: self.max_batch,
            linger_us: self.linger,
            start,
            ..SubscribeOptions::default()
        }
    }
}

/// Runs the command.
pub fn run(args: SubArgs) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(subscribe(args))
}

async fn subscribe(args: SubArgs) -> anyhow::Result<ExitCode> {
    args.check()?;
    let mut opts = ClientOptions::default().name("spate sub");
    if args.no_reconnect {
        opts.reconnect = None;
    }
    let client = args.server.connect(opts).await?;
    let mut sub = client
        .subscribe(args.pattern.as_str(), args.options())
        .await?;
    let mut out = io::BufWriter::with_capacity(OUT_BUFFER, io::stdout().lock());
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let mut printed = 0u64;
    let id = sub.id();
    while args.count.is_none_or(|n| printed < n) {
        if (&mut interrupted).now_or_never().is_some() {
            return finish(&mut out, ExitCode::from(INTERRUPTED));
        }
        let event = match sub.next().now_or_never() {
            Some(ev) => ev,
            None => {
                // Nothing ready: show what is buffered, then wait.
                if let Err(e) = out.flush() {
                    return write_failed(e);
                }
                tokio::select! {
                    ev = sub.next() => ev,
                    _ = &mut interrupted => return finish(&mut out, ExitCode::from(INTERRUPTED)),
                }
            }
        };
        let Some(event) = event else {
            finish(&mut out, ExitCode::SUCCESS)?;
            return match sub.end_reason() {
                Some(e) => Err(anyhow::Error::new(e).context("subscription ended")),
                None => Ok(ExitCode::SUCCESS),
            };
        };
        if matches!(event, Event::Message(_)) {
            printed += 1;
        }
        if let Err(e) = print(&mut out, args.format, id, &event) {
            return write_failed(e);
        }
    }
    let code = finish(&mut out, ExitCode::SUCCESS)?;
    client.close().await;
    Ok(code)
}

/// Flushes the output and returns `code` (or success on a closed pipe).
fn finish(out: &mut impl Write, code: ExitCode) -> anyhow::Result<ExitCode> {
    match out.flush() {
        Ok(()) => Ok(code),
        Err(e) => write_failed(e),
    }
}

/// A reader that went away (`| head`) is a normal end; other write errors
/// are not.
fn write_failed(e: io::Error) -> anyhow::Result<ExitCode> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(anyhow::Error::new(e).context("writing to standard output"))
    }
}

fn print(out: &mut impl Write, format: Format, sub_id: u32, event: &Event) -> io::Result<()> {
    match (format, event) {
        (Format::Text, Event::Message(m)) => {
            out.write_all(m.topic.as_bytes())?;
            out.write_all(b" ")?;
            if let Some(key) = &m.key {
                out.write_all(key.as_bytes())?;
                if m.state == Some(StateChange::Delete) {
                    return out.write_all(b" (deleted)\n");
                }
                out.write_all(b"=")?;
            }
            match std::str::from_utf8(&m.payload) {
                Ok(_) => out.write_all(&m.payload)?,
                Err(_) => write!(out, "base64:{}", base64_of(&m.payload))?,
            }
            out.write_all(b"\n")
        }
        (Format::Text, Event::Gap(g)) => {
            out.flush()?;
            eprintln!("spate: gap: {}", gap_text(g));
            Ok(())
        }
        (Format::Text, Event::Notice(n)) => {
            out.flush()?;
            eprintln!("spate: notice: {n}");
            Ok(())
        }
        (Format::Json, Event::Message(m)) => json_line(out, &message_json(m)),
        (Format::Json, Event::Gap(g)) => json_line(out, &gap_json(sub_id, g)),
        (Format::Json, Event::Notice(n)) => json_line(out, &notice_json(sub_id, n)),
    }
}

fn json_line(out: &mut impl Write, v: &Value) -> io::Result<()> {
    serde_json::to_writer(&mut *out, v)?;
    out.write_all(b"\n")
}

fn gap_text(g: &Gap) -> String {
    let mut s = format!(
        "{} message{} lost ({})",
        g.count,
        if g.count == 1 { "" } else { "s" },
        g.reason.name()
    );
    if !g.topic.is_empty() {
        s.push_str(&format!(
            " on {}, seq {}..={}",
            g.topic, g.first_seq, g.last_seq
        ));
    }
    s
}

/// A message as one JSON object.
pub(crate) fn message_json(m: &Message) -> Value {
    let headers: serde_json::Map<String, Value> = m
        .headers
        .iter()
        .map(|(n, v)| (n.to_string(), Value::from(v.as_str())))
        .collect();
    let mut v = json!({
        "type": "message",
        "topic": m.topic.as_str(),
        "seq": m.seq,
        "epoch": m.epoch.to_string(),
        "timestamp_us": m.timestamp_us,
        "key": m.key.as_deref(),
        "headers": headers,
    });
    put_bytes(&mut v, "payload", &m.payload);
    if let Some(change) = m.state {
        v["state"] = Value::from(match change {
            StateChange::Put => "put",
            StateChange::Delete => "delete",
        });
    }
    v
}

fn gap_json(sub_id: u32, g: &Gap) -> Value {
    let known = !g.topic.is_empty();
    json!({
        "type": "gap",
        "subscription": sub_id,
        "reason": g.reason.name(),
        "count": g.count,
        "first_seq": known.then_some(g.first_seq),
        "last_seq": known.then_some(g.last_seq),
        "topic": known.then(|| g.topic.as_str()),
    })
}

fn notice_json(sub_id: u32, n: &Notice) -> Value {
    let mut v = json!({
        "type": "notice",
        "subscription": sub_id,
        "kind": n.kind(),
        "message": n.to_string(),
    });
    let extra = match n {
        Notice::Disconnected { reason } | Notice::ServerGoingAway { reason } => {
            json!({ "reason": reason })
        }
        Notice::Resumed { from_seq, epoch } => {
            json!({ "from_seq": from_seq, "epoch": epoch.to_string() })
        }
        Notice::Truncated {
            requested_seq,
            first_seq,
        } => json!({ "requested_seq": requested_seq, "first_seq": first_seq }),
        Notice::EpochChanged {
            old_epoch,
            new_epoch,
        } => json!({ "old_epoch": old_epoch.to_string(), "new_epoch": new_epoch.to_string() }),
        _ => json!({}),
    };
    if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
        v.extend(extra);
    }
    v
}

/// Sets `field` to the bytes as a string, or to base64 with a
/// `<field>_encoding: "base64"` marker when they are not UTF-8.
pub(crate) fn put_bytes(v: &mut Value, field: &str, bytes: &[u8]) {
    let (text, encoded) = text_or_base64(bytes);
    v[field] = Value::from(text.into_owned());
    if encoded {
        v[format!("{field}_encoding")] = Value::from("base64");
    }
}

fn text_or_base64(bytes: &[u8]) -> (Cow<'_, str>, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), false),
        Err(_) => (Cow::Owned(base64_of(bytes)), true),
    }
}

fn base64_of(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An id printed as a JSON string (an epoch), given back with or without
/// its quotes.
fn parse_id(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(t);
    t.parse()
        .map_err(|_| format!("{s:?} is not an epoch (a whole number, as printed by --format json)"))
}

fn parse_linger(s: &str) -> Result<u32, String> {
    let ms: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of milliseconds"))?;
    if !(0.0..=(u32::MAX as f64 / 1000.0)).contains(&ms) {
        return Err(format!("{s} ms is out of range"));
    }
    Ok((ms * 1000.0).round() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate_client::proto::{GapReason, Text};

    fn message(payload: &'static [u8]) -> Message {
        Message {
            epoch: 3,
            seq: 42,
            timestamp_us: 1_700_000_000_000_000,
            state: Some(StateChange::Put),
            topic: Text::from("orders.eu"),
            key: Some(Text::from("k1")),
            headers: vec![(Text::from("h"), Text::from("v"))],
            payload: bytes::Bytes::from_static(payload),
        }
    }

    #[test]
    fn json_message_carries_metadata_and_safe_payloads() {
        let v = message_json(&message(b"{\"id\":1}"));
        assert_eq!(
            v,
            json!({"type":"message","topic":"orders.eu","seq":42,"epoch":"3",
                   "timestamp_us":1_700_000_000_000_000u64,"key":"k1","headers":{"h":"v"},
                   "payload":"{\"id\":1}","state":"put"})
        );
        let v = message_json(&message(&[0xff, 0x00]));
        assert_eq!(v["payload"], "/wA=");
        assert_eq!(v["payload_encoding"], "base64");
    }

    #[test]
    fn text_lines_and_gap_lines() {
        let mut out = Vec::new();
        print(
            &mut out,
            Format::Text,
            1,
            &Event::Message(message(b"hello")),
        )
        .unwrap();
        print(&mut out, Format::Text, 1, &Event::Message(message(&[0xff]))).unwrap();
        assert_eq!(out, b"orders.eu k1=hello\norders.eu k1=base64:/w==\n");
        let mut out = Vec::new();
        let mut m = message(b"");
        m.state = Some(StateChange::Delete);
        print(&mut out, Format::Text, 1, &Event::Message(m)).unwrap();
        let mut m = message(b"x");
        m.key = None;
        m.state = None;
        print(&mut out, Format::Text, 1, &Event::Message(m)).unwrap();
        assert_eq!(out, b"orders.eu k1 (deleted)\norders.eu x\n");
        let gap = Gap {
            sub_id: 1,
            reason: GapReason::DroppedOldest,
            count: 5,
            first_seq: 10,
            last_seq: 14,
            topic: Text::from("orders.eu"),
        };
        assert_eq!(
            gap_text(&gap),
            "5 messages lost (dropped_oldest) on orders.eu, seq 10..=14"
        );
        assert_eq!(
            gap_json(1, &gap),
            json!({"type":"gap","subscription":1,"reason":"dropped_oldest","count":5,
                   "first_seq":10,"last_seq":14,"topic":"orders.eu"})
        );
        let spanning = Gap {
            topic: Text::default(),
            ..gap
        };
        assert_eq!(gap_json(1, &spanning)["topic"], Value::Null);
    }

    #[test]
    fn notices_have_a_kind_and_their_fields() {
        let v = notice_json(
            2,
            &Notice::Truncated {
                requested_seq: 5,
                first_seq: 9,
            },
        );
        assert_eq!(v["kind"], "truncated");
        assert_eq!(v["requested_seq"], 5);
        assert_eq!(v["first_seq"], 9);
    }

    #[test]
    fn epochs_are_read_with_or_without_quotes() {
        assert_eq!(parse_id("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_id("\"12\""), Ok(12));
        assert!(parse_id("1.8e19").is_err());
    }

    #[test]
    fn linger_accepts_fractional_milliseconds() {
        assert_eq!(parse_linger("5"), Ok(5000));
        assert_eq!(parse_linger("0.5"), Ok(500));
        assert!(parse_linger("-1").is_err());
        assert!(parse_linger("x").is_err());
    }
}
