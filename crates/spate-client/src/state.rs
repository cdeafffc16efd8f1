//! Results of the versioned-state operations: a key's value with its
//! revision ([`StateValue`]) and one page of a listing ([`StatePage`]).

use bytes::Bytes;

pub use spate_proto::{Condition, StateEntry};

/// A state key's value and revision, as read by `state_get`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateValue {
    /// Current value.
    pub value: Bytes,
    /// Current revision (the seq of the message that set it).
    pub revision: u64,
}

/// One page of `state_list`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatePage {
    /// Entries in key order.
    pub entries: Vec<StateEntry>,
    /// More keys follow the last entry: ask again with `after` set to it.
    pub more: bool,
}
