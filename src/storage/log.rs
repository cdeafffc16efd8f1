//! The log writer: a dedicated thread that takes every record queued since
//! its last round, writes them with one `write`, forces them to disk per
//! the fsync policy (one fsync for the whole round: group commit), and then
//! publishes "durable up to LSN" through a `watch` channel.
//!
//! [`Log::append`] is what the publish path calls under a topic's mutex: it
//! pushes a handle (the message body's `Bytes`, shared, not copied) onto a
//! queue behind a short mutex and returns the record's LSN. No I/O, no
//! await. Framing and CRCs are computed on the writer thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use tokio::sync::{watch, Notify};

use super::format::Record;
use super::segment::SegmentWriter;
use super::StorageError;
use crate::config::storage::FsyncPolicy;

/// Queued bytes past which publishers wait for the writer
/// ([`Log::wait_room`]).
pub const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;

/// A record waiting for the writer.
#[derive(Debug)]
pub enum Item {
    /// A topic's epoch.
    Epoch(Arc<str>, u64),
    /// A seq reservation.
    Reserve(Arc<str>, u64),
    /// A message body.
    Message(Bytes),
    /// Clean shutdown.
    Clean,
    /// Compaction: start a new segment and send its number (every record
    /// queued before this one is in an earlier segment).
    Rotate(std::sync::mpsc::SyncSender<u64>),
}

impl Item {
    fn size(&self) -> usize {
        match self {
            Item::Epoch(t, _) | Item::Reserve(t, _) => t.len() + 19,
            Item::Message(b) => b.len() + 9,
            Item::Clean | Item::Rotate(_) => 9,
        }
    }
}

#[derive(Debug, Default)]
struct Queue {
    items: Vec<Item>,
    bytes: usize,
    next_lsn: u64,
    closing: bool,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    room: Notify,
    failed: AtomicBool,
    durable: watch::Sender<u64>,
    written: std::sync::atomic::AtomicU64,
    syncs: std::sync::atomic::AtomicU64,
}

/// Handle to the log; the writer thread stops on [`Log::close`].
#[derive(Debug)]
pub struct Log {
    shared: Arc<Shared>,
    durable: watch::Receiver<u64>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    policy: FsyncPolicy,
}

impl Log {
    /// Starts the writer on `seg` (a fresh segment).
    pub fn start(seg: SegmentWriter, policy: FsyncPolicy, interval: Duration) -> Log {
        let (tx, rx) = watch::channel(0);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                next_lsn: 1,
                ..Queue::default()
            }),
            wake: Condvar::new(),
            room: Notify::new(),
            failed: AtomicBool::new(false),
            durable: tx,
            written: std::sync::atomic::AtomicU64::new(0),
            syncs: std::sync::atomic::AtomicU64::new(0),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("spate-log".into())
            .spawn(move || writer(s, seg, policy, interval))
            .expect("spawning the log writer thread");
        Log {
            shared,
            durable: rx,
            thread: Mutex::new(Some(thread)),
            policy,
        }
    }

    /// The fsync policy in force.
    pub fn policy(&self) -> FsyncPolicy {
        self.policy
    }

    /// Queues a record; returns its LSN. Cheap: no I/O.
    pub fn append(&self, item: Item) -> u64 {
        let mut q = self.shared.queue.lock();
        let lsn = q.next_lsn;
        q.next_lsn += 1;
        q.bytes += item.size();
        let was_empty = q.items.is_empty();
        q.items.push(item);
        drop(q);
        if was_empty {
            self.shared.wake.notify_one();
        }
        lsn
    }

    /// LSN of the last record queued so far.
    pub fn last_lsn(&self) -> u64 {
        self.shared.queue.lock().next_lsn - 1
    }

    /// Waits until the writer has caught up enough for more records.
    pub async fn wait_room(&self) {
        loop {
            let n = self.shared.room.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.shared.queue.lock().bytes < MAX_PENDING_BYTES
                || self.shared.failed.load(Ordering::Relaxed)
            {
                return;
            }
            n.await;
        }
    }

    /// Waits until every record up to `lsn` is on disk, for at most
    /// `deadline`.
    pub async fn wait_durable(&self, lsn: u64, deadline: Duration) -> Result<(), StorageError> {
        let mut rx = self.durable.clone();
        let shared = &self.shared;
        let r = tokio::time::timeout(
            deadline,
            rx.wait_for(|d| *d >= lsn || shared.failed.load(Ordering::Relaxed)),
        )
        .await;
        match r {
            Ok(Ok(_)) if !self.shared.failed.load(Ordering::Relaxed) => Ok(()),
            Ok(_) => Err(StorageError::Failed),
            Err(_) => Err(StorageError::Timeout(deadline)),
        }
    }

    /// Bytes written to segments since the start.
    pub fn bytes_written(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }

    /// fsyncs done so far (group commit: far fewer than records).
    pub fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// Has the log been closed?
    pub fn is_closed(&self) -> bool {
        self.thread.lock().is_none()
    }

    /// Has a write or fsync failed (the log accepts nothing more)?
    pub fn has_failed(&self) -> bool {
        self.shared.failed.load(Ordering::Relaxed)
    }

    /// Writes a CLEAN record, flushes and syncs everything, and stops the
    /// writer. Idempotent.
    pub fn close(&self) {
        let Some(t) = self.thread.lock().take() else {
            return;
        };
        self.append(Item::Clean);
        self.shared.queue.lock().closing = true;
        self.shared.wake.notify_one();
        let _ = t.join();
    }
}

