"""spate: asyncio client for the spate pub/sub broker (protocol v1).

Quick start::

    import spate

    async with await spate.connect("127.0.0.1:7411") as c:
        sub = await c.subscribe("orders.>")
        await c.publish("orders.eu", b"hello")
        async for ev in sub:
            if isinstance(ev, spate.Message):
                print(ev.topic, ev.seq, ev.payload)
            else:  # a Gap or a Notice: loss is never silent
                print("lost or notice:", ev)

Standard library only; ``spate.connect_sync`` is a small blocking facade.
"""

from __future__ import annotations

from .client import Client, Publication, Reconnect, Subscription, connect
from .errors import (
    ConnectionLostError,
    ProtocolError,
    ServerError,
    SpateError,
    SpateTimeoutError,
    StateConflict,
    StateNotFound,
)
from .sync import SyncClient, SyncSubscription, connect_sync
from .types import (
    Disconnected,
    EpochChanged,
    Event,
    Gap,
    GapReason,
    Message,
    Notice,
    Policy,
    PubAck,
    Resumed,
    ResumedLive,
    ServerGoingAway,
    SnapshotRestarted,
    StartStatus,
    StateEntry,
    StateListPage,
    StateValue,
    Subscribed,
    Truncated,
    Welcome,
)

__version__ = "0.1.0"

__all__ = [
    "Client",
    "ConnectionLostError",
    "Disconnected",
    "EpochChanged",
    "Event",
    "Gap",
    "GapReason",
    "Message",
    "Notice",
    "Policy",
    "ProtocolError",
    "PubAck",
    "Publication",
    "Reconnect",
    "Resumed",
    "ResumedLive",
    "ServerError",
    "ServerGoingAway",
    "SnapshotRestarted",
    "SpateError",
    "SpateTimeoutError",
    "StartStatus",
    "StateConflict",
    "StateEntry",
    "StateListPage",
    "StateNotFound",
    "StateValue",
    "Subscribed",
    "Subscription",
    "SyncClient",
    "SyncSubscription",
    "Truncated",
    "Welcome",
    "connect",
    "connect_sync",
]
