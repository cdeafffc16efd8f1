//! Topic names, patterns and the wildcard subscription trie.
//! TEMPORARY stand-in for the real implementation (branch `topics`).

pub mod name;
pub mod trie;

pub use name::{is_literal, pattern_matches, validate_pattern, validate_topic, NameError};
pub use trie::SubscriptionTrie;
