//! Topic-name and pattern rules (the NATS conventions).
//!
//! A *topic* is what a message is published to: UTF-8, `1..=max_len` bytes,
//! dot-separated tokens such as `orders.eu.created`. No token may be empty
//! (no leading, trailing or double dot), and no whitespace or control
//! character may appear anywhere. The characters `*` and `>` are reserved
//! for wildcards, so they never appear in a topic.
//!
//! A *pattern* is what a subscription listens to: a topic that may also
//! contain the wildcard tokens `*` (exactly one token) and `>` (one or more
//! trailing tokens, so only as the last token). Wildcards are whole tokens:
//! `a*.b`, `a.>b` and `>.a` are rejected.
//!
//! [`validate_topic`] runs on every publish, so it is one pass over the
//! bytes with no allocation. [`pattern_matches`] is the plain reference
//! matcher; the broker's hot path uses [`SubscriptionTrie`](super::SubscriptionTrie).

/// Why a topic or pattern was rejected. Each variant's message is meant to be
/// shown to the user as is (it goes into the protocol's ERROR frame text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name has no bytes at all.
    #[error("topic is empty")]
    Empty,
    /// The name is longer than the server's limit.
    #[error("topic is {len} bytes long, longer than the limit of {max} bytes")]
    TooLong {
        /// The length of the rejected name in bytes.
        len: usize,
        /// The server's limit in bytes.
        max: usize,
    },
    /// A token between dots is empty.
    #[error("topic has an empty token (leading, trailing or double dot)")]
    EmptyToken,
    /// A publish topic contains `*` or `>`, which only subscriptions may use.
    #[error(
        "wildcards `*` and `>` are only allowed in subscription patterns, not in a published topic"
    )]
    WildcardInTopic,
    /// `*` or `>` appears inside a token together with other characters.
    #[error("wildcards `*` and `>` must be a whole token on their own (like `a.*.c`, not `a*.c`)")]
    PartialWildcard,
    /// `>` appears as a token before the last one.
    #[error("the wildcard `>` may only be the last token of a pattern")]
    MisplacedWildcard,
    /// A whitespace or control character appears in the name.
    #[error(
        "topic contains the character {0:?}; whitespace and control characters are not allowed"
    )]
    InvalidChar(char),
}

/// Checks a topic a message is published to: non-empty, at most `max_len`
/// bytes, no empty tokens, no whitespace or control characters, and no
/// wildcard characters (`*`, `>`).
pub fn validate_topic(name: &str, max_len: usize) -> Result<(), NameError> {
    scan(name, max_len, false)
}

/// Checks a subscription pattern: the topic rules, except that `*` may stand
/// as any whole token and `>` as the whole last token.
pub fn validate_pattern(pattern: &str, max_len: usize) -> Result<(), NameError> {
    scan(pattern, max_len, true)
}

/// Whether `pattern` has no wildcard token, so it matches exactly one topic
/// (itself). Meant for patterns that already passed [`validate_pattern`]; it
/// looks at whole tokens only.
pub fn is_literal(pattern: &str) -> bool {
    !pattern.split('.').any(is_wildcard_token)
}

