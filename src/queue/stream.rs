//! The queued stream of one subscription: messages, gap markers and the
//! holes merging leaves behind, with absolute positions for conflation.
//! Keeps gap markers bounded: merged markers take the later place so holes
//! collect at the front and are trimmed at once; the rest are compacted.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use super::gap::GapMarker;
use super::item::Item;
use super::rate::TokenBucket;

/// Entries beyond the live messages (gap markers, holes) tolerated before
/// the stream compacts itself.
const COMPACT_SLACK: usize = 64;

/// A subscription queue's contents and bookkeeping, guarded by its mutex.
pub(super) struct State {
    pub(super) items: VecDeque<Item>,
    /// Absolute position of `items[0]`; conflation indexes by position.
    pub(super) head_pos: u64,
    pub(super) live_msgs: usize,
    pub(super) live_bytes: usize,
    /// Gap and hole entries in `items`.
    pub(super) markers: usize,
    pub(super) scheduled: bool,
    pub(super) closed: bool,
    pub(super) full_since: Option<Instant>,
    pub(super) first_queued_at: Option<Instant>,
    /// `conflate` only: conflation key → position of its queued message.
    /// The keys are already hashes: a fast hasher, not SipHash.
    pub(super) index: KeyMap<u64>,
    /// `conflate` with a rate limit only: per conflation key, the values a
    /// newer one replaced in place, reported (one GAP) right before that
    /// key's next delivery. At most one entry per queued key.
    pub(super) replaced: KeyMap<GapMarker>,
    pub(super) bucket: Option<TokenBucket>,
    /// Bytes freed under the lock (evictions) not yet returned to the
    /// budget: returned once per push batch, not per message.
    pub(super) released: usize,
}

/// A map keyed by conflation key (itself a hash of topic and key).
pub(super) type KeyMap<V> = HashMap<u64, V, foldhash::fast::RandomState>;

impl State {
    /// An empty stream.
    pub(super) fn new(bucket: Option<TokenBucket>) -> State {
        State {
            items: VecDeque::new(),
            head_pos: 0,
            live_msgs: 0,
            live_bytes: 0,
            markers: 0,
            scheduled: false,
            closed: false,
            full_since: None,
            first_queued_at: None,
            index: KeyMap::default(),
            replaced: KeyMap::default(),
            bucket,
            released: 0,
        }
    }

    /// Appends a gap at the tail, merging with a gap already there.
    pub(super) fn append_gap(&mut self, marker: GapMarker) {
        match self.items.back_mut() {
            Some(Item::Gap(g)) if g.reason == marker.reason => g.merge(&marker),
            _ => {
                self.items.push_back(Item::Gap(Box::new(marker)));
                self.markers += 1;
            }
        }
    }

    /// Puts `marker` at `i` (a message's former place), merging with the
    /// nearest earlier entry that is not a hole if it is a gap of the same
    /// reason. `conflate` says whether positions must be re-indexed on
    /// compaction.
    pub(super) fn place_gap(&mut self, i: usize, marker: GapMarker, conflate: bool) {
        let reason = marker.reason;
        self.items[i] = Item::Gap(Box::new(marker));
        self.markers += 1;
        let prev = (i.saturating_sub(8)..i)
            .rev()
            .find(|&j| !matches!(self.items[j], Item::Hole));
        if let Some(j) = prev {
            if matches!(&self.items[j], Item::Gap(g) if g.reason == reason) {
                let Item::Gap(earlier) = std::mem::replace(&mut self.items[j], Item::Hole) else {
                    unreachable!("checked above");
                };
                if let Item::Gap(later) = &mut self.items[i] {
                    later.merge(&earlier);
                }
            }
        }
        while matches!(self.items.front(), Some(Item::Hole)) {
            self.items.pop_front();
            self.head_pos += 1;
            self.markers -= 1;
        }
        if self.markers > self.live_msgs + COMPACT_SLACK {
            self.compact(conflate);
        }
    }

    /// Drops holes and merges each run of adjacent gap markers into at most
    /// one marker per reason, so markers never outnumber messages by much.
    fn compact(&mut self, conflate: bool) {
        let old = std::mem::take(&mut self.items);
        let mut run: Vec<Box<GapMarker>> = Vec::new();
        for it in old {
            match it {
                Item::Hole => {}
                Item::Gap(g) => match run.iter_mut().find(|r| r.reason == g.reason) {
                    Some(r) => r.merge(&g),
                    None => run.push(g),
                },
                other => {
                    self.items.extend(run.drain(..).map(Item::Gap));
                    self.items.push_back(other);
                }
            }
        }
        self.items.extend(run.drain(..).map(Item::Gap));
        self.markers = self
            .items
            .iter()
            .filter(|i| matches!(i, Item::Gap(_)))
            .count();
        if conflate {
            self.index.clear();
            let head = self.head_pos;
            for (k, it) in self.items.iter().enumerate() {
                if let Item::Msg(m) = it {
                    self.index.insert(m.ckey(), head + k as u64);
                }
            }
        }
    }
}
