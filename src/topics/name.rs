//! TEMPORARY stand-in (branch `topics` replaces it).

/// Name error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Bad.
    #[error("invalid name")]
    Invalid,
}

/// Validates a topic.
pub fn validate_topic(name: &str, max_len: usize) -> Result<(), NameError> {
    if name.is_empty() || name.len() > max_len || name.split('.').any(|t| t.is_empty() || t == "*" || t == ">") {
        return Err(NameError::Invalid);
    }
    Ok(())
}

/// Validates a pattern.
pub fn validate_pattern(p: &str, max_len: usize) -> Result<(), NameError> {
    if p.is_empty() || p.len() > max_len || p.split('.').any(|t| t.is_empty()) {
        return Err(NameError::Invalid);
    }
    Ok(())
}

/// No wildcards.
pub fn is_literal(p: &str) -> bool {
    !p.split('.').any(|t| t == "*" || t == ">")
}

/// Reference matcher.
pub fn pattern_matches(p: &str, t: &str) -> bool {
    let pt: Vec<&str> = p.split('.').collect();
    let tt: Vec<&str> = t.split('.').collect();
    for (i, x) in pt.iter().enumerate() {
        if *x == ">" {
            return tt.len() > i;
        }
        if i >= tt.len() || (*x != "*" && *x != tt[i]) {
            return false;
        }
    }
    pt.len() == tt.len()
}
