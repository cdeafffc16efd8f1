//! Policy semantics of [`SubscriberQueue`], exactly, without sockets: what
//! is kept, what is lost, and that every loss is a gap in the right place.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::Mutex;
use spate_proto::{ErrorCode, GapReason, Policy};

use super::subscriber::Scheduler;
use super::*;

#[derive(Default)]
struct FakeOutbox {
    schedules: AtomicUsize,
    wakes: AtomicUsize,
    kills: Mutex<Vec<(ErrorCode, String)>>,
}

impl Scheduler for FakeOutbox {
    fn enqueue(&self, _q: Arc<SubscriberQueue>) -> bool {
        self.schedules.fetch_add(1, Ordering::Relaxed);
        true
    }
    fn wake(&self) {
        self.wakes.fetch_add(1, Ordering::Relaxed);
    }
    fn kill(&self, code: ErrorCode, _reference: u32, message: String) {
        self.kills.lock().push((code, message));
    }
}

fn queue(limits: QueueLimits, budget: u64) -> (Arc<SubscriberQueue>, Arc<FakeOutbox>) {
    queue_with(limits, Arc::new(Budget::new(budget)))
}

fn queue_with(limits: QueueLimits, budget: Arc<Budget>) -> (Arc<SubscriberQueue>, Arc<FakeOutbox>) {
    let out = Arc::new(FakeOutbox::default());
    let q = Arc::new(SubscriberQueue::new(
        1,
        1,
        "t".into(),
        limits,
        out.clone(),
        budget,
    ));
    (q, out)
}

/// A message body for topic "t" (only seq and topic matter to the queue).
fn msg(seq: u64, key: u64) -> Msg {
    let mut b = BytesMut::new();
    b.put_u64(1);
    b.put_u64(seq);
    b.put_u64(0);
    b.put_u8(0);
    b.put_u16(1);
    b.put_slice(b"t");
    b.put_slice(&[0u8; 64]);
    Msg::new(b.freeze(), seq, key)
}

/// A gap as (reason, count, first, last).
type GapSummary = (GapReason, u64, u64, u64);

/// Drains everything: delivered seqs, gaps, and the order of both.
fn drain_all(q: &SubscriberQueue) -> (Vec<u64>, Vec<GapSummary>, Vec<String>) {
    let mut items = Vec::new();
    while q.drain(&mut items, usize::MAX, Instant::now()) == DrainState::More {}
    let (mut seqs, mut gaps, mut order) = (Vec::new(), Vec::new(), Vec::new());
    for it in items {
        match it {
            Item::Msg(m) => {
                order.push(format!("m{}", m.seq()));
                seqs.push(m.seq());
            }
            Item::Gap(g) => {
                order.push(format!("g{}", g.count));
                gaps.push((g.reason, g.count, g.first, g.last));
            }
            Item::Frame(_) => order.push("f".into()),
            Item::Hole => unreachable!("holes are never handed out"),
        }
    }
    (seqs, gaps, order)
}

const BIG: u64 = 1 << 40;

#[test]
fn drop_oldest_keeps_the_newest_and_reports_the_oldest_as_one_gap() {
    let (q, _) = queue(QueueLimits::simple(Policy::DropOldest, 3), BIG);
    for s in 1..=10 {
        q.push(&msg(s, 0));
    }
    let (seqs, gaps, order) = drain_all(&q);
    assert_eq!(seqs, vec![8, 9, 10]);
    assert_eq!(gaps, vec![(GapReason::DroppedOldest, 7, 1, 7)]);
    assert_eq!(
        order[0], "g7",
        "the gap comes before the next delivered message"
    );
    assert_eq!(q.counters.lost(GapReason::DroppedOldest), 7);
}

#[test]
fn drop_newest_keeps_the_oldest_and_reports_the_rest_after_them() {
    let (q, _) = queue(QueueLimits::simple(Policy::DropNewest, 3), BIG);
    for s in 1..=10 {
        q.push(&msg(s, 0));
    }
    let (seqs, gaps, order) = drain_all(&q);
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(gaps, vec![(GapReason::DroppedNewest, 7, 4, 10)]);
    assert_eq!(order.last().unwrap(), "g7");
    q.push(&msg(11, 0));
    assert_eq!(
        drain_all(&q).0,
        vec![11],
        "queue accepts again once drained"
    );
}

