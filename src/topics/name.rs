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

/// What [`scan`] must do with a byte, by value: most bytes are [`PLAIN`] and
/// are skipped in a tight loop; only the others stop it.
const BYTE_CLASS: [u8; 256] = {
    let mut table = [PLAIN; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = match byte as u8 {
            b'.' => DOT,
            b'*' | b'>' => WILDCARD,
            // Space, DEL and the C0 controls (which include \t \n \r etc.).
            0x00..=0x20 | 0x7f => INVALID,
            0x80.. => NON_ASCII,
            _ => PLAIN,
        };
        byte += 1;
    }
    table
};
/// A printable ASCII byte with no meaning in a name.
const PLAIN: u8 = 0;
/// The token separator.
const DOT: u8 = 1;
/// `*` or `>`.
const WILDCARD: u8 = 2;
/// An ASCII whitespace or control byte.
const INVALID: u8 = 3;
/// The first byte of a multi-byte character, which must be decoded.
const NON_ASCII: u8 = 4;

/// The one pass behind both validators.
///
/// Walks the bytes once, tracking where the current token started and
/// whether it contains a wildcard character; each token is judged when its
/// closing dot (or the end) is reached. Plain ASCII bytes are skipped with
/// one table look-up each; only a non-ASCII byte decodes its character.
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
    loop {
        while i < bytes.len() && BYTE_CLASS[usize::from(bytes[i])] == PLAIN {
            i += 1;
        }
        let Some(&byte) = bytes.get(i) else {
            break;
        };
        match BYTE_CLASS[usize::from(byte)] {
            DOT => {
                check_token(&bytes[token_start..i], token_wildcard, false)?;
                token_start = i + 1;
                token_wildcard = false;
                i += 1;
            }
            WILDCARD => {
                if !allow_wildcards {
                    return Err(NameError::WildcardInTopic);
                }
                token_wildcard = true;
                i += 1;
            }
            INVALID => return Err(NameError::InvalidChar(char::from(byte))),
            _ => {
                // `i` is always on a character boundary: we only ever step
                // over whole ASCII bytes or whole characters.
                let c = name[i..]
                    .chars()
                    .next()
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
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
mod tests;
