//! Durability for the built-in engine (`[storage]`): state, history and
//! epochs of the topics a `[[storage.persist]]` rule names survive a
//! restart or a crash. Topics no rule names keep today's in-memory path.
//!
//! - [`format`]: record layout with a CRC per record;
//! - [`segment`]: segment files, append with rotation, scan;
//! - [`log`]: the writer thread, group commit, the durable-LSN watermark;
//! - [`hook`]: what the publish path calls under a topic's mutex;
//! - [`recover`]: rebuilding topics at start, torn-tail truncation;
//! - [`compact`]: background snapshot compaction;
//! - [`repair`]: the offline `spate storage check|repair`.

pub mod compact;
pub mod format;
pub mod hook;
pub mod log;
pub mod recover;
pub mod repair;
pub mod segment;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::storage::{FsyncPolicy, Storage as StorageConfig};

/// How long a PUB_ACK / STATE_REPLY waits for its record to be durable
/// under `fsync = "always"` before STORAGE_FAILED is answered.
pub const DURABLE_DEADLINE: Duration = Duration::from_secs(10);

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A file operation failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A segment before the last holds a bad record.
    #[error(
        "corrupt log segment {} at byte offset {offset}: {why}; the start is stopped \
         (run `spate storage check {dir}` to see the damage and `spate storage repair {dir}` \
         to cut the log at the first bad record)", .path.display(), dir = .path.parent().map(|p| p.display().to_string()).unwrap_or_default()
    )]
    Corrupt {
        /// The segment.
        path: PathBuf,
        /// Offset of the bad record.
        offset: u64,
        /// What is wrong with it.
        why: String,
    },
    /// The log writer failed earlier; nothing more is persisted.
    #[error("the storage log failed (see the server log); the write is not durable")]
    Failed,
    /// The record did not reach disk in time.
    #[error("the write did not reach disk within {0:?}")]
    Timeout(Duration),
}

impl StorageError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> StorageError {
        StorageError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// The open storage of a running broker.
#[derive(Debug)]
pub struct Storage {
    /// The log writer.
    pub log: Arc<log::Log>,
    /// Settings.
    pub config: StorageConfig,
    /// Directory.
    pub dir: PathBuf,
    /// Torn tail records cut off when this storage was opened.
    pub torn_at_open: u64,
    /// Did the previous run stop cleanly?
    pub was_clean: bool,
    /// One compaction at a time.
    pub compacting: parking_lot::Mutex<()>,
}

impl Storage {
    /// Recovers `cfg.dir` and starts the writer on a fresh segment.
    pub fn open(
        cfg: &StorageConfig,
        keep: recover::KeepFn<'_>,
    ) -> Result<(Storage, recover::Recovered), StorageError> {
        let dir = cfg.dir.clone().unwrap_or_default();
        std::fs::create_dir_all(&dir).map_err(|e| StorageError::io(&dir, e))?;
        let started = std::time::Instant::now();
        let rec = recover::recover(&dir, keep)?;
        if rec.torn > 0 {
            metrics::counter!("spate_storage_torn_records_total").increment(rec.torn);
        }
        tracing::info!(
            dir = %dir.display(),
            topics = rec.topics.len(),
            records = rec.records,
            bytes = rec.bytes,
            clean = rec.clean,
            torn = rec.torn,
            ms = started.elapsed().as_millis() as u64,
            "storage: log recovered"
        );
        let seg = segment::SegmentWriter::create(&dir, rec.next_segment, cfg.segment_bytes)?;
        let log = log::Log::start(
            seg,
            cfg.fsync,
            Duration::from_millis(cfg.fsync_interval_ms.max(1)),
        );
        Ok((
            Storage {
                log: Arc::new(log),
                config: cfg.clone(),
                dir,
                torn_at_open: rec.torn,
                was_clean: rec.clean,
                compacting: parking_lot::Mutex::new(()),
            },
            rec,
        ))
    }

    /// Do acknowledgements wait for the disk?
    pub fn acks_wait(&self) -> bool {
        self.config.fsync == FsyncPolicy::Always
    }
}
