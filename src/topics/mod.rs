//! Topics: the rules for topic names and subscription patterns ([`name`])
//! and the wildcard subscription index that answers "who is subscribed to
//! this topic" without scanning every subscription ([`trie`]).

pub mod name;
mod sub_list;
pub mod trie;

pub use name::{is_literal, pattern_matches, validate_pattern, validate_topic, NameError};
pub use trie::SubscriptionTrie;
