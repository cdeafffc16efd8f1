//! The ceiling: a trivial byte forwarder (`spate bench forwarder`). Each
//! publisher connection's bytes are handed, as read, to every subscriber
//! connection's writer task (a short bounded queue of shared chunks, so the
//! publisher waits for a subscriber that falls behind) — no topics, no
//! per-message work, no decoding. The only look at the
//! bytes is a walk over the 4-byte length prefixes so that a chunk ends
//! on a frame boundary (otherwise two publishers' chunks would interleave
//! mid-frame). Whatever a broker does on top of this costs throughput;
//! this shows what the machine's loopback and the generator allow.
//!
//! Handshake (see `wire/forward.rs`): the client sends `P` or `S`, the
//! forwarder answers `K` once the connection is registered.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};

use crate::error::BenchError;
use crate::wire::forward::{READY, ROLE_PUBLISHER, ROLE_SUBSCRIBER};

/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 4096;
/// Read buffer of a publisher connection.
const CHUNK: usize = 256 * 1024;
/// Chunks queued per subscriber before the publisher waits for it.
const SINK_QUEUE: usize = 16;
/// Time a new connection has to send its role byte.
const ROLE_TIMEOUT: Duration = Duration::from_secs(10);

/// A registered subscriber: the sending end of its writer task's queue.
/// Chunks are shared (`Bytes`), so fan-out copies no payload in user space.
struct Sink {
    tx: mpsc::Sender<Bytes>,
}

/// The current subscribers, replaced (not mutated) on change so a
/// publisher takes a snapshot with one `Arc` clone per chunk.
type Sinks = Arc<RwLock<Arc<Vec<Arc<Sink>>>>>;

/// Serves connections on `listener` until an accept error.
pub async fn serve(listener: TcpListener) -> Result<(), BenchError> {
    let sinks: Sinks = Arc::default();
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = limit
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| BenchError::Closed("accept"))?;
        let (stream, _) = listener.accept().await?;
        let sinks = sinks.clone();
        tokio::spawn(async move {
            // A failed connection only ends itself.
            let _ = handle(stream, sinks).await;
            drop(permit);
        });
    }
}

async fn handle(mut stream: TcpStream, sinks: Sinks) -> Result<(), BenchError> {
    stream.set_nodelay(true)?;
    let mut role = [0u8; 1];
    tokio::time::timeout(ROLE_TIMEOUT, stream.read_exact(&mut role))
        .await
        .map_err(|_| BenchError::Timeout("role byte"))??;
    match role[0] {
        ROLE_PUBLISHER => {
            stream.write_all(&[READY]).await?;
            forward(stream, &sinks).await
        }
        ROLE_SUBSCRIBER => {
            let (mut rd, mut wr) = stream.into_split();
            wr.write_all(&[READY]).await?;
            let (tx, mut rx) = mpsc::channel::<Bytes>(SINK_QUEUE);
            let sink = Arc::new(Sink { tx });
            update(&sinks, |v| v.push(sink.clone()));
            let writer = tokio::spawn(async move {
                while let Some(chunk) = rx.recv().await {
                    if wr.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
            });
            // Subscribers send nothing; reading only notices them leave.
            let mut scratch = [0u8; 1024];
            while matches!(rd.read(&mut scratch).await, Ok(n) if n > 0) {}
            update(&sinks, |v| v.retain(|s| !Arc::ptr_eq(s, &sink)));
            writer.abort();
            Ok(())
        }
        b => Err(BenchError::Protocol(format!("unknown role byte {b:#x}"))),
    }
}

fn update(sinks: &Sinks, f: impl FnOnce(&mut Vec<Arc<Sink>>)) {
    let mut guard = sinks.write().unwrap_or_else(|e| e.into_inner());
    let mut v: Vec<Arc<Sink>> = guard.as_ref().clone();
    f(&mut v);
    *guard = Arc::new(v);
}

/// Hands whole frames from one publisher to every subscriber's writer.
async fn forward(mut stream: TcpStream, sinks: &Sinks) -> Result<(), BenchError> {
    let mut buf = BytesMut::with_capacity(CHUNK);
    loop {
        if buf.capacity() - buf.len() < CHUNK / 4 {
            buf.reserve(CHUNK);
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
        let whole = frame_boundary(&buf);
        if whole == 0 {
            continue;
        }
        let chunk = buf.split_to(whole).freeze();
        let snapshot = sinks.read().unwrap_or_else(|e| e.into_inner()).clone();
        for s in snapshot.iter() {
            // A closed queue means the subscriber left; it is being removed.
            let _ = s.tx.send(chunk.clone()).await;
        }
    }
}

/// Length of the longest prefix of `b` made of whole `u32 len, payload`
/// frames.
fn frame_boundary(b: &[u8]) -> usize {
    let mut at = 0;
    while let Some(h) = b.get(at..at + 4) {
        let next = at + 4 + u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if next > b.len() {
            break;
        }
        at = next;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_stops_before_partial_frame() {
        assert_eq!(frame_boundary(b"\0\0\0\x01a\0\0\0\x02bc\0\0\0\x05xy"), 11);
        assert_eq!(frame_boundary(b"\0\0"), 0);
        assert_eq!(frame_boundary(b""), 0);
    }
}
