//! `spate bench idle-conns`: what a connection that only completes the
//! handshake costs the broker, and how fast a fresh broker takes a crowd
//! of them (every client reconnecting at once after a restart).
//!
//! Opens N connections one after another as fast as connect() returns,
//! each sending its handshake at once (spate HELLO, NATS CONNECT+PING,
//! Redis PING), then waits for every answer. Reports the time to connect
//! and to complete every handshake, the connects that took a second or
//! more (a dropped SYN, resent by the kernel after 1 s), the kernel's
//! listen-queue overflow and SYN-retransmit counters over the run, the
//! broker's RSS before, with every connection open (hence bytes per
//! connection), and a settle period after they all closed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::{BrokerKind, SubOptions};
use crate::error::BenchError;
use crate::procstat;
use crate::wire::{Event, Role, Wire};

/// A connect that took at least this long waited out a SYN retransmit.
const SLOW_CONNECT: Duration = Duration::from_millis(900);

/// One idle-connections run.
#[derive(Debug, Clone, Serialize)]
pub struct IdleConfig {
    /// Target broker.
    pub broker: BrokerKind,
    /// Its address (loopback).
    pub addr: SocketAddr,
    /// Connections to open.
    pub conns: usize,
    /// The broker's pid, for its RSS (optional).
    pub broker_pid: Option<u32>,
    /// How long after closing every connection the last RSS is read.
    #[serde(serialize_with = "millis")]
    pub settle: Duration,
    /// Hard limit on opening and handshaking all connections.
    #[serde(serialize_with = "millis")]
    pub timeout: Duration,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// What one run measured. Memory figures are `None` without a broker pid.
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    /// The run's settings.
    pub config: IdleConfig,
    /// Connections established.
    pub connected: usize,
    /// Connections whose handshake completed.
    pub handshaken: usize,
    /// Seconds from the first connect() to the last one returning.
    pub connect_secs: f64,
    /// Seconds from the first connect() to the last handshake answer.
    pub handshake_secs: f64,
    /// Slowest single connect(), milliseconds.
    pub slowest_connect_ms: f64,
    /// Connects that took 900 ms or more (each waited out a SYN resend).
    pub slow_connects: usize,
    /// Kernel counter deltas over the connect phase (`/proc/net/netstat`,
    /// whole network namespace): TcpExt ListenOverflows, ListenDrops,
    /// TCPSynRetrans.
    pub listen_overflows: Option<u64>,
    /// See [`Self::listen_overflows`].
    pub listen_drops: Option<u64>,
    /// See [`Self::listen_overflows`].
    pub syn_retrans: Option<u64>,
    /// Broker RSS before connecting, KiB.
    pub rss_before_kib: Option<u64>,
    /// Broker RSS with every connection open and idle, KiB.
    pub rss_open_kib: Option<u64>,
    /// (open − before) / connections, bytes.
    pub bytes_per_conn: Option<u64>,
    /// Broker RSS `settle` after every connection closed, KiB.
    pub rss_after_close_kib: Option<u64>,
    /// First error that stopped the run early, if any.
    pub error: Option<String>,
}

/// Runs the scenario on the current runtime. The caller raises the
/// open-file limit first (one descriptor per connection).
pub async fn run(cfg: &IdleConfig) -> Result<IdleReport, BenchError> {
    if !cfg.addr.ip().is_loopback() {
        return Err(BenchError::Invalid(format!(
            "{} is not a loopback address",
            cfg.addr
        )));
    }
    if cfg.broker == BrokerKind::Forwarder {
        return Err(BenchError::Invalid(
            "the forwarder has no handshake: spate, nats or redis".into(),
        ));
    }
    let rss = || procstat::sample(cfg.broker_pid).map(|s| s.rss_kib);
    let rss_before_kib = cfg.broker_pid.and_then(|_| rss());
    let net_before = tcp_ext();
    let deadline = tokio::time::Instant::now() + cfg.timeout;
    let mut hello = Vec::new();
    Wire::new(cfg.broker, &SubOptions::default()).hello(Role::Subscriber, &mut hello);

    let start = Instant::now();
    // Each connection reads its handshake answer in a task of its own, so
    // answers are taken while later connections are still being opened.
    let mut conns = Vec::with_capacity(cfg.conns);
    let (mut slowest, mut slow_connects) = (Duration::ZERO, 0);
    let mut error = None;
    for _ in 0..cfg.conns {
        let t = Instant::now();
        let r = tokio::time::timeout_at(deadline, TcpStream::connect(cfg.addr)).await;
        let took = t.elapsed();
        slowest = slowest.max(took);
        if took >= SLOW_CONNECT {
            slow_connects += 1;
        }
        let mut s = match r {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                error = Some(format!("connect #{}: {e}", conns.len() + 1));
                break;
            }
            Err(_) => {
                error = Some(format!("timed out after {} connections", conns.len()));
                break;
            }
        };
        let _ = s.set_nodelay(true);
        let (kind, hello) = (cfg.broker, hello.clone());
        conns.push(tokio::spawn(async move {
            let r = tokio::time::timeout_at(deadline, async {
                s.write_all(&hello).await?;
                handshake(kind, &mut s).await
            })
            .await
            .unwrap_or(Err(BenchError::Timeout("the handshake")));
            (s, r, Instant::now())
        }));
    }
    let connect_secs = start.elapsed().as_secs_f64();
    let connected = conns.len();
    let mut handshaken = 0;
    let mut last = start;
    let mut open = Vec::with_capacity(connected);
    for (i, task) in conns.into_iter().enumerate() {
        match task.await {
            Ok((s, r, at)) => {
                open.push(s);
                match r {
                    Ok(()) => {
                        handshaken += 1;
                        last = last.max(at);
                    }
                    Err(e) if error.is_none() => error = Some(format!("handshake #{}: {e}", i + 1)),
                    Err(_) => {}
                }
            }
            Err(e) => error = error.or(Some(format!("handshake task #{}: {e}", i + 1))),
        }
    }
    let handshake_secs = (last - start).as_secs_f64();
    let net_after = tcp_ext();
    let rss_open_kib = cfg.broker_pid.and_then(|_| rss());
    drop(open);
    let rss_after_close_kib = match cfg.broker_pid {
        Some(_) => {
            // Not a synchronisation: the point is what is left after this
            // long.
            tokio::time::sleep(cfg.settle).await;
            rss()
        }
        None => None,
    };
    let delta = |k: &str| {
        let (a, b) = (net_before.as_ref()?, net_after.as_ref()?);
        Some(b.get(k)?.saturating_sub(*a.get(k)?))
    };
    let bytes_per_conn = match (rss_before_kib, rss_open_kib) {
        (Some(b), Some(o)) if handshaken > 0 => {
            Some(o.saturating_sub(b) * 1024 / handshaken as u64)
        }
        _ => None,
    };
    Ok(IdleReport {
        config: cfg.clone(),
        connected,
        handshaken,
        connect_secs,
        handshake_secs,
        slowest_connect_ms: slowest.as_secs_f64() * 1000.0,
        slow_connects,
        listen_overflows: delta("ListenOverflows"),
        listen_drops: delta("ListenDrops"),
        syn_retrans: delta("TCPSynRetrans"),
        rss_before_kib,
        rss_open_kib,
        bytes_per_conn,
        rss_after_close_kib,
        error,
    })
}

