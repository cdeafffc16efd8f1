//! [`SubscriberQueue`]: one subscription's bounded queue and the policy
//! that runs when it is full.
//!
//! Publishers push (under the topic's lock, never across an `.await`); the
//! connection's writer drains. Every message that does not reach the
//! subscriber leaves a [`GapMarker`] where it was, so the subscriber is told
//! exactly what it lost, in stream order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use spate_proto::{ErrorCode, GapReason, Policy};
use tokio::sync::Notify;

use super::budget::{Budget, Credit};
use super::counters::SubCounters;
use super::gap::GapMarker;
use super::item::{Item, Msg};
use super::limits::QueueLimits;
use super::rate::TokenBucket;
use super::stream::State;
use super::wakes::Wakes;

/// Who drains a queue: the connection's outbox. The queue asks it to
/// schedule a drain when it goes from idle to non-empty, and to close the
/// connection when the policy says the subscriber must go.
pub trait Scheduler: Send + Sync + 'static {
    /// Puts `q` on the writer's ready list; true if the writer must then be
    /// woken ([`Self::wake`]), now or once the caller's run is queued.
    fn enqueue(&self, q: Arc<SubscriberQueue>) -> bool;
    /// Wakes the writer.
    fn wake(&self);
    /// Close the connection with an ERROR frame about request `reference`.
    fn kill(&self, code: ErrorCode, reference: u32, message: String);
}

/// Result of offering a message to a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Queued.
    Queued,
    /// Not queued: lost, and recorded as a gap.
    Lost,
    /// Queued past the limit (policy `block`): the publisher must wait
    /// ([`SubscriberQueue::wait_for_space`]) before publishing more.
    MustWait,
    /// The subscription has ended.
    Closed,
}

/// Why a `disconnect` subscriber was cut off.
const GRACE_KILL: &str = "queue stayed full past the disconnect grace period";

/// What the policy did with one offered message.
enum Offer {
    Queued,
    Lost,
    MustWait,
    Kill,
}

/// What the writer should do with a queue after draining it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainState {
    /// Nothing left; the queue will reschedule itself on the next push.
    Empty,
    /// More is ready now.
    More,
    /// More is queued but held back (linger or rate limit) until then.
    WaitUntil(Instant),
}

/// One subscription's queue.
pub struct SubscriberQueue {
    /// Client-chosen subscription id.
    pub sub_id: u32,
    /// Server-wide unique id (the trie's key).
    pub id: u64,
    /// Topic or pattern subscribed to.
    pub pattern: String,
    /// Limits in force.
    pub limits: QueueLimits,
    /// Delivery and loss counters.
    pub counters: SubCounters,
    sched: Arc<dyn Scheduler>,
    budget: Arc<Budget>,
    state: Mutex<State>,
    space: Notify,
    /// `disconnect` policy: a grace timer task is watching this queue.
    /// Read and written only with `state` locked.
    grace_timer: AtomicBool,
}

impl SubscriberQueue {
    /// A new, empty queue.
    pub fn new(
        sub_id: u32,
        id: u64,
        pattern: String,
        limits: QueueLimits,
        sched: Arc<dyn Scheduler>,
        budget: Arc<Budget>,
    ) -> SubscriberQueue {
        let bucket =
            (limits.max_rate > 0).then(|| TokenBucket::new(limits.max_rate, Instant::now()));
        SubscriberQueue {
            sub_id,
            id,
            pattern,
            limits,
            counters: SubCounters::default(),
            sched,
            budget,
            state: Mutex::new(State::new(bucket)),
            space: Notify::new(),
            grace_timer: AtomicBool::new(false),
        }
    }

    /// Keeps the queue off its writer's ready list until [`Self::release`]:
    /// what is pushed meanwhile waits. A new subscription is held until its
    /// SUBSCRIBED reply is queued, so no delivery can overtake it.
    pub fn hold(&self) {
        // "Scheduled" without being on the ready list: pushes do not
        // schedule it and no writer drains it.
        self.state.lock().scheduled = true;
    }

    /// Ends [`Self::hold`]: schedules the queue if something is waiting.
    pub fn release(self: &Arc<Self>) {
        let mut st = self.state.lock();
        st.scheduled = false;
        self.schedule_locked(st);
    }

    /// Offers `msg` to the queue; the policy decides when it is full.
    pub fn push(self: &Arc<Self>, msg: &Msg) -> PushOutcome {
        let mut receivers = [0u32];
        let mut wakes = Wakes::default();
        let mut credit = Credit::new(&self.budget);
        let r = self.push_many(
            std::slice::from_ref(msg),
            &mut receivers,
            &mut wakes,
            &mut credit,
        );
        credit.settle();
        wakes.wake_all();
        r
    }

