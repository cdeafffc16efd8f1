"""Where each subscription stands in its topic's history, so that after a
reconnect it asks for exactly what it has not yet delivered (protocol.md
§18.5; the same rules as the Rust client's ``resume.rs``).

A literal subscription tracks ``(epoch, next_seq)``: every seq below
``next_seq`` was delivered or reported lost by a GAP. On resume it asks for
``FROM_SEQ(next_seq, epoch)`` and drops any message below ``next_seq`` as a
safety net against duplicates. A wildcard subscription can only resume
live, with a notice. Snapshot messages come in key order, not seq order, so
they are neither deduplicated nor used as a position; the first live change
ends the snapshot phase.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

from .types import (
    EpochChanged,
    Event,
    Gap,
    GapReason,
    Message,
    Policy,
    Resumed,
    ResumedLive,
    SnapshotRestarted,
    StartStatus,
    Subscribed,
    Truncated,
)

#: A start request: ("new", 0, 0), ("from", seq, epoch), ("last", n, 0) or ("snapshot", 0, 0).
Start = Tuple[str, int, int]
START_NEW: Start = ("new", 0, 0)


def is_wildcard(pattern: str) -> bool:
    """True if ``pattern`` holds a wildcard token (``*`` or ``>``)."""
    return any(t == "*" or t == ">" for t in pattern.split("."))


class Tracker:
    """One subscription's position in its topic."""

    def __init__(self, sub_id: int, pattern: str, start: Start) -> None:
        self.sub_id = sub_id
        self.pattern = pattern
        self.literal = not is_wildcard(pattern)
        self.initial = start
        self.established = False
        self.epoch = 0
        self.next_seq = 0
        self.conflate = False
        self.snapshot_until: Optional[int] = None

    def start(self) -> Start:
        """Where the next SUBSCRIBE of this subscription starts."""
        if not self.established:
            return self.initial
        if not self.literal:
            return START_NEW
        if self.snapshot_until is not None:
            return ("snapshot", 0, 0)
        return ("from", self.next_seq, self.epoch)

    def on_subscribed(self, s: Subscribed, requested: Start) -> List[Event]:
        """Takes in SUBSCRIBED; returns the events to deliver before any message."""
        resuming = self.established
        old_epoch = requested[2] if requested[0] == "from" else self.epoch
        self.established = True
        # With conflate (and a rate limit) the server delivers keys in turn,
        # so a lower seq after a higher one is another key's latest value,
        # not a duplicate (protocol.md §10.4).
        self.conflate = s.policy == Policy.CONFLATE
        self.epoch = s.epoch
        self.snapshot_until = None
        backlog_start = s.first_seq if s.first_seq > 0 else s.last_seq + 1
        out: List[Event] = []
        if s.start == StartStatus.SNAPSHOT:
            self.snapshot_until = s.last_seq
            self.next_seq = s.last_seq + 1
            if resuming:
                out.append(SnapshotRestarted())
        elif s.start == StartStatus.REPLAY:
            self.next_seq = backlog_start
            if resuming:
                out.append(Resumed(backlog_start, s.epoch))
        elif s.start == StartStatus.TRUNCATED:
            self.next_seq = backlog_start
            requested_seq = requested[1] if requested[0] == "from" else backlog_start
            out.append(Truncated(requested_seq, backlog_start))
        elif s.start == StartStatus.EPOCH_CHANGED:
            self.next_seq = backlog_start
            out.append(EpochChanged(old_epoch, s.epoch))
        else:
            self.next_seq = s.last_seq + 1
            if resuming:
                out.extend(self._live_resume(s, requested, old_epoch))
        return out

    def _live_resume(self, s: Subscribed, requested: Start, old_epoch: int) -> List[Event]:
        """The server resumed live although history was asked for: what was missed."""
        if not self.literal or requested[0] != "from":
            return [ResumedLive()]
        seq = requested[1]
        if old_epoch != 0 and old_epoch != s.epoch:
            return [EpochChanged(old_epoch, s.epoch)]
        if s.last_seq < seq:
            return [Resumed(seq, s.epoch)]
        return [
            Truncated(seq, s.last_seq + 1),
            Gap(self.pattern, GapReason.NOT_RETAINED, s.last_seq - seq + 1, seq, s.last_seq, self.sub_id),
        ]

    def admit(self, m: Message) -> bool:
        """False if ``m`` duplicates something already delivered; advances the position."""
        if not self.literal:
            return True
        until = self.snapshot_until
        if until is not None:
            if m.seq <= until:
                return True
            self.snapshot_until = None
        if m.epoch != self.epoch:
            self.epoch = m.epoch
        elif m.seq < self.next_seq:
            return self.conflate
        self.next_seq = m.seq + 1
        return True

    def on_gap(self, g: Gap) -> None:
        """Advances past messages a GAP reports lost, so a resume does not ask for them."""
        if self.literal and self.snapshot_until is None and g.topic and g.last_seq >= self.next_seq:
            self.next_seq = g.last_seq + 1
