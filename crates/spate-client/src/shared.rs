//! The little the application's handles read without asking the
//! connection task: whether requests can be sent right now (and if not,
//! why), and the server's WELCOME (its limits). Written only by the
//! connection task.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use spate_proto::Welcome;

use crate::error::Error;

/// State shared between the connection task and the handles.
#[derive(Debug)]
pub(crate) struct Shared {
    ready: AtomicBool,
    max_frame: AtomicUsize,
    /// Why requests are refused while `ready` is false. A std mutex: held
    /// for a clone, never across an await.
    refusal: Mutex<Error>,
    welcome: Mutex<Welcome>,
}

impl Shared {
    pub(crate) fn new(welcome: Welcome) -> Shared {
        Shared {
            ready: AtomicBool::new(true),
            max_frame: AtomicUsize::new(welcome.max_frame as usize),
            refusal: Mutex::new(Error::NotConnected),
            welcome: Mutex::new(welcome),
        }
    }

    /// `Ok` if requests can be sent now, else the reason they cannot.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.ready.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(self.refusal())
        }
    }

    /// Why requests are refused (meaningful while not ready, or once the
    /// connection task has stopped).
    pub(crate) fn refusal(&self) -> Error {
        lock(&self.refusal).clone()
    }

    /// Marks the client unable to send, for `why`.
    pub(crate) fn refuse(&self, why: Error) {
        *lock(&self.refusal) = why;
        self.ready.store(false, Ordering::Release);
    }

    /// Marks the client connected to a server that sent `welcome`.
    pub(crate) fn connected(&self, welcome: Welcome) {
        self.max_frame
            .store(welcome.max_frame as usize, Ordering::Relaxed);
        *lock(&self.welcome) = welcome;
        self.ready.store(true, Ordering::Release);
    }

    /// The server's largest accepted frame.
    pub(crate) fn max_frame(&self) -> usize {
        self.max_frame.load(Ordering::Relaxed)
    }

    /// The latest WELCOME.
    pub(crate) fn welcome(&self) -> Welcome {
        lock(&self.welcome).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