    /// Offers several messages (in order) under one lock, with one budget
    /// reservation from the caller's `credit`; a writer wake-up this needs
    /// goes to `wakes`, for the caller to do once its whole run is queued.
    /// The publish path hands over everything one socket read produced at
    /// once. Adds 1 to `receivers[k]` for each message `k` that was queued.
    /// Returns `MustWait` if any message overfilled a `block` queue,
    /// `Closed` if the subscription is gone, `Lost` if nothing was queued,
    /// else `Queued`.
    pub fn push_many(
        self: &Arc<Self>,
        msgs: &[Msg],
        receivers: &mut [u32],
        wakes: &mut Wakes,
        credit: &mut Credit<'_>,
    ) -> PushOutcome {
        let mut st = self.state.lock();
        if st.closed {
            return PushOutcome::Closed;
        }
        // Pay for the whole batch at once when the budget allows; what is
        // not used is refunded below.
        let total: usize = msgs.iter().map(Msg::cost).sum();
        let mut prepaid = if credit.try_reserve(total as u64) {
            total
        } else {
            0
        };
        let (mut queued, mut must_wait, mut kill) = (false, false, false);
        for (k, m) in msgs.iter().enumerate() {
            match self.offer(&mut st, m, &mut prepaid) {
                Offer::Queued => {
                    receivers[k] += 1;
                    queued = true;
                }
                Offer::MustWait => {
                    receivers[k] += 1;
                    must_wait = true;
                }
                Offer::Lost => {}
                Offer::Kill => {
                    kill = true;
                    break;
                }
            }
        }
        credit.release((prepaid + std::mem::take(&mut st.released)) as u64);
        if kill {
            drop(st);
            self.kill(GRACE_KILL);
            return PushOutcome::Closed;
        }
        if st.full_since.is_some() && !self.grace_timer.load(Ordering::Relaxed) {
            self.grace_timer.store(true, Ordering::Relaxed);
            self.arm_grace_timer();
        }
        if self.enqueue_locked(st) {
            wakes.add(&self.sched);
        }
        if must_wait {
            PushOutcome::MustWait
        } else if queued {
            PushOutcome::Queued
        } else {
            PushOutcome::Lost
        }
    }

    /// `disconnect` policy: the queue has just become full. A task checks
    /// it when the grace period ends — whether or not anything more is
    /// published — and cuts the subscriber off if it is still full then
    /// (the grace restarts only after the queue drained below its limits).
    /// Without a tokio runtime (unit tests) the check happens on the next
    /// push only.
    fn arm_grace_timer(self: &Arc<Self>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(self);
        let grace = self.limits.disconnect_grace;
        rt.spawn(async move {
            loop {
                let due = {
                    let Some(q) = weak.upgrade() else { return };
                    let st = q.state.lock();
                    let since = match st.full_since {
                        Some(t) if !st.closed => t,
                        _ => {
                            q.grace_timer.store(false, Ordering::Relaxed);
                            return;
                        }
                    };
                    if since.elapsed() >= grace {
                        drop(st);
                        q.kill(GRACE_KILL);
                        return;
                    }
                    since + grace
                };
                tokio::time::sleep_until(due.into()).await;
            }
        });
    }

    /// `conflate` with a rate limit: keys take turns. A new value replaces
    /// the queued one of its key in place (so the key keeps its turn), and
    /// a key delivered goes to the back of the line when it next arrives:
    /// each delivery is the latest value of the key delivered least
    /// recently, and no key starves however the publishes interleave.
    fn rotates(&self) -> bool {
        self.limits.policy == Policy::Conflate && self.limits.max_rate > 0
    }

