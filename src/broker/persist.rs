//! h-storage: the broker side of durability — opening a broker over its
//! storage directory (recovered topics come back with their epoch, seq,
//! state and history), attaching new persisted topics to the log, the
//! durability wait of acknowledgements, and the clean close.

use std::sync::Arc;

use spate_proto::message::Message;

use super::state::Entry;
use super::{new_epoch, Broker, Topic};
use crate::config::Config;
use crate::queue::{Credit, Msg};
use crate::storage::compact::{self, Compacted, TopicSnap};
use crate::storage::hook::TopicLog;
use crate::storage::log::Item;
use crate::storage::recover::RecTopic;
use crate::storage::{Storage, StorageError, DURABLE_DEADLINE};

impl Broker {
    /// A broker over `config`; with `[storage] dir` set, the log is
    /// recovered first (this is where a corrupt log stops the start).
    pub fn open(config: Arc<Config>) -> Result<Broker, StorageError> {
        let mut b = Broker::new(config.clone());
        if config.storage.dir.is_none() {
            return Ok(b);
        }
        let keep = |t: &str| {
            let (state, history) = config.storage.rule_for(t)?;
            let max = if history {
                b.retention_for(t).max_msgs
            } else {
                0
            };
            Some((state, max))
        };
        let (st, rec) = Storage::open(&config.storage, &keep)?;
        let st = Arc::new(st);
        b.storage = Some(st.clone());
        for (name, rt) in rec.topics {
            if let Some(t) = b.recovered_topic(&st, &name, rt) {
                b.topics.insert(name.into(), Arc::new(t));
            }
        }
        Ok(b)
    }

    /// The storage, if this broker persists anything.
    pub fn storage(&self) -> Option<&Arc<Storage>> {
        self.storage.as_ref()
    }

    fn recovered_topic(&self, st: &Storage, name: &str, rt: RecTopic) -> Option<Topic> {
        let (state, history) = self.config.storage.rule_for(name)?;
        let last = rt.last_seq();
        let (epoch, kept) = match rt.epoch {
            Some(e) => (e, true),
            None => {
                let e = new_epoch();
                st.log.append(Item::Epoch(Arc::from(name), e));
                (e, false)
            }
        };
        let mut t = Topic::new(name, epoch, self.retention_for(name));
        let inner = t.inner.get_mut();
        inner.seq = last;
        let mut credit = Credit::new(&self.budget);
        if kept {
            for (seq, ts, body) in rt.history {
                let Ok(m) = Message::decode_body(body.clone()) else {
                    continue;
                };
                let msg = Msg::new(body, seq, self.ckey(name, m.key.as_deref()));
                inner.history.push(&msg, ts, &mut credit);
            }
        }
        for (key, (seq, body)) in rt.state {
            let Ok(m) = Message::decode_body(body.clone()) else {
                continue;
            };
            let msg = Msg::new(body, seq, self.ckey(name, Some(&key)));
            let entry = Entry {
                revision: seq,
                value: m.payload,
                msg,
            };
            inner.state.put(&key, entry);
        }
        credit.settle();
        self.counters.history_changed(0, inner.history.bytes());
        inner.persist = Some(TopicLog::new(st.log.clone(), state, history, last));
        Some(t)
    }

    /// Links a new topic to the log if a persist rule names it, logging
    /// its epoch.
    pub(crate) fn attach_log(&self, t: &mut Topic) {
        let Some(st) = &self.storage else { return };
        let Some((state, history)) = self.config.storage.rule_for(&t.name) else {
            return;
        };
        st.log.append(Item::Epoch(t.name.clone(), t.epoch));
        t.inner.get_mut().persist = Some(TopicLog::new(st.log.clone(), state, history, 0));
    }

    /// The LSN an acknowledgement of a write to `topic` must wait for, if
    /// it must wait (`fsync = "always"` and a persisted topic).
    pub fn ack_lsn(&self, topic: &str) -> Option<u64> {
        let st = self.storage.as_ref()?;
        if !st.acks_wait() || self.config.storage.rule_for(topic).is_none() {
            return None;
        }
        Some(st.log.last_lsn())
    }

    /// Waits until the log is durable up to `lsn` (see [`Broker::ack_lsn`]).
    pub async fn wait_durable(&self, lsn: u64) -> Result<(), StorageError> {
        match &self.storage {
            Some(st) => st.log.wait_durable(lsn, DURABLE_DEADLINE).await,
            None => Ok(()),
        }
    }

    /// Waits while the log writer is far behind (bounds its queue).
    pub async fn wait_log_room(&self) {
        if let Some(st) = &self.storage {
            st.log.wait_room().await;
        }
    }

    /// Compacts the log now (see `storage::compact`); `None` without
    /// storage. Blocking: run it off the async workers.
    pub fn compact_storage(&self) -> Option<Result<Compacted, StorageError>> {
        let st = self.storage.as_ref()?;
        let snaps = self.topic_list().into_iter().filter_map(|t| {
            let inner = t.inner.lock();
            let p = inner.persist.as_ref()?;
            let (state, history) = p.persists();
            let mut msgs = Vec::new();
            if history {
                msgs.extend(inner.history.since(0).map(|m| (m.seq(), m.body().clone())));
            }
            if state {
                msgs.extend(
                    inner
                        .state
                        .snapshot()
                        .into_iter()
                        .map(|m| (m.seq(), m.body().clone())),
                );
            }
            Some(TopicSnap {
                name: t.name.to_string(),
                epoch: t.epoch,
                reserved: p.reserved(),
                seq: inner.seq,
                msgs,
            })
        });
        Some(compact::compact(st, snaps))
    }

    /// Compacts in the background whenever the log has grown by more than
    /// four segments and than the last snapshot since the last compaction.
    /// Ends when the broker is dropped by everyone else or its log closes.
    pub async fn run_compactor(self: Arc<Self>) {
        let Some(st) = self.storage.clone() else {
            return;
        };
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        let (mut mark, mut snap_bytes) = (st.log.bytes_written(), 0u64);
        loop {
            tick.tick().await;
            if Arc::strong_count(&self) == 1 || st.log.is_closed() || st.log.has_failed() {
                return;
            }
            let grown = st.log.bytes_written() - mark;
            if grown <= (4 * st.config.segment_bytes).max(snap_bytes) {
                continue;
            }
            mark = st.log.bytes_written();
            let b = self.clone();
            match tokio::task::spawn_blocking(move || b.compact_storage()).await {
                Ok(Some(Ok(c))) => {
                    snap_bytes = c.bytes;
                    tracing::info!(
                        snapshot = c.snapshot,
                        bytes = c.bytes,
                        deleted = c.deleted,
                        "storage: compacted"
                    );
                }
                Ok(Some(Err(e))) => tracing::warn!(error = %e, "storage: compaction failed"),
                Ok(None) | Err(_) => return,
            }
        }
    }

    /// Clean shutdown of the storage: each persisted topic's exact last seq
    /// is logged (so the next run continues without a gap), then the log
    /// is flushed, synced and closed. Call after the last client is gone.
    pub fn close_storage(&self) {
        let Some(st) = &self.storage else { return };
        for t in self.topic_list() {
            let mut inner = t.inner.lock();
            let seq = inner.seq;
            if let Some(p) = inner.persist.as_mut() {
                p.on_close(&t.name, seq);
            }
        }
        st.log.close();
        tracing::info!(dir = %st.dir.display(), "storage: log closed cleanly");
    }
}