/// The writer thread's loop.
fn writer(s: Arc<Shared>, mut seg: SegmentWriter, policy: FsyncPolicy, interval: Duration) {
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut last_sync = Instant::now();
    let mut dirty = false;
    let mut batch = Vec::new();
    loop {
        let (upto, closing) = {
            let mut q = s.queue.lock();
            while q.items.is_empty() && !q.closing {
                if dirty && policy == FsyncPolicy::Interval {
                    let left = interval.saturating_sub(last_sync.elapsed());
                    if left.is_zero() || s.wake.wait_for(&mut q, left).timed_out() {
                        break;
                    }
                } else {
                    s.wake.wait(&mut q);
                }
            }
            std::mem::swap(&mut batch, &mut q.items);
            q.bytes = 0;
            (q.next_lsn - 1, q.closing)
        };
        s.room.notify_waiters();
        buf.clear();
        let mut result = Ok(());
        for item in batch.drain(..) {
            let r = match item {
                Item::Epoch(t, epoch) => Record::Epoch {
                    topic: t.to_string(),
                    epoch,
                },
                Item::Reserve(t, seq) => Record::Reserve {
                    topic: t.to_string(),
                    seq,
                },
                Item::Message(b) => Record::Message(b),
                Item::Clean => Record::Clean,
                Item::Rotate(tx) => {
                    if result.is_ok() {
                        s.written.fetch_add(buf.len() as u64, Ordering::Relaxed);
                        result = seg.write(&buf).and_then(|()| seg.rotate());
                        buf.clear();
                        if result.is_ok() {
                            let _ = tx.send(seg.num());
                        }
                    }
                    continue;
                }
            };
            let start = buf.len();
            r.encode(&mut buf);
            if result.is_ok() && seg.must_rotate_before(buf.len(), buf.len() - start) {
                result = seg.write(&buf[..start]).and_then(|()| seg.rotate());
                buf.drain(..start);
            }
        }
        let result = result.and_then(|()| {
            if !buf.is_empty() {
                s.written.fetch_add(buf.len() as u64, Ordering::Relaxed);
                seg.write(&buf)?;
                dirty = true;
            }
            let due = match policy {
                FsyncPolicy::Always => true,
                FsyncPolicy::Interval => last_sync.elapsed() >= interval,
                FsyncPolicy::Never => false,
            };
            if dirty && (due || closing) {
                seg.sync()?;
                s.syncs.fetch_add(1, Ordering::Relaxed);
                dirty = false;
                last_sync = Instant::now();
            }
            Ok::<(), StorageError>(())
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "storage: writing the log failed; persisted writes are refused from now on");
            s.failed.store(true, Ordering::Relaxed);
            s.durable.send_modify(|_| {});
            s.room.notify_waiters();
            // Keep draining so appenders never grow the queue unbounded.
            loop {
                let mut q = s.queue.lock();
                q.items.clear();
                q.bytes = 0;
                if q.closing {
                    return;
                }
                s.wake.wait(&mut q);
            }
        }
        if policy == FsyncPolicy::Always || !dirty || policy == FsyncPolicy::Never {
            s.durable.send_replace(upto);
        }
        if closing {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{recover, segment};

    #[test]
    fn group_commit_makes_every_record_durable_with_few_fsyncs() {
        let dir = tempfile::tempdir().unwrap();
        let seg = SegmentWriter::create(dir.path(), 0, 1 << 20).unwrap();
        let log = Arc::new(Log::start(
            seg,
            FsyncPolicy::Always,
            Duration::from_millis(100),
        ));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // 8 appenders, each waiting for its record before the next: the
        // writer's rounds gather what arrives during an fsync.
        rt.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let log = log.clone();
                    tokio::spawn(async move {
                        let t: Arc<str> = Arc::from(format!("t{i}").as_str());
                        for n in 1..=50u64 {
                            let lsn = log.append(Item::Reserve(t.clone(), n));
                            log.wait_durable(lsn, Duration::from_secs(10))
                                .await
                                .unwrap();
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        assert!(log.syncs() < 400, "{} fsyncs for 400 records", log.syncs());
        log.close();
        let keep = |_: &str| Some((true, 0));
        let rec = recover::recover(dir.path(), &keep).unwrap();
        assert!(rec.clean);
        assert_eq!(rec.topics.len(), 8);
        assert!(rec.topics.values().all(|t| t.reserved == 50));
        assert_eq!(segment::list(dir.path()).unwrap(), vec![0]);
    }
}
