//! Offline checking and repair of a storage directory (`spate storage
//! check|repair DIR`; the server must not be running on it).
//!
//! `check` reads every segment and reports each bad record. `repair` cuts
//! the damaged segment at its first bad record and deletes every later
//! segment (whatever they hold can no longer be ordered after the hole),
//! after reporting what it drops. Topics that lose records this way may
//! lose their EPOCH record and then get a new epoch on the next start.

use std::path::{Path, PathBuf};

use super::segment;
use super::StorageError;

/// One segment's check result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentReport {
    /// The file.
    pub path: PathBuf,
    /// Good records.
    pub records: u64,
    /// File length.
    pub len: u64,
    /// First bad record: offset and what is wrong.
    pub bad: Option<(u64, String)>,
}

/// Checks every segment in `dir`, in order.
pub fn check(dir: &Path) -> Result<Vec<SegmentReport>, StorageError> {
    let mut out = Vec::new();
    for n in segment::list(dir)? {
        let path = segment::path_of(dir, n);
        let s = segment::scan(&path)?;
        out.push(SegmentReport {
            path,
            records: s.records.len() as u64,
            len: s.len,
            bad: s.bad.map(|(o, b)| (o, b.to_string())),
        });
    }
    Ok(out)
}

/// What [`plan`] would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairPlan {
    /// Segment to cut, and the length to cut it to.
    pub truncate: Option<(PathBuf, u64, u64)>,
    /// Later segments to delete, with their sizes.
    pub delete: Vec<(PathBuf, u64)>,
}

impl RepairPlan {
    /// Nothing to do?
    pub fn is_empty(&self) -> bool {
        self.truncate.is_none() && self.delete.is_empty()
    }
}

/// The repair for the first damaged segment in `reports`.
pub fn plan(reports: &[SegmentReport]) -> RepairPlan {
    let Some(i) = reports.iter().position(|r| r.bad.is_some()) else {
        return RepairPlan {
            truncate: None,
            delete: Vec::new(),
        };
    };
    let r = &reports[i];
    let cut = r.bad.as_ref().map_or(r.len, |(o, _)| *o);
    RepairPlan {
        truncate: Some((r.path.clone(), r.len, cut)),
        delete: reports[i + 1..]
            .iter()
            .map(|r| (r.path.clone(), r.len))
            .collect(),
    }
}

/// Carries out `plan`.
pub fn apply(dir: &Path, plan: &RepairPlan) -> Result<(), StorageError> {
    if let Some((path, _, cut)) = &plan.truncate {
        segment::truncate(path, *cut)?;
    }
    for (path, _) in &plan.delete {
        std::fs::remove_file(path).map_err(|e| StorageError::io(path, e))?;
    }
    segment::sync_dir(dir)
}