    /// `conflate` with a rate limit: puts `msg` in the place of its key's
    /// queued message at `i`, recording the replaced one for the GAP that
    /// precedes the key's next delivery. Returns `None` when done, or
    /// gives the message back when the place is not a message of its key.
    fn replace_in_place(&self, st: &mut State, i: usize, msg: &Msg) -> Option<()> {
        let cost = msg.cost();
        let old_cost = match st.items.get(i) {
            Some(Item::Msg(old)) if old.ckey() == msg.ckey() => old.cost(),
            _ => return None,
        };
        // Replacing frees the old bytes; the new ones must fit the limits
        // and the budget like any admission (not counting the old ones).
        if cost > old_cost {
            let extra = (cost - old_cost) as u64;
            let fits = st.live_bytes - old_cost + cost <= self.limits.max_bytes
                && (st.live_bytes - old_cost + cost <= self.limits.guaranteed_bytes
                    || self.budget.try_reserve(extra));
            if !fits {
                return None;
            }
            if st.live_bytes - old_cost + cost <= self.limits.guaranteed_bytes {
                self.budget.force_reserve(extra);
            }
        } else {
            st.released += old_cost - cost;
        }
        let Item::Msg(old) = std::mem::replace(&mut st.items[i], Item::Msg(msg.clone())) else {
            unreachable!("checked above");
        };
        st.live_bytes = st.live_bytes - old_cost + cost;
        self.counters.add_lost(GapReason::Conflated, 1);
        let marker = GapMarker::of(&old, GapReason::Conflated);
        match st.replaced.get_mut(&msg.ckey()) {
            Some(m) => m.merge(&marker),
            None => {
                st.replaced.insert(msg.ckey(), marker);
            }
        }
        Some(())
    }

    /// One message through the policy, with the queue locked.
    fn offer(&self, st: &mut State, msg: &Msg, prepaid: &mut usize) -> Offer {
        let l = &self.limits;
        let cost = msg.cost();
        if l.policy == Policy::Conflate {
            if let Some(pos) = st.index.get(&msg.ckey()).copied() {
                let i = (pos - st.head_pos) as usize;
                if self.rotates() && self.replace_in_place(st, i, msg).is_some() {
                    return Offer::Queued;
                }
                st.index.remove(&msg.ckey());
                self.lose_at(st, i, GapReason::Conflated);
            }
        }
        let mut outcome = Offer::Queued;
        if self.over_limit(st, cost) {
            match l.policy {
                Policy::DropOldest | Policy::Conflate => {
                    while st.live_msgs > 0 && self.over_limit(st, cost) {
                        self.evict_oldest(st);
                    }
                }
                Policy::DropNewest => return self.lose_new(st, msg, GapReason::DroppedNewest),
                Policy::Disconnect => {
                    let now = Instant::now();
                    match st.full_since {
                        None => st.full_since = Some(now),
                        Some(t) if now.duration_since(t) >= l.disconnect_grace => {
                            return Offer::Kill
                        }
                        Some(_) => {}
                    }
                    return self.lose_new(st, msg, GapReason::DroppedNewest);
                }
                Policy::Block => outcome = Offer::MustWait,
            }
        }
        if *prepaid >= cost {
            *prepaid -= cost;
        } else if st.live_bytes + cost <= l.guaranteed_bytes {
            self.budget.force_reserve(cost as u64);
        } else if !self.budget.try_reserve(cost as u64) {
            if l.policy != Policy::Block {
                return self.lose_new(st, msg, GapReason::MemoryBudget);
            }
            self.budget.force_reserve(cost as u64);
            outcome = Offer::MustWait;
        }
        self.admit(st, msg.clone(), cost);
        outcome
    }

    /// Queues a backlog message (replay or snapshot) without applying the
    /// limits: backlogs are bounded by history and state limits instead.
    pub fn push_backlog(self: &Arc<Self>, msg: Msg) {
        let mut st = self.state.lock();
        if st.closed {
            return;
        }
        let cost = msg.cost();
        self.budget.force_reserve(cost as u64);
        self.admit(&mut st, msg, cost);
        self.schedule_locked(st);
    }

    /// Queues a gap marker (e.g. history no longer retained) in order.
    pub fn push_gap(self: &Arc<Self>, marker: GapMarker) {
        let mut st = self.state.lock();
        if st.closed {
            return;
        }
        self.counters.add_lost(marker.reason, marker.count);
        st.items.push_back(Item::Gap(Box::new(marker)));
        st.markers += 1;
        self.schedule_locked(st);
    }

    /// Queues a pre-encoded frame in order with the deliveries.
    pub fn push_frame(self: &Arc<Self>, frame: Bytes) {
        let mut st = self.state.lock();
        if st.closed {
            return;
        }
        st.items.push_back(Item::Frame(Box::new(frame)));
        self.schedule_locked(st);
    }

    fn over_limit(&self, st: &State, cost: usize) -> bool {
        st.live_msgs >= self.limits.max_msgs || st.live_bytes + cost > self.limits.max_bytes
    }

