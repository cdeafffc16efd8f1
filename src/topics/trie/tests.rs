//! Tests for [`SubscriptionTrie`]: hand-written cases for each kind of
//! pattern, removal and pruning, and a property test against the reference
//! matcher [`pattern_matches`].

use proptest::prelude::*;

use super::SubscriptionTrie;
use crate::topics::pattern_matches;

/// The sorted values matching `topic`.
fn matching(trie: &SubscriptionTrie<u64>, topic: &str) -> Vec<u64> {
    let mut out = Vec::new();
    trie.matches(topic, &mut out);
    out.sort_unstable();
    out
}

/// A trie with subscription `i` on `patterns[i]` and value `i`.
fn trie_of(patterns: &[&str]) -> SubscriptionTrie<u64> {
    let mut trie = SubscriptionTrie::new();
    for (id, pattern) in patterns.iter().enumerate() {
        trie.insert(pattern, id as u64, id as u64);
    }
    trie
}

#[test]
fn empty_trie_matches_nothing() {
    let trie = SubscriptionTrie::<u64>::new();
    assert!(trie.is_empty());
    assert_eq!(trie.len(), 0);
    assert_eq!(matching(&trie, "a.b"), Vec::<u64>::new());
    assert_eq!(trie.node_count(), 1);
}

#[test]
fn exact_patterns_match_only_themselves() {
    let trie = trie_of(&["a", "a.b", "a.b.c", "b"]);
    assert_eq!(matching(&trie, "a"), vec![0]);
    assert_eq!(matching(&trie, "a.b"), vec![1]);
    assert_eq!(matching(&trie, "a.b.c"), vec![2]);
    assert_eq!(matching(&trie, "b"), vec![3]);
    assert_eq!(matching(&trie, "a.b.c.d"), Vec::<u64>::new());
    assert_eq!(matching(&trie, "c"), Vec::<u64>::new());
    assert_eq!(matching(&trie, "b.a"), Vec::<u64>::new());
}

#[test]
fn star_matches_exactly_one_token() {
    let trie = trie_of(&["*", "a.*", "*.b", "a.*.c"]);
    assert_eq!(matching(&trie, "x"), vec![0]);
    assert_eq!(matching(&trie, "a"), vec![0]);
    assert_eq!(matching(&trie, "a.x"), vec![1]);
    assert_eq!(matching(&trie, "a.b"), vec![1, 2]);
    assert_eq!(matching(&trie, "a.x.c"), vec![3]);
    assert_eq!(matching(&trie, "a.x.d"), Vec::<u64>::new());
    assert_eq!(matching(&trie, "a.x.c.d"), Vec::<u64>::new());
}

#[test]
fn full_wildcard_matches_one_or_more_trailing_tokens() {
    let trie = trie_of(&[">", "a.>", "a.b.>", "*.>"]);
    assert_eq!(matching(&trie, "a"), vec![0]);
    assert_eq!(matching(&trie, "a.b"), vec![0, 1, 3]);
    assert_eq!(matching(&trie, "a.b.c"), vec![0, 1, 2, 3]);
    assert_eq!(matching(&trie, "a.b.c.d.e"), vec![0, 1, 2, 3]);
    assert_eq!(matching(&trie, "x.y"), vec![0, 3]);
}

#[test]
fn overlapping_patterns_each_report_once() {
    let patterns = [
        "orders.eu.created",
        "orders.*.created",
        "orders.>",
        "*.eu.*",
        ">",
        "orders.eu.*",
        "*.*.*",
    ];
    let trie = trie_of(&patterns);
    assert_eq!(
        matching(&trie, "orders.eu.created"),
        vec![0, 1, 2, 3, 4, 5, 6]
    );
    assert_eq!(matching(&trie, "orders.us.created"), vec![1, 2, 4, 6]);
    assert_eq!(matching(&trie, "orders.eu"), vec![2, 4]);
    assert_eq!(matching(&trie, "users.eu.created"), vec![3, 4, 6]);
}

#[test]
fn same_pattern_many_ids() {
    let mut trie = SubscriptionTrie::new();
    for id in 0..1000u64 {
        trie.insert("a.*", id, id);
    }
    assert_eq!(trie.len(), 1000);
    assert_eq!(matching(&trie, "a.b"), (0..1000).collect::<Vec<_>>());
    for id in (0..1000u64).filter(|id| id % 2 == 0) {
        assert_eq!(trie.remove("a.*", id), Some(id));
    }
    assert_eq!(trie.len(), 500);
    assert_eq!(
        matching(&trie, "a.b"),
        (0..1000).filter(|id| id % 2 == 1).collect::<Vec<_>>()
    );
}

#[test]
fn reinserting_an_id_replaces_its_value() {
    let mut trie = SubscriptionTrie::new();
    trie.insert("a.b", 7, 1u64);
    trie.insert("a.b", 7, 2);
    assert_eq!(trie.len(), 1);
    assert_eq!(matching(&trie, "a.b"), vec![2]);
}

