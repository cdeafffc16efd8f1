//! Per-action allow/deny lists of topic patterns, and how patterns are
//! compared (protocol.md §19 "Permissions"):
//!
//! - a **topic** (publish, state) is permitted when some allow pattern
//!   matches it and no deny pattern does;
//! - a **subscription pattern** is permitted when one allow pattern
//!   *covers* it (every topic the subscription can match is matched by that
//!   allow pattern) and no deny pattern *intersects* it (no topic is matched
//!   by both). Deny wins.
//!
//! A literal pattern is a topic, so both rules agree on literals.

use serde::{Deserialize, Serialize};

/// One token of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(Box<str>),
    /// `*`: exactly one token.
    Star,
    /// `>`: one or more tokens (last token only).
    Rest,
}

/// A topic pattern split into tokens (validated by the config checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(Vec<Seg>);

impl Pattern {
    /// Splits `p` on `.`; `*` and `>` as whole tokens are wildcards.
    pub fn parse(p: &str) -> Pattern {
        Pattern(
            p.split('.')
                .map(|t| match t {
                    "*" => Seg::Star,
                    ">" => Seg::Rest,
                    t => Seg::Lit(t.into()),
                })
                .collect(),
        )
    }

    /// True when this pattern is exactly `>` (matches every topic).
    fn is_everything(&self) -> bool {
        matches!(self.0.as_slice(), [Seg::Rest])
    }
}

/// True when every topic `inner` can match is matched by `outer`.
pub fn covers(outer: &Pattern, inner: &Pattern) -> bool {
    let (a, p) = (&outer.0, &inner.0);
    for i in 0.. {
        match (a.get(i), p.get(i)) {
            (None, None) => return true,
            (None, Some(_)) | (Some(_), None) => return false,
            // `>` takes the one-or-more tokens left in `inner` whatever they are.
            (Some(Seg::Rest), Some(_)) => return true,
            // `inner` goes on to any depth, `outer` does not.
            (Some(_), Some(Seg::Rest)) => return false,
            (Some(Seg::Star), Some(_)) => {}
            (Some(Seg::Lit(x)), Some(Seg::Lit(y))) if x == y => {}
            (Some(Seg::Lit(_)), Some(_)) => return false,
        }
    }
    unreachable!("the loop returns")
}

/// True when some topic is matched by both `a` and `b`.
pub fn intersects(a: &Pattern, b: &Pattern) -> bool {
    let (a, b) = (&a.0, &b.0);
    for i in 0.. {
        match (a.get(i), b.get(i)) {
            (None, None) => return true,
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(Seg::Rest), Some(_)) | (Some(_), Some(Seg::Rest)) => return true,
            (Some(Seg::Lit(x)), Some(Seg::Lit(y))) if x != y => return false,
            _ => {}
        }
    }
    unreachable!("the loop returns")
}

/// Allow and deny lists of one action, as written in the config (and in a
/// JWT's `spate` claim).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleSpec {
    /// Patterns permitted.
    pub allow: Vec<String>,
    /// Patterns refused, whatever `allow` says.
    pub deny: Vec<String>,
}

/// Permissions per action, as written in the config (and in a JWT's
/// `spate` claim). An action left out permits nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PermissionSpec {
    /// PUBLISH and PUBLISH_BATCH topics.
    pub publish: RuleSpec,
    /// SUBSCRIBE patterns.
    pub subscribe: RuleSpec,
    /// STATE_GET and STATE_LIST topics.
    pub state_read: RuleSpec,
    /// STATE_PUT and STATE_DEL topics.
    pub state_write: RuleSpec,
}

impl PermissionSpec {
    /// Every pattern named, with the action it is under (for validation).
    pub fn patterns(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("publish", &self.publish),
            ("subscribe", &self.subscribe),
            ("state_read", &self.state_read),
            ("state_write", &self.state_write),
        ]
        .into_iter()
        .flat_map(|(n, r)| r.allow.iter().chain(&r.deny).map(move |p| (n, p.as_str())))
    }
}

/// Compiled allow/deny lists of one action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    allow: Vec<Pattern>,
    deny: Vec<Pattern>,
    everything: bool,
}

impl Rules {
    /// Compiles the lists.
    pub fn new(spec: &RuleSpec) -> Rules {
        let allow: Vec<Pattern> = spec.allow.iter().map(|p| Pattern::parse(p)).collect();
        let deny: Vec<Pattern> = spec.deny.iter().map(|p| Pattern::parse(p)).collect();
        Rules {
            everything: deny.is_empty() && allow.iter().any(Pattern::is_everything),
            allow,
            deny,
        }
    }