#[test]
fn conflate_keeps_the_latest_per_key_in_seq_order() {
    let (q, _) = queue(QueueLimits::simple(Policy::Conflate, 100), BIG);
    for (s, k) in [(1, 1), (2, 2), (3, 1), (4, 1), (5, 2)] {
        q.push(&msg(s, k));
    }
    let (seqs, gaps, _) = drain_all(&q);
    assert_eq!(seqs, vec![4, 5]);
    let lost: u64 = gaps.iter().map(|g| g.1).sum();
    assert_eq!(lost, 3);
    assert!(gaps.iter().all(|g| g.0 == GapReason::Conflated));
}

#[test]
fn conflate_stays_bounded_while_the_subscriber_is_stalled() {
    let (q, _) = queue(QueueLimits::simple(Policy::Conflate, 1000), BIG);
    for s in 1..=200_000u64 {
        q.push(&msg(s, s % 50));
    }
    assert_eq!(q.depth().0, 50);
    let (seqs, gaps, order) = drain_all(&q);
    assert_eq!(seqs.len(), 50);
    assert_eq!(
        seqs.len() as u64 + gaps.iter().map(|g| g.1).sum::<u64>(),
        200_000
    );
    assert!(
        order.len() < 50 * 6 + 10,
        "markers stay bounded: {}",
        order.len()
    );
}

#[test]
fn conflate_with_a_full_queue_of_distinct_keys_drops_the_oldest() {
    let (q, _) = queue(QueueLimits::simple(Policy::Conflate, 2), BIG);
    for s in 1..=4 {
        q.push(&msg(s, s));
    }
    let (seqs, gaps, _) = drain_all(&q);
    assert_eq!(seqs, vec![3, 4]);
    assert_eq!(gaps, vec![(GapReason::DroppedOldest, 2, 1, 2)]);
}

#[test]
fn disconnect_drops_during_the_grace_period_then_kills() {
    let mut l = QueueLimits::simple(Policy::Disconnect, 2);
    l.disconnect_grace = Duration::from_millis(30);
    let (q, out) = queue(l, BIG);
    assert_eq!(q.push(&msg(1, 0)), PushOutcome::Queued);
    assert_eq!(q.push(&msg(2, 0)), PushOutcome::Queued);
    assert_eq!(q.push(&msg(3, 0)), PushOutcome::Lost);
    assert!(out.kills.lock().is_empty());
    std::thread::sleep(Duration::from_millis(40));
    assert_eq!(q.push(&msg(4, 0)), PushOutcome::Closed);
    let kills = out.kills.lock();
    assert_eq!(kills.len(), 1);
    assert_eq!(kills[0].0, ErrorCode::SlowConsumer);
}

#[tokio::test]
async fn block_admits_then_makes_the_publisher_wait_until_drained() {
    let (q, _) = queue(QueueLimits::simple(Policy::Block, 2), BIG);
    assert_eq!(q.push(&msg(1, 0)), PushOutcome::Queued);
    assert_eq!(q.push(&msg(2, 0)), PushOutcome::Queued);
    assert_eq!(q.push(&msg(3, 0)), PushOutcome::MustWait);
    let soon = tokio::time::Instant::now() + Duration::from_millis(20);
    assert!(!q.wait_for_space(soon).await, "still over the limit");
    let waiter = {
        let q = q.clone();
        tokio::spawn(async move {
            q.wait_for_space(tokio::time::Instant::now() + Duration::from_secs(10))
                .await
        })
    };
    tokio::task::yield_now().await;
    let mut items = Vec::new();
    q.drain(&mut items, usize::MAX, Instant::now());
    assert!(waiter.await.unwrap(), "draining wakes the publisher");
    assert_eq!(items.len(), 3, "block never loses a message");
}

#[test]
fn an_exhausted_budget_costs_the_queue_beyond_its_guaranteed_share() {
    let mut l = QueueLimits::simple(Policy::DropOldest, 1000);
    l.guaranteed_bytes = 200; // messages cost 101 bytes: the first is guaranteed
    let (q, _) = queue(l, 350); // the budget then takes two more
    for s in 1..=5 {
        q.push(&msg(s, 0));
    }
    let (seqs, gaps, _) = drain_all(&q);
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(gaps, vec![(GapReason::MemoryBudget, 2, 4, 5)]);
}

