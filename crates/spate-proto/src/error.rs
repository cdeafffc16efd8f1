//! Errors: what can go wrong decoding bytes ([`DecodeError`]) and the stable
//! numeric codes the server puts in ERROR frames ([`ErrorCode`]).

use thiserror::Error;

/// Why a byte sequence is not a valid frame. Every variant is a protocol
/// violation by the peer; the server answers with the matching
/// [`ErrorCode`] (see [`DecodeError::code`]).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The length prefix is larger than the negotiated maximum frame size.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// Length announced by the prefix.
        len: usize,
        /// Largest length accepted.
        max: usize,
    },
    /// The length prefix is zero: a frame must at least hold its opcode.
    #[error("frame length 0: a frame holds at least its opcode")]
    EmptyFrame,
    /// The opcode byte names no frame of protocol v1.
    #[error("unknown opcode 0x{0:02x}")]
    UnknownOpcode(u8),
    /// A field ran past the end of the frame.
    #[error("{frame}: truncated while reading {field} (needed {needed} bytes, {available} left)")]
    Truncated {
        /// Frame being decoded.
        frame: &'static str,
        /// Field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the frame.
        available: usize,
    },
    /// A field holds a value that protocol v1 does not allow.
    #[error("{frame}: invalid {field}: {reason}")]
    Invalid {
        /// Frame being decoded.
        frame: &'static str,
        /// Offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Bytes are left over after the last field of a frame that has no
    /// room for extensions.
    #[error("{frame}: {extra} unexpected trailing bytes")]
    TrailingBytes {
        /// Frame being decoded.
        frame: &'static str,
        /// Number of bytes left over.
        extra: usize,
    },
}

impl DecodeError {
    /// The error code the server sends for this decode failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
            DecodeError::UnknownOpcode(_) => ErrorCode::UnknownOpcode,
            _ => ErrorCode::MalformedFrame,
        }
    }

    /// True when the byte stream can no longer be trusted: the length
    /// prefix itself was bad, so frame boundaries are lost. Other decode
    /// errors concern one frame whose boundaries are known.
    pub fn is_stream_fatal(&self) -> bool {
        matches!(
            self,
            DecodeError::FrameTooLarge { .. } | DecodeError::EmptyFrame
        )
    }
}

/// Why a frame cannot be encoded exactly: a field is longer than its
/// length prefix can say. [`crate::Frame::try_encode`] returns it;
/// [`crate::Frame::encode`] instead clamps the field and never fails.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// A field, count or the whole frame does not fit its length prefix.
    #[error("{field} is {len} long, more than the {max} its length prefix can say")]
    TooLong {
        /// Field (or `"frame"`).
        field: &'static str,
        /// Its length: bytes, or items for a count.
        len: usize,
        /// The most the prefix can say.
        max: usize,
    },
}

/// Longest ERROR message text the server sends, in bytes; longer texts are
/// cut by [`cap_text`].
pub const MAX_ERROR_TEXT: usize = 512;

/// Longest prefix of a client's string (topic, pattern, key) quoted in an
/// error text by [`quote_prefix`], in bytes.
pub const MAX_QUOTED: usize = 64;

/// `text` cut to at most `max` bytes on a char boundary; a cut text ends
/// in `…` (counted in `max`).
pub fn cap_text(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    const MORE: &str = "…";
    let keep = crate::wire::truncate_str(&text, max.saturating_sub(MORE.len())).len();
    text.truncate(keep);
    if text.len() + MORE.len() <= max {
        text.push_str(MORE);
    }
    text
}

/// `s` quoted and escaped for an error text, but at most its first
/// [`MAX_QUOTED`] bytes, followed by `…` if it was cut: an error never
/// echoes a whole client string, however long.
pub fn quote_prefix(s: &str) -> String {
    let p = crate::wire::truncate_str(s, MAX_QUOTED);
    if p.len() < s.len() {
        format!("{p:?}… ({} bytes)", s.len())
    } else {
        format!("{p:?}")
    }
}

/// Either an I/O failure or a decode failure, as the codec reports them.
#[derive(Debug, Error)]
pub enum CodecError {
    /// The underlying socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent bytes that are not a valid frame.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, $text:literal; )*) => {
        /// Stable numeric error codes carried in ERROR frames (protocol.md,
        /// "Error codes"). Codes 100-199 are fatal: the server closes the
        /// connection after sending them. Codes 200-299 reject one request
        /// and the connection stays open. 500-599 are server faults.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum ErrorCode {
            $( $(#[$doc])* $name = $value, )*
        }

        impl ErrorCode {
            /// Looks up a code received on the wire.
            pub fn from_u16(v: u16) -> Option<ErrorCode> {
                match v { $( $value => Some(ErrorCode::$name), )* _ => None }
            }

            /// Short stable name, e.g. `"INVALID_TOPIC"`.
            pub fn name(self) -> &'static str {
                match self { $( ErrorCode::$name => $text, )* }
            }

            /// Every defined code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$name, )* ];
        }
    };
}