    fn admit(&self, st: &mut State, msg: Msg, cost: usize) {
        if self.limits.policy == Policy::Conflate {
            let pos = st.head_pos + st.items.len() as u64;
            st.index.insert(msg.ckey(), pos);
        }
        if st.live_msgs == 0 && !self.limits.linger.is_zero() {
            st.first_queued_at = Some(Instant::now());
        }
        st.items.push_back(Item::Msg(msg));
        st.live_msgs += 1;
        st.live_bytes += cost;
    }

    /// Unlocks, waking the writer if the queue has just become non-empty.
    fn schedule_locked(self: &Arc<Self>, st: parking_lot::MutexGuard<'_, State>) {
        if self.enqueue_locked(st) {
            self.sched.wake();
        }
    }

    /// Unlocks, putting the queue on the writer's ready list if it has just
    /// become non-empty; true if the writer must be woken.
    fn enqueue_locked(self: &Arc<Self>, mut st: parking_lot::MutexGuard<'_, State>) -> bool {
        if st.scheduled || st.items.is_empty() {
            return false;
        }
        st.scheduled = true;
        drop(st);
        self.sched.enqueue(Arc::clone(self))
    }

    /// Records `msg` as lost at the tail of the stream.
    fn lose_new(&self, st: &mut State, msg: &Msg, reason: GapReason) -> Offer {
        self.counters.add_lost(reason, 1);
        st.append_gap(GapMarker::of(msg, reason));
        Offer::Lost
    }

    fn evict_oldest(&self, st: &mut State) {
        if let Some(i) = st.items.iter().position(|it| matches!(it, Item::Msg(_))) {
            self.lose_at(st, i, GapReason::DroppedOldest);
        }
    }

    /// Turns the message at `i` into a gap marker in place, merging it into
    /// a gap right before it.
    fn lose_at(&self, st: &mut State, i: usize, reason: GapReason) {
        let Item::Msg(m) = std::mem::replace(&mut st.items[i], Item::Hole) else {
            return;
        };
        let cost = m.cost();
        st.live_msgs -= 1;
        st.live_bytes -= cost;
        st.released += cost;
        if reason != GapReason::Conflated && self.limits.policy == Policy::Conflate {
            let pos = st.head_pos + i as u64;
            if st.index.get(&m.ckey()) == Some(&pos) {
                st.index.remove(&m.ckey());
            }
        }
        self.counters.add_lost(reason, 1);
        let conflate = self.limits.policy == Policy::Conflate;
        st.place_gap(i, GapMarker::of(&m, reason), conflate);
        // Values this one had replaced in place are reported too: they
        // would have preceded its delivery, which will not come.
        // (Only `conflate` with a rate limit fills `replaced`: the check
        // keeps every other policy from hashing each lost message.)
        if !st.replaced.is_empty() {
            if let Some(earlier) = st.replaced.remove(&m.ckey()) {
                st.items.push_back(Item::Gap(Box::new(earlier)));
                st.markers += 1;
            }
        }
    }

    /// Moves what may be delivered now into `out` (at most about
    /// `max_bytes` of messages), honouring linger and the rate limit.
    /// Counts what is taken as written at once ([`Self::note_written`]).
    pub fn drain(&self, out: &mut Vec<Item>, max_bytes: usize, now: Instant) -> DrainState {
        let state = self.drain_into(out, max_bytes, now, &mut Credit::new(&self.budget));
        self.note_written();
        state
    }

    /// The writer has written to the socket what it last drained from this
    /// queue: if the queue is back under its limits, a `disconnect` grace
    /// period in progress ends. Messages a writer drained but could not
    /// write (a subscriber that stopped reading) still count as queued for
    /// the grace, so a stalled subscriber is cut off even when its queue
    /// moved into the writer's buffer.
    pub fn note_written(&self) {
        let mut st = self.state.lock();
        if st.live_msgs < self.limits.max_msgs && st.live_bytes < self.limits.max_bytes {
            st.full_since = None;
        }
    }

