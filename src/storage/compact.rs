//! Background compaction by snapshot. The log only grows; once enough has
//! been written since the last compaction, the compactor:
//!
//! 1. has the writer start a new segment K (every record queued before is
//!    in a segment < K);
//! 2. takes each persisted topic's live content — epoch, current
//!    reservation, last seq, retained history and latest state messages —
//!    locking one topic at a time, only to copy handles (no I/O under a
//!    topic lock);
//! 3. writes it to `K.snap` (same record format; via a `.tmp` file, synced,
//!    then renamed), with an APPLIED record per topic so that messages the
//!    snapshot already reflects are skipped when segment K onward is
//!    replayed after it;
//! 4. deletes every segment and snapshot before K.
//!
//! Recovery reads the newest snapshot, then the segments from K on. State
//! keeps only the latest revision per key (deleted keys simply vanish),
//! and history past its retention is gone with the old segments.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;

use super::format::{Record, MAGIC};
use super::log::Item;
use super::{segment, Storage, StorageError};

/// File name suffix of a snapshot.
const SUFFIX: &str = ".snap";

/// One persisted topic's live content.
#[derive(Debug)]
pub struct TopicSnap {
    /// Topic name.
    pub name: String,
    /// Epoch.
    pub epoch: u64,
    /// Current seq reservation.
    pub reserved: u64,
    /// Last assigned seq.
    pub seq: u64,
    /// Message bodies to keep (history and state), by seq.
    pub msgs: Vec<(u64, Bytes)>,
}

/// Path of snapshot `k` in `dir`.
pub fn path_of(dir: &Path, k: u64) -> PathBuf {
    dir.join(format!("{k:020}{SUFFIX}"))
}

/// The snapshot numbers in `dir`, ascending.
pub fn list(dir: &Path) -> Result<Vec<u64>, StorageError> {
    let mut v = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))?;
    for ent in rd {
        let ent = ent.map_err(|e| StorageError::io(dir, e))?;
        let name = ent.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|s| s.strip_suffix(SUFFIX))
            .and_then(|s| s.parse().ok())
        {
            v.push(n);
        }
    }
    v.sort_unstable();
    Ok(v)
}

/// What one compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    /// Snapshot number (first segment after it).
    pub snapshot: u64,
    /// Snapshot size.
    pub bytes: u64,
    /// Files deleted.
    pub deleted: usize,
}

/// Runs one compaction; `topics` is consumed after the rotation, and
/// takes each topic's snapshot as it is iterated.
pub fn compact(
    st: &Storage,
    topics: impl Iterator<Item = TopicSnap>,
) -> Result<Compacted, StorageError> {
    let _one = st.compacting.lock();
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    st.log.append(Item::Rotate(tx));
    let k = rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| StorageError::Failed)?;
    let dir = &st.dir;
    let tmp = dir.join(format!("{k:020}{SUFFIX}.tmp"));
    let file = File::create(&tmp).map_err(|e| StorageError::io(&tmp, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let io = |e| StorageError::io(&tmp, e);
    w.write_all(MAGIC).map_err(io)?;
    let mut buf = Vec::new();
    for mut t in topics {
        t.msgs.sort_unstable_by_key(|(s, _)| *s);
        t.msgs.dedup_by_key(|(s, _)| *s);
        buf.clear();
        Record::Epoch {
            topic: t.name.clone(),
            epoch: t.epoch,
        }
        .encode(&mut buf);
        for (_, body) in t.msgs {
            Record::Message(body).encode(&mut buf);
        }
        Record::Reserve {
            topic: t.name.clone(),
            seq: t.reserved,
        }
        .encode(&mut buf);
        Record::Applied {
            topic: t.name,
            seq: t.seq,
        }
        .encode(&mut buf);
        w.write_all(&buf).map_err(io)?;
    }
    let file = w.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    let snap = path_of(dir, k);
    std::fs::rename(&tmp, &snap).map_err(|e| StorageError::io(&snap, e))?;
    segment::sync_dir(dir)?;
    let deleted = delete_before(dir, k)?;
    Ok(Compacted {
        snapshot: k,
        bytes,
        deleted,
    })
}

/// Deletes segments and snapshots numbered below `k`; returns how many.
pub fn delete_before(dir: &Path, k: u64) -> Result<usize, StorageError> {
    let mut n = 0;
    for s in segment::list(dir)?.into_iter().filter(|&s| s < k) {
        let p = segment::path_of(dir, s);
        remove(&p)?;
        n += 1;
    }
    for s in list(dir)?.into_iter().filter(|&s| s < k) {
        let p = path_of(dir, s);
        remove(&p)?;
        n += 1;
    }
    if n > 0 {
        segment::sync_dir(dir)?;
    }
    Ok(n)
}

/// Removes `p`; already gone is fine.
fn remove(p: &Path) -> Result<(), StorageError> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::io(p, e)),
    }
}
