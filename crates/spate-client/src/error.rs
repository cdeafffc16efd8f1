//! The client's typed errors: [`Error`] for anything a request can run
//! into (connection, protocol, server refusals) and [`StateError`] for the
//! state operations, whose expected outcomes (a failed compare-and-set, a
//! missing key) are worth matching on without parsing text.
//!
//! Both are `Clone` (I/O errors are shared through an `Arc`), because one
//! cause, such as a lost connection, is reported to every request that was
//! waiting on it.

use std::sync::Arc;

use bytes::Bytes;
use spate_proto::ErrorCode;
use thiserror::Error;

/// An ERROR frame the server sent about one of this client's requests (or
/// about the connection).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}: {message}", code_text(*.code, *.raw_code))]
pub struct ServerError {
    /// The code, if this client knows it (`None` for codes newer than the
    /// client; `raw_code` still holds the number).
    pub code: Option<ErrorCode>,
    /// The code as sent on the wire.
    pub raw_code: u16,
    /// The server's human-readable explanation.
    pub message: String,
}

impl ServerError {
    /// Builds one from an ERROR frame's fields.
    pub fn new(raw_code: u16, message: impl Into<String>) -> ServerError {
        ServerError {
            code: ErrorCode::from_u16(raw_code),
            raw_code,
            message: message.into(),
        }
    }

    /// Codes 100-199: the server closes the connection after sending it.
    pub fn is_fatal(&self) -> bool {
        (100..200).contains(&self.raw_code)
    }
}

fn code_text(code: Option<ErrorCode>, raw: u16) -> String {
    match code {
        Some(c) => c.to_string(),
        None => format!("error {raw}"),
    }
}

/// Everything a client request can fail with.
#[derive(Debug, Clone, Error)]
pub enum Error {
    /// The TCP connection could not be opened. The cause is part of the
    /// message (not a separate `source()`), so error chains print it once.
    #[error("cannot connect to {addr}: {cause}")]
    Connect {
        /// Address dialled.
        addr: String,
        /// Why it failed.
        cause: Arc<std::io::Error>,
    },
    /// Reading or writing the socket failed.
    #[error("connection i/o failed: {0}")]
    Io(Arc<std::io::Error>),
    /// The server sent something this client cannot make sense of.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server refused a request (or the connection) with an ERROR frame.
    /// The server's error is part of the message (not a separate
    /// `source()`), so error chains print it once.
    #[error("server error {0}")]
    Server(ServerError),
    /// The connection was lost; requests in flight have unknown outcomes.
    #[error("connection lost: {0}")]
    Disconnected(String),
    /// The client is between connections (reconnecting): the request was
    /// not sent. Nothing is queued while disconnected.
    #[error("not connected to the server (reconnecting)")]
    NotConnected,
    /// The server announced it is shutting down (GOAWAY); new requests are
    /// refused until the client has reconnected.
    #[error("the server is going away: {0}")]
    GoingAway(String),
    /// The client was closed, or gave up reconnecting.
    #[error("client closed")]
    Closed,
    /// A frame would exceed the largest frame the server accepts.
    #[error("frame of {size} bytes exceeds the server's limit of {max} bytes")]
    TooLarge {
        /// Bytes the frame would take.
        size: usize,
        /// The server's `max_frame`.
        max: usize,
    },
    /// The server did not answer in time.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// A field of the request is longer than the wire format can carry
    /// (e.g. a topic over 65,535 bytes); nothing was sent.
    #[error("cannot encode the request: {0}")]
    Unencodable(spate_proto::EncodeError),
    /// TLS could not be set up: the CA, certificate or key files, or the
    /// handshake (an unknown CA, a name mismatch, a plaintext port).
    #[error("TLS: {0}")]
    Tls(String),
}

impl From<ServerError> for Error {
    fn from(e: ServerError) -> Error {
        Error::Server(e)
    }
}

impl Error {
    /// The server's error code, when this is a server error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Server(e) => e.code,
            _ => None,
        }
    }

    /// True when reconnecting cannot help: the server rejects this client
    /// itself (protocol version, authentication, malformed frames) rather
    /// than the connection having failed.
    pub fn is_permanent(&self) -> bool {
        match self {
            Error::Protocol(_) | Error::Closed => true,
            Error::Server(e) => matches!(
                e.code,
                Some(
                    ErrorCode::MalformedFrame
                        | ErrorCode::FrameTooLarge
                        | ErrorCode::UnsupportedVersion
                        | ErrorCode::HelloRequired
                        | ErrorCode::AuthFailed
                )
            ),
            _ => false,
        }
    }

    pub(crate) fn io(e: std::io::Error) -> Error {
        Error::Io(Arc::new(e))
    }
}

/// Outcome of a state write or delete that did not succeed.
#[derive(Debug, Clone, Error)]
pub enum StateError {
    /// The condition failed. The key's current revision and value are
    /// returned so the caller can merge and retry (revision 0 and no value
    /// when the key does not exist).
    #[error("revision conflict: the key is at revision {revision}")]
    Conflict {
        /// The key's current revision (0 if absent).
        revision: u64,
        /// The key's current value, if it exists.
        value: Option<Bytes>,
    },
    /// An unconditional delete of a key that does not exist.
    #[error("key not found")]
    NotFound,
    /// The request itself failed.
    #[error(transparent)]
    Client(#[from] Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_error_text_names_the_code() {
        let e = Error::Server(ServerError::new(201, "topic 'a..b' has an empty token"));
        assert_eq!(
            e.to_string(),
            "server error INVALID_TOPIC (201): topic 'a..b' has an empty token"
        );
        assert_eq!(e.code(), Some(ErrorCode::InvalidTopic));
        // The cause is in the message, not repeated as a source.
        assert!(std::error::Error::source(&e).is_none());
        let unknown = ServerError::new(299, "new");
        assert_eq!(unknown.to_string(), "error 299: new");
    }

    #[test]
    fn fatal_and_permanent_codes() {
        assert!(ServerError::new(106, "").is_fatal());
        assert!(!ServerError::new(201, "").is_fatal());
        assert!(Error::Server(ServerError::new(102, "")).is_permanent());
        assert!(!Error::Server(ServerError::new(106, "")).is_permanent());
        assert!(!Error::Disconnected("eof".into()).is_permanent());
    }
}