error_codes! {
    /// A frame's fields could not be decoded.
    MalformedFrame = 100, "MALFORMED_FRAME";
    /// A frame's length exceeds the server's `max_frame`.
    FrameTooLarge = 101, "FRAME_TOO_LARGE";
    /// HELLO asked for a protocol version the server does not speak.
    UnsupportedVersion = 102, "UNSUPPORTED_VERSION";
    /// The first frame on a connection was not HELLO, or HELLO came twice.
    HelloRequired = 103, "HELLO_REQUIRED";
    /// The auth token (or client certificate) was rejected, or no longer
    /// verifies after a reload.
    AuthFailed = 104, "AUTH_FAILED";
    /// The server is at its connection limit.
    TooManyConnections = 105, "TOO_MANY_CONNECTIONS";
    /// A subscription's queue overflowed its policy (disconnect, or block
    /// past its timeout); the subscription's connection is closed.
    SlowConsumer = 106, "SLOW_CONSUMER";
    /// The peer did not answer PING in time.
    IdleTimeout = 107, "IDLE_TIMEOUT";
    /// The server is shutting down and the drain deadline passed.
    ShuttingDown = 108, "SHUTTING_DOWN";
    /// The connection's token has expired (at HELLO, or while connected).
    TokenExpired = 109, "TOKEN_EXPIRED";
    /// The source IP address is at `limits.max_connections_per_ip`.
    TooManyConnectionsFromIp = 110, "TOO_MANY_CONNECTIONS_FROM_IP";
    /// The user is at its connection limit.
    TooManyUserConnections = 111, "TOO_MANY_USER_CONNECTIONS";
    /// A plaintext client connected to the TLS port (sent in plaintext,
    /// then the connection closes).
    TlsRequired = 120, "TLS_REQUIRED";
    /// The opcode is not one this server knows. The frame is skipped.
    UnknownOpcode = 200, "UNKNOWN_OPCODE";
    /// A publish topic is not a valid topic name.
    InvalidTopic = 201, "INVALID_TOPIC";
    /// A subscription pattern is not valid.
    InvalidPattern = 202, "INVALID_PATTERN";
    /// A SUBSCRIBE option is unknown, malformed, out of range, or
    /// conflicts with another option.
    InvalidOption = 203, "INVALID_OPTION";
    /// The subscription id is already in use on this connection.
    DuplicateSubscription = 204, "DUPLICATE_SUBSCRIPTION";
    /// UNSUBSCRIBE named a subscription id not in use.
    UnknownSubscription = 205, "UNKNOWN_SUBSCRIPTION";
    /// The connection has reached `max_subscriptions`.
    TooManySubscriptions = 206, "TOO_MANY_SUBSCRIPTIONS";
    /// The server has reached its topic limit and will not create more.
    TooManyTopics = 207, "TOO_MANY_TOPICS";
    /// The request is not allowed now (e.g. a publish after GOAWAY).
    NotAllowed = 208, "NOT_ALLOWED";
    /// The topic has reached its limit of state keys.
    StateFull = 209, "STATE_FULL";
    /// A state key is empty or longer than 1024 bytes.
    InvalidKey = 210, "INVALID_KEY";
    /// The connection's user may not do this on this topic or pattern
    /// (or a subscription lost its permission on a reload).
    NotAuthorized = 211, "NOT_AUTHORIZED";
    /// The user's publish rate (`publish_per_user`) is spent; the publish
    /// was dropped.
    RateLimited = 212, "RATE_LIMITED";
    /// An unexpected server fault; the request may be retried.
    Internal = 500, "INTERNAL";
    /// The server could not make a persisted write durable (the log
    /// failed or did not reach disk in time); the write may or may not
    /// survive a restart.
    StorageFailed = 501, "STORAGE_FAILED";
    /// The shared engine (Redis) did not answer in time or is unreachable;
    /// nothing was done, the request may be retried.
    EngineUnavailable = 510, "ENGINE_UNAVAILABLE";
}

impl ErrorCode {
    /// Codes 100-199 close the connection after the ERROR frame.
    pub fn is_fatal(self) -> bool {
        (100..200).contains(&(self as u16))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), *self as u16)
    }
}