    /// [`Self::drain`], giving the bytes taken back to `credit` (the
    /// writer's, settled once per round) instead of the shared budget.
    pub fn drain_into(
        &self,
        out: &mut Vec<Item>,
        max_bytes: usize,
        now: Instant,
        credit: &mut Credit<'_>,
    ) -> DrainState {
        let l = &self.limits;
        let mut st = self.state.lock();
        if st.closed {
            st.scheduled = false;
            return DrainState::Empty;
        }
        if l.max_batch > 1 && !l.linger.is_zero() && st.live_msgs < l.max_batch {
            if let Some(t) = st.first_queued_at {
                if now < t + l.linger {
                    return DrainState::WaitUntil(t + l.linger);
                }
            }
        }
        let mut allowance = match st.bucket.as_mut() {
            Some(b) => b.available(now),
            None => u64::MAX,
        };
        let (mut taken, mut bytes) = (0u64, 0usize);
        let mut rate_limited = false;
        while let Some(front) = st.items.front() {
            match front {
                Item::Msg(m) => {
                    if allowance == 0 {
                        rate_limited = true;
                        break;
                    }
                    if bytes >= max_bytes {
                        break;
                    }
                    let cost = m.cost();
                    let ckey = m.ckey();
                    st.live_msgs -= 1;
                    st.live_bytes -= cost;
                    if l.policy == Policy::Conflate && st.index.get(&ckey) == Some(&st.head_pos) {
                        st.index.remove(&ckey);
                    }
                    // Empty unless `conflate` with a rate limit: no hash
                    // per delivered message for the other policies.
                    if !st.replaced.is_empty() {
                        if let Some(earlier) = st.replaced.remove(&ckey) {
                            out.push(Item::Gap(Box::new(earlier)));
                        }
                    }
                    allowance -= 1;
                    taken += 1;
                    bytes += cost;
                }
                Item::Gap(_) | Item::Hole => st.markers -= 1,
                Item::Frame(_) => {}
            }
            let it = st.items.pop_front().expect("front exists");
            st.head_pos += 1;
            if !matches!(it, Item::Hole) {
                out.push(it);
            }
        }
        if let Some(b) = st.bucket.as_mut() {
            b.take(taken);
        }
        credit.release((bytes + std::mem::take(&mut st.released)) as u64);
        let state = if st.items.is_empty() {
            st.scheduled = false;
            st.first_queued_at = None;
            DrainState::Empty
        } else if rate_limited {
            DrainState::WaitUntil(st.bucket.as_ref().map_or(now, |b| b.next_token_at()))
        } else {
            if !l.linger.is_zero() {
                st.first_queued_at = Some(now);
            }
            DrainState::More
        };
        drop(st);
        if l.policy == Policy::Block && taken > 0 {
            // A waiting publisher also checks the budget: give back first.
            credit.settle();
            self.space.notify_waiters();
        }
        state
    }

    fn must_wait(&self) -> bool {
        let st = self.state.lock();
        !st.closed
            && (st.live_msgs > self.limits.max_msgs
                || st.live_bytes > self.limits.max_bytes
                || (self.budget.is_exhausted() && st.live_bytes > self.limits.guaranteed_bytes))
    }

    /// `block` policy: waits until the queue is back within its limits.
    /// Returns false if `deadline` passed first (the caller then cuts the
    /// subscriber off with [`Self::kill`]).
    pub async fn wait_for_space(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.must_wait() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return !self.must_wait();
            }
        }
    }

    /// Ends the subscription: drops what is queued and returns its memory.
    pub fn close(&self) {
        let mut st = self.state.lock();
        if st.closed {
            return;
        }
        st.closed = true;
        self.budget.release(st.live_bytes as u64);
        st.live_bytes = 0;
        st.live_msgs = 0;
        st.items.clear();
        st.index.clear();
        st.replaced.clear();
        drop(st);
        self.space.notify_waiters();
    }

    /// Cuts the subscriber off: its connection gets ERROR SLOW_CONSUMER and
    /// is closed.
    pub fn kill(&self, why: &str) {
        let (msgs, bytes) = self.depth();
        crate::log_limited!(
            warn, "slow.kill", sub_id = self.sub_id, pattern = %self.pattern,
            policy = %self.limits.policy, queued_msgs = msgs, queued_bytes = bytes, why,
            "slow consumer: closing its connection"
        );
        self.close();
        self.sched.kill(
            ErrorCode::SlowConsumer,
            self.sub_id,
            format!("subscription {} ({}): {why}", self.sub_id, self.pattern),
        );
    }

    /// Live messages and bytes queued now.
    pub fn depth(&self) -> (usize, usize) {
        let st = self.state.lock();
        (st.live_msgs, st.live_bytes)
    }

    /// Has the subscription ended?
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Counts a delivered message (called by the writer).
    pub fn note_delivered(&self, n: u64) {
        self.counters.delivered.fetch_add(n, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for SubscriberQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriberQueue")
            .field("sub_id", &self.sub_id)
            .field("pattern", &self.pattern)
            .field("policy", &self.limits.policy)
            .finish()
    }
}
