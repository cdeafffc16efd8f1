"""Flow control: a slow application pauses reading (bounded client buffer),
the server's policy decides the loss, and the client's own PINGs keep the
paused connection alive past the server's idle timeout."""

from __future__ import annotations

import asyncio

from helpers import collect

import spate
from spate import Disconnected, Gap, Message, Policy

FAST_IDLE = """
[timeouts]
ping_interval_ms = 300
ping_timeout_ms = 1000
"""


async def drain(sub: spate.Subscription, expected: int) -> tuple:
    delivered = lost = 0
    others = []
    while delivered + lost < expected:
        ev = await sub.next(10)
        if isinstance(ev, Message):
            delivered += 1
        elif isinstance(ev, Gap):
            lost += ev.count
        else:
            others.append(ev)
    return delivered, lost, others


async def test_paused_subscriber_stays_connected(make_broker) -> None:
    b = make_broker(config=FAST_IDLE)
    async with await spate.connect(b.address) as pub, await spate.connect(b.address, keepalive=0.2) as c:
        sub = await c.subscribe("slow", policy=Policy.DROP_OLDEST, queue_msgs=20, buffer=4)
        quiet = await c.subscribe("quiet")
        await pub.publish_batch_ack([("slow", b"%d" % i) for i in range(200)])
        # Stay silent (not consuming) for well over the server's 1 s idle timeout.
        await asyncio.sleep(3.0)
        assert sub.pending() <= 4, "the client buffer is bounded"
        delivered, lost, others = await drain(sub, 200)
        assert others == [], f"the connection must not have dropped: {others}"
        assert lost > 0 and delivered + lost == 200
        assert c.reconnects == 0 and c.is_connected
        await pub.publish_ack("quiet", b"still here")
        msgs, other = await collect(quiet, 1)
        assert other == [] and msgs[0].payload == b"still here"


async def test_block_policy_is_lossless_with_a_slow_reader(broker) -> None:
    async with await spate.connect(broker.address) as pub, await spate.connect(broker.address) as c:
        sub = await c.subscribe("blk", policy=Policy.BLOCK, queue_msgs=16, buffer=8)
        n = 2000
        send = asyncio.ensure_future(pub.publish_batch_ack([("blk", bytes(100)) for _ in range(n)], timeout=30))
        msgs, other = await collect(sub, n, timeout=30)
        assert other == [] and [m.seq for m in msgs] == list(range(1, n + 1))
        assert all(not isinstance(r, Exception) for r in await send)


async def test_server_pings_are_answered(make_broker) -> None:
    """With no keepalive of its own, an idle client stays connected by answering the server's PINGs."""
    b = make_broker(config=FAST_IDLE)
    async with await spate.connect(b.address, keepalive=None) as c:
        sub = await c.subscribe("idle")
        await asyncio.sleep(2.5)  # silent past the idle timeout
        assert c.is_connected and c.reconnects == 0
        await c.publish_ack("idle", b"x")
        ev = await sub.next(5)
        assert isinstance(ev, Message), ev
        assert not isinstance(ev, Disconnected)