/// Whether the (valid) `pattern` matches the (valid) `topic`.
///
/// A straightforward token-by-token walk: simple enough to trust, so tests
/// use it as the oracle for [`SubscriptionTrie`](super::SubscriptionTrie), and
/// cold paths (e.g. checking one subscription against one topic) may use it
/// directly.
pub fn pattern_matches(pattern: &str, topic: &str) -> bool {
    let mut pattern_tokens = pattern.split('.');
    let mut topic_tokens = topic.split('.');
    loop {
        match (pattern_tokens.next(), topic_tokens.next()) {
            // `>` is always the last pattern token and needs at least one
            // topic token, which this arm has.
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(want), Some(got)) if want == got => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether a token is one of the two wildcard tokens.
fn is_wildcard_token(token: &str) -> bool {
    token == "*" || token == ">"
}

/// The one pass behind both validators.
///
/// Walks the bytes once, tracking where the current token started and
/// whether it contains a wildcard character; each token is judged when its
/// closing dot (or the end) is reached. ASCII bytes are checked directly;
/// only a non-ASCII byte decodes its character.
fn scan(name: &str, max_len: usize, allow_wildcards: bool) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > max_len {
        return Err(NameError::TooLong {
            len: name.len(),
            max: max_len,
        });
    }
    let bytes = name.as_bytes();
    let mut token_start = 0;
    let mut token_wildcard = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'.' => {
                check_token(&bytes[token_start..i], token_wildcard, false)?;
                token_start = i + 1;
                token_wildcard = false;
                i += 1;
            }
            b'*' | b'>' => {
                if !allow_wildcards {
                    return Err(NameError::WildcardInTopic);
                }
                token_wildcard = true;
                i += 1;
            }
            // Space, DEL and the C0 controls (which include \t \n \r etc.).
            0x00..=0x20 | 0x7f => return Err(NameError::InvalidChar(char::from(b))),
            0x21..=0x7e => i += 1,
            _ => {
                // `i` is always on a character boundary: we only ever step
                // over whole ASCII bytes or whole characters.
                let c = name[i..].chars().next().unwrap_or('\u{fffd}');
                if c.is_whitespace() || c.is_control() {
                    return Err(NameError::InvalidChar(c));
                }
                i += c.len_utf8();
            }
        }
    }
    check_token(&bytes[token_start..], token_wildcard, true)
}

