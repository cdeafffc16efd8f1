"""Exceptions raised by the client. All derive from :class:`SpateError`."""

from __future__ import annotations

from typing import Dict, Optional

#: Error names by code (protocol.md §13.2).
ERROR_NAMES: Dict[int, str] = {
    100: "MALFORMED_FRAME",
    101: "FRAME_TOO_LARGE",
    102: "UNSUPPORTED_VERSION",
    103: "HELLO_REQUIRED",
    104: "AUTH_FAILED",
    105: "TOO_MANY_CONNECTIONS",
    106: "SLOW_CONSUMER",
    107: "IDLE_TIMEOUT",
    108: "SHUTTING_DOWN",
    109: "TOKEN_EXPIRED",
    110: "TOO_MANY_CONNECTIONS_FROM_IP",
    111: "TOO_MANY_USER_CONNECTIONS",
    120: "TLS_REQUIRED",
    200: "UNKNOWN_OPCODE",
    201: "INVALID_TOPIC",
    202: "INVALID_PATTERN",
    203: "INVALID_OPTION",
    204: "DUPLICATE_SUBSCRIPTION",
    205: "UNKNOWN_SUBSCRIPTION",
    206: "TOO_MANY_SUBSCRIPTIONS",
    207: "TOO_MANY_TOPICS",
    208: "NOT_ALLOWED",
    209: "STATE_FULL",
    210: "INVALID_KEY",
    211: "NOT_AUTHORIZED",
    212: "RATE_LIMITED",
    500: "INTERNAL",
    501: "STORAGE_FAILED",
    510: "ENGINE_UNAVAILABLE",
}


class SpateError(Exception):
    """Base class of every error of this package."""


class ProtocolError(SpateError):
    """Bytes that do not decode as protocol v1 (a malformed frame)."""


class ConnectionLostError(SpateError):
    """The connection closed before the request was answered (it may or may
    not have been processed), or the client is closed / gave up reconnecting."""


class SpateTimeoutError(SpateError, TimeoutError):
    """The server did not answer within the request's timeout."""


class ServerError(SpateError):
    """The server answered with ERROR (§13). ``code`` is stable, ``message`` is not."""

    def __init__(self, code: int, reference: int, message: str) -> None:
        self.code = code
        self.reference = reference
        self.message = message
        self.name = ERROR_NAMES.get(code, f"UNKNOWN_{code}")
        super().__init__(f"{self.name} ({code}): {message}")

    @property
    def fatal(self) -> bool:
        """True for 1xx codes: the server closes the connection."""
        return 100 <= self.code < 200


class StateConflict(SpateError):
    """A conditional state write failed: the key is at ``revision`` (0 if
    absent) with ``value`` (None if absent). Merge and retry with it."""

    def __init__(self, topic: str, key: str, revision: int, value: Optional[bytes]) -> None:
        self.topic = topic
        self.key = key
        self.revision = revision
        self.value = value
        super().__init__(f"state conflict on {topic}/{key}: current revision {revision}")


class StateNotFound(SpateError):
    """The state key does not exist (GET, or DELETE of nothing); ``revision`` is 0."""

    def __init__(self, topic: str, key: str) -> None:
        self.topic = topic
        self.key = key
        self.revision = 0
        super().__init__(f"state key not found: {topic}/{key}")
