//! Recovery at start: read every segment in order and rebuild, per
//! persisted topic, its epoch, its next seq (after the last reservation)
//! and the messages that make its state and history.
//!
//! A bad record in the **last** segment is a torn tail (the process or the
//! machine stopped mid-write): it and whatever follows are cut off, logged
//! and counted, never served. A bad record in any **earlier** segment is
//! real corruption: the start stops with an error naming file and offset
//! (`spate storage check|repair`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;

use bytes::Bytes;
use spate_proto::message::Message;
use spate_proto::StateChange;

use super::format::Record;
use super::segment::{self, Scan};
use super::StorageError;

/// One recovered topic.
#[derive(Debug, Default)]
pub struct RecTopic {
    /// Its epoch, if its EPOCH record survived.
    pub epoch: Option<u64>,
    /// The last RESERVE value.
    pub reserved: u64,
    /// Highest seq among its messages.
    pub max_seq: u64,
    /// Latest message per state key (DELETE removes the key).
    pub state: BTreeMap<String, (u64, Bytes)>,
    /// Most recent messages, oldest first (bounded by what the caller
    /// keeps; trimmed again by the history's own retention).
    pub history: VecDeque<(u64, u64, Bytes)>,
}

impl RecTopic {
    /// The seq the topic continues after.
    pub fn last_seq(&self) -> u64 {
        self.reserved.max(self.max_seq)
    }
}

/// What recovery found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Persisted topics by name.
    pub topics: HashMap<String, RecTopic>,
    /// Number for the next segment to write.
    pub next_segment: u64,
    /// Torn tail records cut off (0 or 1 per start).
    pub torn: u64,
    /// Did the last run stop cleanly (a CLEAN record last)?
    pub clean: bool,
    /// Records read.
    pub records: u64,
    /// Bytes of log read.
    pub bytes: u64,
}

/// What to keep of a topic: `(state, history max_msgs)`, or `None` if
/// the topic is no longer persisted.
pub type KeepFn<'a> = &'a dyn Fn(&str) -> Option<(bool, usize)>;

/// Reads the log in `dir`, cutting a torn tail off the last segment.
pub fn recover(dir: &Path, keep: KeepFn<'_>) -> Result<Recovered, StorageError> {
    let mut out = Recovered::default();
    // The newest compaction snapshot, then the segments from it on;
    // older files are what that compaction had yet to delete.
    let snaps = super::compact::list(dir)?;
    let from = snaps.last().copied().unwrap_or(0);
    super::compact::delete_before(dir, from)?;
    if let Some(&k) = snaps.last() {
        let path = super::compact::path_of(dir, k);
        let s = segment::scan(&path)?;
        if let Some((offset, why)) = s.bad {
            return Err(StorageError::Corrupt {
                path,
                offset,
                why: why.to_string(),
            });
        }
        out.bytes += s.len;
        for r in s.records {
            out.records += 1;
            apply(&mut out.topics, r, keep);
        }
        out.next_segment = k;
    }
    let nums = segment::list(dir)?;
    for (i, &n) in nums.iter().enumerate() {
        let path = segment::path_of(dir, n);
        let Scan {
            records,
            good_end,
            bad,
            len,
        } = segment::scan(&path)?;
        out.bytes += len;
        if let Some((offset, why)) = bad {
            if i + 1 < nums.len() {
                return Err(StorageError::Corrupt {
                    path,
                    offset,
                    why: why.to_string(),
                });
            }
            tracing::warn!(
                file = %path.display(),
                offset,
                dropped_bytes = len - good_end,
                reason = %why,
                "storage: torn record at the end of the log cut off (never served)"
            );
            out.torn += 1;
            segment::truncate(&path, good_end)?;
        }
        for r in records {
            out.records += 1;
            out.clean = matches!(r, Record::Clean);
            apply(&mut out.topics, r, keep);
        }
        out.next_segment = n + 1;
    }
    Ok(out)
}

fn apply(topics: &mut HashMap<String, RecTopic>, r: Record, keep: KeepFn<'_>) {
    match r {
        Record::Epoch { topic, epoch } => {
            if keep(&topic).is_some() {
                topics.entry(topic).or_default().epoch = Some(epoch);
            }
        }
        Record::Reserve { topic, seq } => {
            if keep(&topic).is_some() {
                topics.entry(topic).or_default().reserved = seq;
            }
        }
        Record::Message(body) => {
            let Ok(m) = Message::decode_body(body.clone()) else {
                tracing::warn!("storage: a logged message does not decode; skipped");
                return;
            };
            let Some((state, hist_max)) = keep(&m.topic) else {
                return;
            };
            let t = topics.entry(m.topic.to_string()).or_default();
            if m.seq <= t.max_seq {
                // Already applied (a compaction snapshot overlaps the log).
                return;
            }
            t.max_seq = m.seq;
            if let (true, Some(change), Some(key)) = (state, m.state, m.key.as_deref()) {
                match change {
                    StateChange::Put => {
                        t.state.insert(key.to_owned(), (m.seq, body.clone()));
                    }
                    StateChange::Delete => {
                        t.state.remove(key);
                    }
                }
            }
            if hist_max > 0 {
                if t.history.len() >= hist_max {
                    t.history.pop_front();
                }
                t.history.push_back((m.seq, m.timestamp_us, body));
            }
        }
        Record::Applied { topic, seq } => {
            if keep(&topic).is_some() {
                let t = topics.entry(topic).or_default();
                t.max_seq = t.max_seq.max(seq);
            }
        }
        Record::Clean => {}
    }
}
