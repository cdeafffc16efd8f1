//! `[storage]`: where and how the built-in engine persists state, history
//! and epochs (see `crate::storage` and protocol.md §14).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Durability settings. No `dir`: everything stays in memory, as before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// Directory of the log; none = in memory only.
    pub dir: Option<PathBuf>,
    /// When the log is forced to disk: `always`, `interval` or `never`.
    pub fsync: FsyncPolicy,
    /// `interval`: longest time between two fsyncs, ms.
    pub fsync_interval_ms: u64,
    /// A segment file is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// What is persisted per topic pattern; the first match wins. Topics
    /// that match none keep their state and history in memory only.
    pub persist: Vec<PersistRule>,
}

/// When the log is forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// Before every PUB_ACK / STATE_REPLY of a persisted write (group
    /// commit: one fsync covers every record written meanwhile).
    Always,
    /// Every `fsync_interval_ms`.
    Interval,
    /// Left to the kernel.
    Never,
}

/// What is persisted for the topics matching `pattern`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersistRule {
    /// Topic pattern (wildcards allowed).
    pub pattern: String,
    /// Versioned state (STATE_PUT/STATE_DEL) survives a restart.
    #[serde(default = "yes")]
    pub state: bool,
    /// History (within the `[history]` retention) survives a restart.
    #[serde(default)]
    pub history: bool,
}

fn yes() -> bool {
    true
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            dir: None,
            fsync: FsyncPolicy::Interval,
            fsync_interval_ms: 100,
            segment_bytes: 64 * 1024 * 1024,
            persist: vec![PersistRule {
                pattern: ">".into(),
                state: true,
                history: false,
            }],
        }
    }
}

impl Storage {
    /// What is persisted for `topic`: `(state, history)`, or `None` when
    /// storage is off or no rule matches.
    pub fn rule_for(&self, topic: &str) -> Option<(bool, bool)> {
        self.dir.as_ref()?;
        self.persist
            .iter()
            .find(|r| crate::topics::pattern_matches(&r.pattern, topic))
            .map(|r| (r.state, r.history))
            .filter(|(s, h)| *s || *h)
    }
}
