//! A connection's outbox: everything waiting to be written to one client
//! socket — control replies (acks, errors, pongs) and the subscriber queues
//! that have something ready. Publishers and the reader fill it; the
//! connection's writer task empties it.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use spate_proto::{ErrorCode, Frame};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::queue::subscriber::Scheduler;
use crate::queue::SubscriberQueue;

/// Control bytes queued before the reader must wait for the writer: a
/// client that never reads its acks stops being read.
const CONTROL_LIMIT_BYTES: usize = 1024 * 1024;

/// Per-connection outbound state shared by reader, publishers and writer.
#[derive(Debug, Default)]
pub struct Outbox {
    state: Mutex<State>,
    /// Wakes the writer.
    pub(super) wake: Notify,
    control_space: Notify,
    kill: CancellationToken,
    /// Set once the writer has stopped, for whatever reason.
    pub(super) closed: CancellationToken,
}

#[derive(Debug, Default)]
struct State {
    control: VecDeque<Bytes>,
    control_bytes: usize,
    ready: Vec<Arc<SubscriberQueue>>,
    finishing: bool,
    kill_frame: Option<Bytes>,
}

/// Work the writer takes in one go.
#[derive(Debug, Default)]
pub(super) struct Work {
    pub control: VecDeque<Bytes>,
    pub ready: Vec<Arc<SubscriberQueue>>,
    pub finishing: bool,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Queues a control frame, waiting while the client is not reading
    /// them (the caller is the connection's reader, so waiting here is the
    /// backpressure on that client).
    pub async fn send(&self, frame: Bytes) {
        loop {
            let space = self.control_space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            {
                let mut st = self.state.lock();
                if st.control_bytes < CONTROL_LIMIT_BYTES || self.kill.is_cancelled() {
                    st.control_bytes += frame.len();
                    st.control.push_back(frame);
                    break;
                }
            }
            tokio::select! {
                _ = &mut space => {}
                _ = self.closed.cancelled() => return,
            }
        }
        self.wake.notify_one();
    }

    /// Queues a frame without waiting (used for rare frames such as GOAWAY).
    pub fn send_now(&self, frame: &Frame) {
        let b = frame.to_bytes();
        {
            let mut st = self.state.lock();
            st.control_bytes += b.len();
            st.control.push_back(b);
        }
        self.wake.notify_one();
    }

    /// Asks the writer to flush everything queued, then close.
    pub fn finish(&self) {
        self.state.lock().finishing = true;
        self.wake.notify_one();
    }

    /// True once [`Self::kill`] was called.
    pub fn is_killed(&self) -> bool {
        self.kill.is_cancelled()
    }

    /// Resolves when the connection is being killed.
    pub async fn killed(&self) {
        self.kill.cancelled().await
    }

    /// Resolves when the writer has stopped.
    pub async fn writer_closed(&self) {
        self.closed.cancelled().await
    }

    /// Kills the connection with `frame` as the last thing written.
    pub fn kill_with(&self, frame: Bytes) {
        {
            let mut st = self.state.lock();
            if st.kill_frame.is_none() {
                st.kill_frame = Some(frame);
            }
        }
        self.kill.cancel();
    }

    /// The frame to write before closing a killed connection.
    pub(super) fn kill_frame(&self) -> Option<Bytes> {
        self.state.lock().kill_frame.take()
    }

    /// Moves pending work into `w` (appending to its ready list).
    pub(super) fn take(&self, w: &mut Work) {
        let mut st = self.state.lock();
        if !st.control.is_empty() {
            std::mem::swap(&mut w.control, &mut st.control);
            st.control_bytes = 0;
        }
        w.ready.append(&mut st.ready);
        w.finishing = st.finishing;
        drop(st);
        if !w.control.is_empty() {
            self.control_space.notify_waiters();
        }
    }

    /// Drops all references to queues (breaks queue ↔ outbox cycles).
    pub fn clear(&self) {
        let mut st = self.state.lock();
        st.ready.clear();
        st.control.clear();
    }
}

impl Scheduler for Outbox {
    fn enqueue(&self, q: Arc<SubscriberQueue>) -> bool {
        let mut st = self.state.lock();
        st.ready.push(q);
        // The writer empties the list when it takes work and arms its
        // wake-up before taking, so only the first queue to arrive after
        // that needs to wake it; the rest ride along.
        st.ready.len() == 1
    }

    fn wake(&self) {
        self.wake.notify_one();
    }

    fn kill(&self, code: ErrorCode, reference: u32, message: String) {
        self.kill_with(Frame::error(code, reference, message).to_bytes());
    }
}
