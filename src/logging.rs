//! Log setup with tracing-subscriber: human-readable text on a terminal
//! (coloured; without timestamps under systemd, whose journal adds its
//! own), or one JSON object per line for log shippers. The level is a
//! tracing filter from the config (`--log-level`, `SPATE_LOG_LEVEL`,
//! `RUST_LOG`, `[log] level`). Logs go to standard error.
//!
//! [`rate_limit`] keeps a flood of bad clients from flooding the log: the
//! server logs per-connection events through [`log_limited!`](crate::log_limited).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub mod rate_limit;

pub use rate_limit::{RateLimitedLog, LIMITER};

/// Level names `log.level` accepts on its own (anything with `=` or `,` is
/// taken as a full tracing filter).
pub const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The level is neither a level name nor a valid tracing filter.
    #[error("invalid log level {level:?}: {reason}")]
    BadFilter {
        /// What was given.
        level: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The format is neither `text` nor `json`.
    #[error("unknown log format {0:?}: expected \"text\" or \"json\"")]
    BadFormat(String),
    /// A global subscriber was already installed (e.g. by a test harness).
    #[error("a log subscriber is already installed: {0}")]
    AlreadySet(String),
}

/// Parses a log level or tracing filter. A bare word must be a level name:
/// tracing would otherwise read `loud` as "everything from target loud".
pub fn parse_filter(level: &str) -> Result<EnvFilter, LoggingError> {
    let bad = |reason: String| LoggingError::BadFilter {
        level: level.to_owned(),
        reason,
    };
    let trimmed = level.trim();
    let is_filter = trimmed.contains(['=', ',', '[']);
    if !is_filter && !LEVELS.contains(&trimmed.to_ascii_lowercase().as_str()) {
        return Err(bad(
            "expected off, error, warn, info, debug, trace or a filter such as \"spate=debug,info\"".into(),
        ));
    }
    EnvFilter::builder()
        .parse(trimmed)
        .map_err(|e| bad(e.to_string()))
}

/// Installs the global subscriber. `format` is `text` or `json`.
pub fn init(level: &str, format: &str) -> Result<(), LoggingError> {
    let filter = parse_filter(level)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        "json" => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        "text" if std::env::var_os("JOURNAL_STREAM").is_some() => {
            builder.with_ansi(false).without_time().try_init()
        }
        "text" => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        other => return Err(LoggingError::BadFormat(other.to_owned())),
    };
    result.map_err(|e| LoggingError::AlreadySet(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_filters_parse() {
        for ok in [
            "info",
            "WARN",
            "off",
            "spate=debug,info",
            "spate::server=trace",
        ] {
            assert!(parse_filter(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn bare_unknown_words_are_rejected() {
        let e = parse_filter("loud").unwrap_err();
        assert!(e.to_string().contains("invalid log level \"loud\""), "{e}");
        assert!(parse_filter("spate=notalevel").is_err());
    }

    #[test]
    fn unknown_format_is_rejected_before_installing() {
        assert!(matches!(
            init("info", "xml"),
            Err(LoggingError::BadFormat(_))
        ));
    }
}