    /// Rules that permit everything (an anonymous client when
    /// `auth.required = false`).
    pub fn all() -> Rules {
        Rules::new(&RuleSpec {
            allow: vec![">".into()],
            deny: Vec::new(),
        })
    }

    /// True when every topic and pattern is permitted (the fast path).
    pub fn permits_everything(&self) -> bool {
        self.everything
    }

    /// Whether a publish or state operation on `topic` is permitted.
    pub fn permits_topic(&self, topic: &str) -> bool {
        self.permits_pattern(topic)
    }

    /// Whether a subscription to `pattern` is permitted: one allow pattern
    /// covers it and no deny pattern intersects it.
    pub fn permits_pattern(&self, pattern: &str) -> bool {
        if self.everything {
            return true;
        }
        let p = Pattern::parse(pattern);
        self.allow.iter().any(|a| covers(a, &p)) && !self.deny.iter().any(|d| intersects(d, &p))
    }
}

/// Compiled permissions of one principal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// PUBLISH topics.
    pub publish: Rules,
    /// SUBSCRIBE patterns.
    pub subscribe: Rules,
    /// State reads.
    pub state_read: Rules,
    /// State writes.
    pub state_write: Rules,
}

impl Permissions {
    /// Compiles a spec.
    pub fn new(spec: &PermissionSpec) -> Permissions {
        Permissions {
            publish: Rules::new(&spec.publish),
            subscribe: Rules::new(&spec.subscribe),
            state_read: Rules::new(&spec.state_read),
            state_write: Rules::new(&spec.state_write),
        }
    }

    /// Everything permitted.
    pub fn all() -> Permissions {
        Permissions {
            publish: Rules::all(),
            subscribe: Rules::all(),
            state_read: Rules::all(),
            state_write: Rules::all(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every topic of 1..=4 tokens over {a, b}: deep enough for patterns of
    /// up to 3 tokens (a `>` behaves the same at every greater depth).
    fn topics() -> Vec<String> {
        let mut out: Vec<String> = vec!["a".into(), "b".into()];
        let mut last = out.clone();
        for _ in 1..4 {
            let next: Vec<String> = last
                .iter()
                .flat_map(|t| [format!("{t}.a"), format!("{t}.b")])
                .collect();
            out.extend(next.iter().cloned());
            last = next;
        }
        out
    }

    fn pattern() -> impl Strategy<Value = String> {
        (
            1usize..=3,
            proptest::collection::vec(0u8..3, 3),
            any::<bool>(),
        )
            .prop_map(|(n, toks, rest)| {
                let mut v: Vec<&str> = toks[..n]
                    .iter()
                    .map(|t| ["a", "b", "*"][*t as usize])
                    .collect();
                if rest {
                    *v.last_mut().unwrap() = ">";
                }
                v.join(".")
            })
    }

    fn m(p: &str, t: &str) -> bool {
        crate::topics::pattern_matches(p, t)
    }

    proptest! {
        #[test]
        fn covers_is_subset_by_brute_force(a in pattern(), p in pattern()) {
            let want = topics().iter().all(|t| !m(&p, t) || m(&a, t));
            prop_assert_eq!(covers(&Pattern::parse(&a), &Pattern::parse(&p)), want, "{} covers {}", a, p);
        }

        #[test]
        fn intersects_is_overlap_by_brute_force(a in pattern(), p in pattern()) {
            let want = topics().iter().any(|t| m(&p, t) && m(&a, t));
            prop_assert_eq!(intersects(&Pattern::parse(&a), &Pattern::parse(&p)), want, "{} meets {}", a, p);
        }
    }

    fn rules(allow: &[&str], deny: &[&str]) -> Rules {
        Rules::new(&RuleSpec {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn wildcard_escalation_is_refused() {
        let r = rules(&["orders.>"], &[]);
        assert!(r.permits_pattern("orders.>"));
        assert!(r.permits_pattern("orders.*.created"));
        assert!(r.permits_topic("orders.eu"));
        assert!(!r.permits_pattern(">"));
        assert!(!r.permits_pattern("*.eu"));
        assert!(!r.permits_pattern("orders"));
    }

    #[test]
    fn deny_wins_and_refuses_any_overlap() {
        let r = rules(&[">"], &["secret.>"]);
        assert!(!r.permits_everything());
        assert!(r.permits_topic("orders"));
        assert!(!r.permits_topic("secret.x"));
        assert!(!r.permits_pattern(">"));
        assert!(!r.permits_pattern("*.x"));
        assert!(r.permits_pattern("orders.>"));
    }

    #[test]
    fn nothing_allowed_by_default() {
        let r = Rules::default();
        assert!(!r.permits_topic("a"));
        assert!(Rules::all().permits_everything());
    }
}
