//! The per-subscription bounded queue: what sits between a publish and a
//! subscriber's socket.
//!
//! A publish pushes the shared, already-encoded message body
//! ([`item::Msg`]) into every matching [`SubscriberQueue`]; the queue's
//! policy decides what happens when it is full; every loss becomes a
//! [`gap::GapMarker`] in the queue at the place the lost messages held, so
//! the subscriber learns of it exactly where it happened. The connection's
//! writer drains queues ([`SubscriberQueue::drain`]) honouring the rate limit
//! and batching options.

pub mod budget;
pub mod counters;
pub mod gap;
pub mod item;
pub mod limits;
pub mod rate;
mod stream;
pub mod subscriber;
pub mod wakes;

pub use budget::{Budget, Credit};
pub use counters::SubCounters;
pub use gap::GapMarker;
pub use item::{Item, Msg};
pub use limits::QueueLimits;
pub use subscriber::{DrainState, PushOutcome, SubscriberQueue};
pub use wakes::Wakes;

#[cfg(test)]
mod tests;
