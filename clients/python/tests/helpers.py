"""Test helpers: collecting events with deadlines."""

from __future__ import annotations

import time
from typing import List, Tuple

import spate


async def collect(
    sub: spate.Subscription, messages: int, timeout: float = 10.0
) -> Tuple[List[spate.Message], List[object]]:
    """Reads events until ``messages`` messages arrived; returns (messages, other events)."""
    deadline = time.monotonic() + timeout
    msgs: List[spate.Message] = []
    other: List[object] = []
    while len(msgs) < messages:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"got {len(msgs)} of {messages} messages in {timeout} s; other events: {other}")
        ev = await sub.next(left)
        if isinstance(ev, spate.Message):
            msgs.append(ev)
        else:
            other.append(ev)
    return msgs, other


async def next_of(sub: spate.Subscription, kind: type, timeout: float = 10.0) -> Tuple[object, List[object]]:
    """Reads until an event of ``kind``; returns it and the events before it."""
    deadline = time.monotonic() + timeout
    before: List[object] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind.__name__} within {timeout} s; saw {before}")
        ev = await sub.next(left)
        if isinstance(ev, kind):
            return ev, before
        before.append(ev)
