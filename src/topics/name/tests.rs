//! Tests for the name rules: one case list per rule with the exact error,
//! the reference matcher, and a property test of the one-pass validator
//! against a plain token-by-token restatement of the rules.

use proptest::prelude::*;

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

/// The rules restated token by token with `split` and `chars`, reporting
/// the first problem in reading order, as the validators promise.
fn reference_validate(name: &str, max_len: usize, allow_wildcards: bool) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > max_len {
        return Err(NameError::TooLong {
            len: name.len(),
            max: max_len,
        });
    }
    let tokens: Vec<&str> = name.split('.').collect();
    for (index, token) in tokens.iter().enumerate() {
        for c in token.chars() {
            if c.is_whitespace() || c.is_control() {
                return Err(NameError::InvalidChar(c));
            }
            if (c == '*' || c == '>') && !allow_wildcards {
                return Err(NameError::WildcardInTopic);
            }
        }
        if token.is_empty() {
            return Err(NameError::EmptyToken);
        }
        if token.contains(['*', '>']) && token.len() != 1 {
            return Err(NameError::PartialWildcard);
        }
        if *token == ">" && index + 1 != tokens.len() {
            return Err(NameError::MisplacedWildcard);
        }
    }
    Ok(())
}

/// Names of 0..=12 pieces from an alphabet that hits every rule.
fn name_strategy() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => Just("a"),
        2 => Just("bc"),
        3 => Just("."),
        2 => Just("*"),
        2 => Just(">"),
        1 => Just(" "),
        1 => Just("\t"),
        1 => Just("é"),
        1 => Just("\u{a0}"),
        1 => Just("\u{85}"),
        1 => Just("名"),
    ];
    prop::collection::vec(piece, 0..=12).prop_map(|pieces| pieces.concat())
}

proptest! {
    /// The one-pass validators give exactly the reference's verdict.
    #[test]
    fn validators_agree_with_the_rules(name in name_strategy()) {
        prop_assert_eq!(validate_topic(&name, 16), reference_validate(&name, 16, false));
        prop_assert_eq!(validate_pattern(&name, 16), reference_validate(&name, 16, true));
    }

    /// Arbitrary strings never panic the validators.
    #[test]
    fn arbitrary_strings_never_panic(name in any::<String>()) {
        let _ = validate_topic(&name, 64);
        let _ = validate_pattern(&name, 64);
    }

    /// Every valid pattern matches itself read as a topic when it is literal,
    /// and `is_literal` agrees with `validate_topic`.
    #[test]
    fn literal_patterns_are_topics(name in name_strategy()) {
        if validate_pattern(&name, 64).is_ok() {
            prop_assert_eq!(is_literal(&name), validate_topic(&name, 64).is_ok());
            if is_literal(&name) {
                prop_assert!(pattern_matches(&name, &name));
            }
        }
    }
}