#[test]
fn removal_needs_the_exact_pattern() {
    let mut trie = trie_of(&["a.b", "a.*"]);
    // Removing id 0 from the wrong pattern finds nothing.
    assert_eq!(trie.remove("a.*", 0), None);
    assert_eq!(trie.remove("a.>", 0), None);
    assert_eq!(trie.remove("a", 0), None);
    assert_eq!(trie.remove("a.b.c", 0), None);
    assert_eq!(trie.len(), 2);
    assert_eq!(trie.remove("a.b", 0), Some(0));
    assert_eq!(trie.remove("a.b", 0), None);
    assert_eq!(matching(&trie, "a.b"), vec![1]);
}

#[test]
fn removal_prunes_every_empty_node() {
    let patterns = ["a.b.c.d", "a.*.c", "a.>", "*.*.>", "x", "a.b"];
    let mut trie = trie_of(&patterns);
    let full = trie.node_count();
    assert!(full > 6, "{full}");
    // Removing a leaf-only pattern gives back its private nodes (c, d).
    assert_eq!(trie.remove("a.b.c.d", 0), Some(0));
    assert_eq!(trie.node_count(), full - 2);
    for (id, pattern) in patterns.iter().enumerate().skip(1) {
        assert_eq!(
            trie.remove(pattern, id as u64),
            Some(id as u64),
            "{pattern}"
        );
    }
    assert!(trie.is_empty());
    assert_eq!(trie.node_count(), 1);
    assert_eq!(matching(&trie, "a.b.c"), Vec::<u64>::new());
}

#[test]
fn nodes_still_in_use_survive_pruning() {
    let mut trie = trie_of(&["a.b.c", "a.b"]);
    assert_eq!(trie.remove("a.b", 1), Some(1));
    assert_eq!(matching(&trie, "a.b.c"), vec![0]);
    assert_eq!(trie.node_count(), 4);
}

#[test]
fn many_siblings_come_and_go() {
    let mut trie = SubscriptionTrie::new();
    for id in 0..10_000u64 {
        trie.insert(&format!("t.{id}"), id, id);
    }
    assert_eq!(matching(&trie, "t.1234"), vec![1234]);
    for id in 0..10_000u64 {
        assert_eq!(trie.remove(&format!("t.{id}"), id), Some(id));
    }
    assert!(trie.is_empty());
    assert_eq!(trie.node_count(), 1);
}

/// A pattern over a tiny alphabet, so random patterns and topics collide
/// often: 1..=4 tokens from `a`, `b`, `*`, optionally ending in `>`.
fn pattern_strategy() -> impl Strategy<Value = String> {
    let token = prop_oneof![Just("a"), Just("b"), Just("*")];
    (prop::collection::vec(token, 1..=4), any::<bool>()).prop_map(|(tokens, full)| {
        let mut pattern = tokens.join(".");
        if full {
            pattern.push_str(".>");
        }
        pattern
    })
}

/// A topic of 1..=5 tokens from `a`, `b`, `c`.
fn topic_strategy() -> impl Strategy<Value = String> {
    let token = prop_oneof![Just("a"), Just("b"), Just("c")];
    prop::collection::vec(token, 1..=5).prop_map(|tokens| tokens.join("."))
}

proptest! {
    /// The trie agrees with the reference matcher on every topic, before and
    /// after removing some subscriptions, and removing the rest leaves only
    /// the root.
    #[test]
    fn trie_agrees_with_reference_matcher(
        patterns in prop::collection::vec(pattern_strategy(), 0..40),
        topics in prop::collection::vec(topic_strategy(), 1..20),
        removed in prop::collection::vec(any::<bool>(), 40),
    ) {
        let mut trie = SubscriptionTrie::new();
        for (id, pattern) in patterns.iter().enumerate() {
            trie.insert(pattern, id as u64, id as u64);
        }
        prop_assert_eq!(trie.len(), patterns.len());
        let check = |trie: &SubscriptionTrie<u64>, alive: &dyn Fn(usize) -> bool| -> Result<(), TestCaseError> {
            for topic in &topics {
                let want: Vec<u64> = patterns
                    .iter()
                    .enumerate()
                    .filter(|(id, pattern)| alive(*id) && pattern_matches(pattern, topic))
                    .map(|(id, _)| id as u64)
                    .collect();
                prop_assert_eq!(matching(trie, topic), want, "topic {}", topic);
            }
            Ok(())
        };
        check(&trie, &|_| true)?;

        for (id, pattern) in patterns.iter().enumerate() {
            if removed[id] {
                prop_assert_eq!(trie.remove(pattern, id as u64), Some(id as u64));
            }
        }
        check(&trie, &|id| !removed[id])?;

        for (id, pattern) in patterns.iter().enumerate() {
            if !removed[id] {
                prop_assert_eq!(trie.remove(pattern, id as u64), Some(id as u64));
            }
        }
        prop_assert!(trie.is_empty());
        prop_assert_eq!(trie.node_count(), 1);
    }
}
