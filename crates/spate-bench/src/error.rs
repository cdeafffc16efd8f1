//! [`BenchError`]: what can stop a benchmark run. Each variant names the
//! stage that failed so a table full of numbers is never built from a run
//! that silently broke half-way.

use std::net::SocketAddr;

use thiserror::Error;

/// Why a benchmark run (or the forwarder) failed.
#[derive(Debug, Error)]
pub enum BenchError {
    /// The broker could not be reached.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Address tried.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// A socket failed after the connection was up.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The broker sent bytes the adapter cannot parse.
    #[error("protocol error from the broker: {0}")]
    Protocol(String),
    /// The broker refused a request (an ERROR frame, `-ERR`, a RESP error).
    #[error("the broker refused: {0}")]
    Refused(String),
    /// The broker closed a connection before it was ready.
    #[error("the broker closed the connection during {0}")]
    Closed(&'static str),
    /// A setup step (handshake, subscribe confirmations) took too long.
    #[error("timed out during {0}")]
    Timeout(&'static str),
    /// The requested run does not make sense (e.g. payload too small, a
    /// scenario the target cannot do).
    #[error("invalid benchmark: {0}")]
    Invalid(String),
}
