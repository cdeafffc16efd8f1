//! Segment files: `NNNNNNNNNNNNNNNNNNNN.seg` in the storage directory,
//! numbered in write order. Appending with rotation ([`SegmentWriter`]) and
//! reading a whole segment back as records ([`scan`]).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::format::{Bad, Record, MAGIC};
use super::StorageError;

/// File name suffix of a segment.
const SUFFIX: &str = ".seg";

/// Path of segment number `n` in `dir`.
pub fn path_of(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:020}{SUFFIX}"))
}

/// The segment numbers in `dir`, ascending.
pub fn list(dir: &Path) -> Result<Vec<u64>, StorageError> {
    let mut v = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))?;
    for ent in rd {
        let ent = ent.map_err(|e| StorageError::io(dir, e))?;
        let name = ent.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(num) = name.strip_suffix(SUFFIX) {
            if let Ok(n) = num.parse::<u64>() {
                v.push(n);
            }
        }
    }
    v.sort_unstable();
    Ok(v)
}

/// What reading one segment found.
#[derive(Debug)]
pub struct Scan {
    /// Records in order.
    pub records: Vec<Record>,
    /// Byte offset just past the last good record.
    pub good_end: u64,
    /// The first bad record, if any: its offset and what is wrong.
    pub bad: Option<(u64, Bad)>,
    /// File length.
    pub len: u64,
}

/// Reads segment `path` and decodes its records up to the first bad one.
pub fn scan(path: &Path) -> Result<Scan, StorageError> {
    let buf = std::fs::read(path).map_err(|e| StorageError::io(path, e))?;
    let len = buf.len() as u64;
    if buf.len() < MAGIC.len() {
        // A segment created but torn before its header reached the disk.
        return Ok(Scan {
            records: Vec::new(),
            good_end: 0,
            bad: (!buf.is_empty()).then_some((0, Bad::Short)),
            len,
        });
    }
    if &buf[..MAGIC.len()] != MAGIC {
        return Ok(Scan {
            records: Vec::new(),
            good_end: 0,
            bad: Some((0, Bad::Malformed("not a spate segment (bad magic)"))),
            len,
        });
    }
    let mut at = MAGIC.len();
    let mut records = Vec::new();
    let mut bad = None;
    while at < buf.len() {
        match Record::decode(&buf[at..]) {
            Ok((r, n)) => {
                records.push(r);
                at += n;
            }
            Err(b) => {
                bad = Some((at as u64, b));
                break;
            }
        }
    }
    Ok(Scan {
        records,
        good_end: at as u64,
        bad,
        len,
    })
}

/// Cuts segment `path` to `len` bytes and syncs it.
pub fn truncate(path: &Path, len: u64) -> Result<(), StorageError> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| StorageError::io(path, e))?;
    f.set_len(len).map_err(|e| StorageError::io(path, e))?;
    f.sync_all().map_err(|e| StorageError::io(path, e))
}

/// Makes directory entries (new or removed files) durable.
pub fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

/// The open segment being appended to, rotated past `max_bytes`.
#[derive(Debug)]
pub struct SegmentWriter {
    dir: PathBuf,
    num: u64,
    file: File,
    len: u64,
    max_bytes: u64,
}

impl SegmentWriter {
    /// Starts a new segment number `num` in `dir`.
    pub fn create(dir: &Path, num: u64, max_bytes: u64) -> Result<SegmentWriter, StorageError> {
        let path = path_of(dir, num);
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| StorageError::io(&path, e))?;
        file.write_all(MAGIC)
            .map_err(|e| StorageError::io(&path, e))?;
        sync_dir(dir)?;
        Ok(SegmentWriter {
            dir: dir.to_owned(),
            num,
            file,
            len: MAGIC.len() as u64,
            max_bytes,
        })
    }

    /// Number of this segment.
    pub fn num(&self) -> u64 {
        self.num
    }

    /// Would `pending` more bytes, of which `last` are one record, pass
    /// the size limit with something before that record? Then the bytes
    /// before it go to this segment and the record starts the next.
    pub fn must_rotate_before(&self, pending: usize, last: usize) -> bool {
        self.len + pending as u64 > self.max_bytes
            && (self.len > MAGIC.len() as u64 || pending > last)
    }

    /// Closes this segment (synced, so a segment before the last is
    /// always complete on disk) and starts the next.
    pub fn rotate(&mut self) -> Result<(), StorageError> {
        self.sync()?;
        *self = SegmentWriter::create(&self.dir, self.num + 1, self.max_bytes)?;
        Ok(())
    }

    /// Appends framed records.
    pub fn write(&mut self, buf: &[u8]) -> Result<(), StorageError> {
        self.file
            .write_all(buf)
            .map_err(|e| StorageError::io(&path_of(&self.dir, self.num), e))?;
        self.len += buf.len() as u64;
        Ok(())
    }

    /// Forces what was written to disk.
    pub fn sync(&mut self) -> Result<(), StorageError> {
        self.file
            .sync_data()
            .map_err(|e| StorageError::io(&path_of(&self.dir, self.num), e))
    }
}