/// Reads until the broker's answer to the handshake (sent already).
async fn handshake(kind: BrokerKind, s: &mut TcpStream) -> Result<(), BenchError> {
    let mut wire = Wire::new(kind, &SubOptions::default());
    let mut buf = vec![0u8; 4096];
    let mut have = 0;
    let mut replies = Vec::new();
    loop {
        if have == buf.len() {
            return Err(BenchError::Protocol("handshake answer too long".into()));
        }
        let n = s.read(&mut buf[have..]).await?;
        if n == 0 {
            return Err(BenchError::Closed("the handshake"));
        }
        have += n;
        let (mut ready, mut err) = (false, None);
        let used = wire.parse(&buf[..have], &mut replies, &mut |ev| match ev {
            Event::Ready => ready = true,
            Event::Error(e) => err = Some(e),
            _ => {}
        })?;
        if let Some(e) = err {
            return Err(BenchError::Refused(e));
        }
        if ready {
            return Ok(());
        }
        buf.copy_within(used..have, 0);
        have -= used;
    }
}

/// The TcpExt counters of `/proc/net/netstat` (pairs of header and value
/// lines); `None` where it cannot be read.
fn tcp_ext() -> Option<HashMap<String, u64>> {
    parse_netstat(&std::fs::read_to_string("/proc/net/netstat").ok()?)
}

fn parse_netstat(text: &str) -> Option<HashMap<String, u64>> {
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let names = lines.next()?.split_whitespace().skip(1);
    let values = lines.next()?.split_whitespace().skip(1);
    Some(
        names
            .zip(values)
            .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
            .collect(),
    )
}

impl IdleReport {
    /// The report as a short table.
    pub fn to_table(&self) -> String {
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let mib =
            |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{:.1}", v as f64 / 1024.0));
        let c = &self.config;
        let mut s = format!(
            "idle-conns: {} at {}, {} connections\n",
            c.broker.name(),
            c.addr,
            c.conns
        );
        s += &format!(
            "  connected {} in {:.2} s, handshaken {} in {:.2} s\n",
            self.connected, self.connect_secs, self.handshaken, self.handshake_secs
        );
        s += &format!(
            "  slowest connect {:.1} ms, connects >= 900 ms: {}\n",
            self.slowest_connect_ms, self.slow_connects
        );
        s += &format!(
            "  kernel (whole netns): ListenOverflows +{}, ListenDrops +{}, TCPSynRetrans +{}\n",
            opt(self.listen_overflows),
            opt(self.listen_drops),
            opt(self.syn_retrans)
        );
        s += &format!(
            "  broker RSS MiB: before {}, open {}, {} ms after close {}; bytes/conn {}\n",
            mib(self.rss_before_kib),
            mib(self.rss_open_kib),
            c.settle.as_millis(),
            mib(self.rss_after_close_kib),
            opt(self.bytes_per_conn)
        );
        if let Some(e) = &self.error {
            s += &format!("  stopped early: {e}\n");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netstat_pairs_names_with_values() {
        let t = "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPSynRetrans\n\
                 TcpExt: 0 11 12 13\n\
                 IpExt: InNoRoutes\nIpExt: 4\n";
        let m = parse_netstat(t).unwrap();
        assert_eq!(m["ListenOverflows"], 11);
        assert_eq!(m["ListenDrops"], 12);
        assert_eq!(m["TCPSynRetrans"], 13);
        assert!(!m.contains_key("InNoRoutes"));
    }
}