/// Judges one complete token of a name. `wildcard` says whether it holds a
/// `*` or `>` (only possible when wildcards are allowed).
fn check_token(token: &[u8], wildcard: bool, last: bool) -> Result<(), NameError> {
    if token.is_empty() {
        return Err(NameError::EmptyToken);
    }
    if wildcard {
        if token.len() != 1 {
            return Err(NameError::PartialWildcard);
        }
        if token[0] == b'>' && !last {
            return Err(NameError::MisplacedWildcard);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 64;

    fn topic(name: &str) -> Result<(), NameError> {
        validate_topic(name, MAX)
    }

    fn pattern(name: &str) -> Result<(), NameError> {
        validate_pattern(name, MAX)
    }

    #[test]
    fn accepts_ordinary_topics() {
        for name in [
            "a",
            "orders",
            "orders.eu.created",
            "a-b_c.D9.x:y",
            "ünï.cødé.名前",
            "a.b.c.d.e.f",
        ] {
            assert_eq!(topic(name), Ok(()), "{name}");
            assert_eq!(pattern(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn rejects_empty() {
        assert_eq!(topic(""), Err(NameError::Empty));
        assert_eq!(pattern(""), Err(NameError::Empty));
    }

    #[test]
    fn length_limit_is_in_bytes_and_inclusive() {
        let at_limit = "a".repeat(MAX);
        assert_eq!(topic(&at_limit), Ok(()));
        let over = "a".repeat(MAX + 1);
        assert_eq!(
            topic(&over),
            Err(NameError::TooLong {
                len: MAX + 1,
                max: MAX
            })
        );
        assert_eq!(
            pattern(&over),
            Err(NameError::TooLong {
                len: MAX + 1,
                max: MAX
            })
        );
        // 22 three-byte characters: 22 chars but 66 bytes.
        let wide = "名".repeat(22);
        assert_eq!(topic(&wide), Err(NameError::TooLong { len: 66, max: MAX }));
    }

    #[test]
    fn rejects_empty_tokens() {
        for name in [".", ".a", "a.", "a..b", "..", "a.b.", "*..>", ".*"] {
            assert_eq!(pattern(name), Err(NameError::EmptyToken), "{name}");
        }
        for name in [".", ".a", "a.", "a..b"] {
            assert_eq!(topic(name), Err(NameError::EmptyToken), "{name}");
        }
    }

    #[test]
    fn rejects_wildcards_in_topics() {
        for name in ["*", ">", "a.*", "a.>", "*.b", "a*b", "a.b>", "x.>.y"] {
            assert_eq!(topic(name), Err(NameError::WildcardInTopic), "{name}");
        }
    }

    #[test]
    fn accepts_whole_token_wildcards_in_patterns() {
        for name in ["*", ">", "a.*", "a.>", "*.b", "*.*.*", "a.*.>", "*.>"] {
            assert_eq!(pattern(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn rejects_partial_wildcards() {
        for name in ["a*.b", "a.>b", "**", ">>", "a.*b", "*>", "a.b*"] {
            assert_eq!(pattern(name), Err(NameError::PartialWildcard), "{name}");
        }
    }

    #[test]
    fn rejects_full_wildcard_before_the_end() {
        for name in [">.a", "a.>.b", ">.*", "a.>.>"] {
            assert_eq!(pattern(name), Err(NameError::MisplacedWildcard), "{name}");
        }
    }

    #[test]
    fn rejects_whitespace_and_control_characters() {
        let cases = [
            ("a b", ' '),
            ("a\tb", '\t'),
            ("a.b\n", '\n'),
            ("\r", '\r'),
            ("a\0", '\0'),
            ("a\u{7f}", '\u{7f}'),
            ("a\u{85}b", '\u{85}'),     // NEL: a C1 control and whitespace
            ("a\u{a0}b", '\u{a0}'),     // no-break space
            ("a.\u{3000}", '\u{3000}'), // ideographic space
            ("é\u{2028}", '\u{2028}'),  // line separator
        ];
        for (name, bad) in cases {
            assert_eq!(topic(name), Err(NameError::InvalidChar(bad)), "{name:?}");
            assert_eq!(pattern(name), Err(NameError::InvalidChar(bad)), "{name:?}");
        }
    }

    #[test]
    fn the_first_problem_in_reading_order_is_reported() {
        assert_eq!(topic("a..b c"), Err(NameError::EmptyToken));
        assert_eq!(topic("a b..c"), Err(NameError::InvalidChar(' ')));
        assert_eq!(pattern(">.a b"), Err(NameError::MisplacedWildcard));
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            NameError::EmptyToken.to_string(),
            "topic has an empty token (leading, trailing or double dot)"
        );
        assert_eq!(
            NameError::TooLong { len: 300, max: 256 }.to_string(),
            "topic is 300 bytes long, longer than the limit of 256 bytes"
        );
        assert_eq!(
            NameError::InvalidChar('\n').to_string(),
            "topic contains the character '\\n'; whitespace and control characters are not allowed"
        );
    }

    #[test]
    fn literal_means_no_wildcard_token() {
        assert!(is_literal("a"));
        assert!(is_literal("orders.eu.created"));
        assert!(!is_literal("*"));
        assert!(!is_literal(">"));
        assert!(!is_literal("orders.*.created"));
        assert!(!is_literal("orders.>"));
    }

    #[test]
    fn reference_matcher() {
        let cases = [
            ("a", "a", true),
            ("a", "b", false),
            ("a.b", "a", false),
            ("a", "a.b", false),
            ("*", "a", true),
            ("*", "a.b", false),
            ("a.*", "a.b", true),
            ("a.*", "a", false),
            ("*.b", "a.b", true),
            ("a.*.c", "a.x.c", true),
            ("a.*.c", "a.x.d", false),
            (">", "a", true),
            (">", "a.b.c", true),
            ("a.>", "a", false),
            ("a.>", "a.b", true),
            ("a.>", "a.b.c", true),
            ("a.>", "b.c", false),
            ("*.>", "a", false),
            ("*.>", "a.b", true),
            ("a.b", "a.b", true),
            ("ab", "a.b", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(pattern_matches(p, t), want, "{p} vs {t}");
        }
    }
}
