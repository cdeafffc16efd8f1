//! Errors a broker operation returns; each maps to the wire error code the
//! client receives.

use spate_proto::{quote_prefix, ErrorCode};
use thiserror::Error;

use crate::queue::limits::LimitError;
use crate::topics::NameError;

/// Why the broker refused a request.
#[derive(Debug, Error)]
pub enum BrokerError {
    /// Publish to an invalid topic name. The text quotes at most a short
    /// prefix of the name: a client's string is never echoed whole.
    #[error("invalid topic {}: {source}", quote_prefix(.topic))]
    InvalidTopic {
        /// The name given.
        topic: String,
        /// What is wrong with it.
        source: NameError,
    },
    /// Subscribe to an invalid pattern (quoted as a short prefix, as for
    /// topics).
    #[error("invalid pattern {}: {source}", quote_prefix(.pattern))]
    InvalidPattern {
        /// The pattern given.
        pattern: String,
        /// What is wrong with it.
        source: NameError,
    },
    /// A SUBSCRIBE option is unusable.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// Subscription id already used on this connection.
    #[error("subscription id {0} is already in use on this connection")]
    DuplicateSubscription(u32),
    /// Subscription id not in use.
    #[error("no subscription with id {0} on this connection")]
    UnknownSubscription(u32),
    /// Per-connection subscription limit.
    #[error("connection already holds the maximum of {0} subscriptions")]
    TooManySubscriptions(u32),
    /// Server-wide topic limit.
    #[error("server already tracks the maximum of {0} topics")]
    TooManyTopics(u64),
    /// Per-topic state key limit.
    #[error("topic already holds the maximum of {0} state keys")]
    StateFull(u32),
    /// A state key is empty or too long.
    #[error("state keys must be 1 to 1024 bytes")]
    InvalidKey,
    /// Another error, passed on with its code (one error shared by every
    /// message of a batch).
    #[error("{1}")]
    Refused(ErrorCode, String),
    /// Not allowed now (shutting down).
    #[error("{0}")]
    NotAllowed(&'static str),
}

impl From<LimitError> for BrokerError {
    fn from(e: LimitError) -> Self {
        BrokerError::InvalidOption(e.to_string())
    }
}

impl BrokerError {
    /// The wire error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            BrokerError::InvalidTopic { .. } => ErrorCode::InvalidTopic,
            BrokerError::InvalidPattern { .. } => ErrorCode::InvalidPattern,
            BrokerError::InvalidOption(_) => ErrorCode::InvalidOption,
            BrokerError::DuplicateSubscription(_) => ErrorCode::DuplicateSubscription,
            BrokerError::UnknownSubscription(_) => ErrorCode::UnknownSubscription,
            BrokerError::TooManySubscriptions(_) => ErrorCode::TooManySubscriptions,
            BrokerError::TooManyTopics(_) => ErrorCode::TooManyTopics,
            BrokerError::StateFull(_) => ErrorCode::StateFull,
            BrokerError::InvalidKey => ErrorCode::InvalidKey,
            BrokerError::NotAllowed(_) => ErrorCode::NotAllowed,
            BrokerError::Refused(code, _) => *code,
        }
    }
}
