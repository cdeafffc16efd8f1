"""Public value types: what a subscription yields and what requests return.

All u64 protocol values (seq, epoch, revision, timestamps) are plain Python
ints and never pass through a float.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, Optional, Tuple, Union


class Policy(enum.IntEnum):
    """Backpressure policy of a subscription's server-side queue (protocol.md §10.2)."""

    BLOCK = 1
    DROP_OLDEST = 2
    DROP_NEWEST = 3
    CONFLATE = 4
    DISCONNECT = 5


class StartStatus(enum.IntEnum):
    """Where a subscription started (SUBSCRIBED ``start``, §8.3)."""

    LIVE = 0
    REPLAY = 1
    TRUNCATED = 2
    EPOCH_CHANGED = 3
    SNAPSHOT = 4


class GapReason(enum.IntEnum):
    """Why messages were lost (GAP ``reason``, §9.4)."""

    DROPPED_OLDEST = 1
    DROPPED_NEWEST = 2
    CONFLATED = 3
    MEMORY_BUDGET = 4
    NOT_RETAINED = 5


@dataclass
class Message:
    """One delivered message (§9.1).

    ``flags`` is the raw flag byte; :attr:`is_state_put` and
    :attr:`is_state_delete` tell state changes (§12) apart. (Not frozen:
    a frozen dataclass's ``__init__`` is a large share of the per-message cost.)
    """

    topic: str
    payload: bytes
    seq: int
    epoch: int
    timestamp_us: int
    key: Optional[str] = None
    headers: Tuple[Tuple[str, str], ...] = ()
    flags: int = 0

    @property
    def is_state_put(self) -> bool:
        """True if this message records a state PUT of ``key``."""
        return bool(self.flags & 0x04)

    @property
    def is_state_delete(self) -> bool:
        """True if this message records a state DELETE of ``key``."""
        return bool(self.flags & 0x08)


@dataclass(frozen=True)
class Gap:
    """``count`` messages of the subscription were lost, exactly (§9.4).

    Sent by the server, or made by the client when a resume after a
    reconnect could not recover messages. ``topic`` is empty (and the seqs
    0) when the loss spans several topics of a wildcard subscription.
    """

    topic: str
    reason: GapReason
    count: int
    first_seq: int
    last_seq: int
    sub_id: int = 0


class Notice:
    """Something happened to a subscription; its stream continues.

    Each kind is a frozen dataclass below; ``kind`` is a stable lowercase
    name for logs.
    """

    kind: ClassVar[str] = "notice"


@dataclass(frozen=True)
class Disconnected(Notice):
    """The connection was lost and the client is reconnecting (best effort:
    skipped if the subscription's buffer is full at that moment)."""

    kind: ClassVar[str] = "disconnected"
    reason: str


@dataclass(frozen=True)
class ServerGoingAway(Notice):
    """The server sent GOAWAY; the client reconnects once it closes."""

    kind: ClassVar[str] = "server_going_away"
    reason: str


@dataclass(frozen=True)
class Resumed(Notice):
    """Re-subscribed after a reconnect from ``from_seq``: nothing was lost,
    nothing is delivered twice."""

    kind: ClassVar[str] = "resumed"
    from_seq: int
    epoch: int


@dataclass(frozen=True)
class Truncated(Notice):
    """History from ``requested_seq`` is no longer retained; delivery
    continues at ``first_seq``. A :class:`Gap` (NOT_RETAINED) with the
    exact count accompanies it."""

    kind: ClassVar[str] = "truncated"
    requested_seq: int
    first_seq: int


@dataclass(frozen=True)
class EpochChanged(Notice):
    """The topic's history restarted (e.g. the broker restarted): messages
    after the last one delivered from ``old_epoch`` are unknown and cannot
    be counted; delivery continues with ``new_epoch``'s retained history."""

    kind: ClassVar[str] = "epoch_changed"
    old_epoch: int
    new_epoch: int


@dataclass(frozen=True)
class ResumedLive(Notice):
    """A wildcard subscription was re-established after a reconnect; it can
    only resume live, so messages published meanwhile were missed (uncounted)."""

    kind: ClassVar[str] = "resumed_live"


@dataclass(frozen=True)
class SnapshotRestarted(Notice):
    """A snapshot subscription was interrupted before its first live change;
    the snapshot is delivered again from the start."""

    kind: ClassVar[str] = "snapshot_restarted"


#: One item of a subscription's stream.
Event = Union[Message, Gap, Notice]


@dataclass(frozen=True)
class Welcome:
    """WELCOME (§5.1): the server's limits for this connection."""

    version: int
    server: str
    server_id: int
    max_frame: int
    max_subscriptions: int
    max_topic_len: int
    ping_interval_ms: int


@dataclass(frozen=True)
class PubAck:
    """PUB_ACK (§7.3): the message got ``seq`` in ``epoch`` and was queued
    for ``receivers`` subscriptions."""

    request_id: int
    epoch: int
    seq: int
    timestamp_us: int
    receivers: int


@dataclass(frozen=True)
class Subscribed:
    """SUBSCRIBED (§8.3): what the server granted and where the subscription starts."""

    sub_id: int
    policy: Policy
    queue_msgs: int
    queue_bytes: int
    start: StartStatus
    epoch: int
    first_seq: int
    last_seq: int


@dataclass(frozen=True)
class StateValue:
    """A state key's current value and revision (§12)."""

    revision: int
    value: bytes


@dataclass(frozen=True)
class StateEntry:
    """One key of a STATE_LIST page."""

    key: str
    revision: int
    value: bytes


@dataclass(frozen=True)
class StateListPage:
    """One page of STATE_LIST; ``more`` is True if keys follow the last entry."""

    entries: Tuple[StateEntry, ...]
    more: bool


@dataclass(frozen=True)
class ErrorInfo:
    """An ERROR frame (§13.1).

    ``ref_kind`` says what ``reference`` names: 0 the connection, 1 a
    request id, 2 a subscription id; ``None`` from a server that does not
    send the field.
    """

    code: int
    reference: int
    message: str
    ref_kind: Optional[int] = None