#[test]
fn max_rate_holds_messages_back_and_says_until_when() {
    let mut l = QueueLimits::simple(Policy::DropOldest, 1000);
    l.max_rate = 20; // burst of 1
    let (q, _) = queue(l, BIG);
    for s in 1..=3 {
        q.push(&msg(s, 0));
    }
    let mut items = Vec::new();
    let now = Instant::now();
    match q.drain(&mut items, usize::MAX, now) {
        DrainState::WaitUntil(t) => assert!(t > now && t <= now + Duration::from_millis(60)),
        s => panic!("{s:?}"),
    }
    assert_eq!(items.len(), 1);
}

#[test]
fn linger_waits_for_a_batch_unless_it_is_full() {
    let mut l = QueueLimits::simple(Policy::DropOldest, 1000);
    l.max_batch = 4;
    l.linger = Duration::from_millis(50);
    let (q, _) = queue(l, BIG);
    q.push(&msg(1, 0));
    let mut items = Vec::new();
    assert!(matches!(
        q.drain(&mut items, usize::MAX, Instant::now()),
        DrainState::WaitUntil(_)
    ));
    assert!(items.is_empty());
    for s in 2..=4 {
        q.push(&msg(s, 0));
    }
    assert_eq!(
        q.drain(&mut items, usize::MAX, Instant::now()),
        DrainState::Empty
    );
    assert_eq!(items.len(), 4);
}

#[test]
fn close_returns_all_memory_to_the_budget() {
    let budget = Arc::new(Budget::new(BIG));
    let q = Arc::new(SubscriberQueue::new(
        1,
        1,
        "t".into(),
        QueueLimits::simple(Policy::DropOldest, 10),
        Arc::new(FakeOutbox::default()),
        budget.clone(),
    ));
    for s in 1..=50 {
        q.push(&msg(s, 0));
    }
    assert!(budget.used() > 0);
    q.close();
    assert_eq!(budget.used(), 0);
    assert_eq!(q.push(&msg(51, 0)), PushOutcome::Closed);
}

#[test]
fn a_push_schedules_the_writer_once_until_drained() {
    let (q, out) = queue(QueueLimits::simple(Policy::DropOldest, 10), BIG);
    q.push(&msg(1, 0));
    q.push(&msg(2, 0));
    assert_eq!(out.schedules.load(Ordering::Relaxed), 1);
    drain_all(&q);
    q.push(&msg(3, 0));
    assert_eq!(out.schedules.load(Ordering::Relaxed), 2);
    let _ = Bytes::new();
}

#[test]
fn a_publish_run_wakes_the_writer_only_once_it_is_all_queued() {
    let budget = Arc::new(Budget::new(BIG));
    let (q, out) = queue_with(QueueLimits::simple(Policy::DropOldest, 10), budget.clone());
    let mut wakes = Wakes::default();
    let mut receivers = [0u32; 2];
    let mut credit = Credit::new(&budget);
    q.push_many(
        &[msg(1, 0), msg(2, 0)],
        &mut receivers,
        &mut wakes,
        &mut credit,
    );
    assert_eq!(receivers, [1, 1]);
    assert_eq!(
        out.schedules.load(Ordering::Relaxed),
        1,
        "on the ready list"
    );
    assert_eq!(out.wakes.load(Ordering::Relaxed), 0, "not woken mid-run");
    credit.settle();
    assert_eq!(
        budget.used(),
        2 * msg(1, 0).cost() as u64,
        "the run paid exactly"
    );
    wakes.wake_all();
    assert_eq!(out.wakes.load(Ordering::Relaxed), 1);
    wakes.wake_all();
    assert_eq!(out.wakes.load(Ordering::Relaxed), 1, "woken once");
    q.push(&msg(3, 0));
    assert_eq!(
        out.wakes.load(Ordering::Relaxed),
        1,
        "still scheduled: no new wake"
    );
    drain_all(&q);
    q.push(&msg(4, 0));
    assert_eq!(
        out.wakes.load(Ordering::Relaxed),
        2,
        "a single push wakes at once"
    );
    drain_all(&q);
    assert_eq!(budget.used(), 0, "every byte given back");
}
