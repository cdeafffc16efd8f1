"""Reconnect and resume: no loss or duplicates when history covers the
outage, and an honest report (notice + GAP) of what could not be recovered."""

from __future__ import annotations

import pytest
from helpers import collect, next_of

import spate
from spate import (
    Disconnected,
    EpochChanged,
    Gap,
    GapReason,
    Reconnect,
    Resumed,
    ResumedLive,
    ServerGoingAway,
    SnapshotRestarted,
    Truncated,
)

# A reconnect delay that leaves time to publish while the subscriber is away.
SLOW = Reconnect(initial=1.0, max=1.0)


def drop_connection(c: spate.Client) -> None:
    """Simulates a network failure: the TCP connection dies under the client."""
    assert c._proto is not None and c._proto.transport is not None
    c._proto.transport.abort()


async def test_resume_after_network_drop_no_loss_no_duplicates(broker) -> None:
    async with await spate.connect(broker.address) as pub, await spate.connect(broker.address, reconnect=SLOW) as c:
        sub = await c.subscribe("r")
        await pub.publish_batch_ack([("r", b"%d" % i) for i in range(1, 11)])
        msgs, _ = await collect(sub, 10)
        drop_connection(c)
        await next_of(sub, Disconnected)
        await pub.publish_batch_ack([("r", b"%d" % i) for i in range(11, 31)])
        resumed, before = await next_of(sub, Resumed)
        assert before == [] and isinstance(resumed, Resumed) and resumed.from_seq == 11
        await pub.publish_ack("r", b"31")
        msgs2, other = await collect(sub, 21)
        assert other == []
        assert [m.seq for m in msgs + msgs2] == list(range(1, 32))
        assert [m.payload for m in msgs2] == [b"%d" % i for i in range(11, 32)]
        assert c.reconnects == 1


async def test_resume_truncated_reports_exact_loss(make_broker) -> None:
    b = make_broker(["--history-msgs", "5"])
    async with await spate.connect(b.address) as pub, await spate.connect(b.address, reconnect=SLOW) as c:
        sub = await c.subscribe("t")
        await pub.publish_ack("t", b"1")
        await collect(sub, 1)
        drop_connection(c)
        await next_of(sub, Disconnected)
        await pub.publish_batch_ack([("t", b"x") for _ in range(20)])  # seqs 2..21; history keeps 17..21
        tr, _ = await next_of(sub, Truncated)
        assert isinstance(tr, Truncated) and (tr.requested_seq, tr.first_seq) == (2, 17)
        gap = await sub.next(5)
        assert isinstance(gap, Gap) and (gap.reason, gap.count, gap.first_seq, gap.last_seq) == (
            GapReason.NOT_RETAINED,
            15,
            2,
            16,
        )
        msgs, other = await collect(sub, 5)
        assert other == [] and [m.seq for m in msgs] == [17, 18, 19, 20, 21]


async def test_broker_restart_reports_epoch_change(broker) -> None:
    async with await spate.connect(broker.address, reconnect=Reconnect(initial=0.05, max=0.5)) as c:
        sub = await c.subscribe("e")
        first = await c.publish_ack("e", b"before")
        msgs, _ = await collect(sub, 1)
        old_server = c.welcome.server_id if c.welcome else 0
        broker.stop()
        await next_of(sub, Disconnected)
        broker.start()
        ev, _ = await next_of(sub, EpochChanged, timeout=15)
        assert isinstance(ev, EpochChanged) and ev.old_epoch == first.epoch and ev.new_epoch != first.epoch
        assert c.welcome is not None and c.welcome.server_id != old_server
        after = await c.publish_ack("e", b"after")
        assert after.seq == 1 and after.epoch == ev.new_epoch
        msgs, other = await collect(sub, 1)
        assert other == [] and msgs[0].payload == b"after" and msgs[0].epoch == ev.new_epoch


async def test_goaway_then_reconnect(broker) -> None:
    async with await spate.connect(broker.address, reconnect=Reconnect(initial=0.05, max=0.5)) as c:
        sub = await c.subscribe("g")
        wild = await c.subscribe("g.>")
        await c.publish_ack("g", b"1")
        await collect(sub, 1)
        broker.stop(graceful=True)  # SIGTERM: GOAWAY, drain, exit
        await next_of(sub, ServerGoingAway)
        await next_of(wild, ServerGoingAway)
        broker.start()
        await next_of(sub, EpochChanged, timeout=15)
        await next_of(wild, ResumedLive, timeout=15)
        ack = await c.publish_ack("g.x", b"live", timeout=15)
        msgs, _ = await collect(wild, 1)
        assert msgs[0].seq == ack.seq


async def test_wildcard_resumes_live_with_notice(broker) -> None:
    async with await spate.connect(broker.address) as c:
        sub = await c.subscribe("w.*")
        drop_connection(c)
        await next_of(sub, Disconnected)
        await next_of(sub, ResumedLive)
        await c.publish("w.a", b"x")
        msgs, _ = await collect(sub, 1)
        assert msgs[0].topic == "w.a"


async def test_snapshot_restarts_when_interrupted(broker) -> None:
    async with await spate.connect(broker.address) as c:
        await c.state.put("s", "a", b"1")
        await c.state.put("s", "b", b"2")
        sub = await c.subscribe("s", snapshot=True)
        msgs, _ = await collect(sub, 2)
        drop_connection(c)
        await next_of(sub, Disconnected)
        _, before = await next_of(sub, SnapshotRestarted)
        assert before == []
        msgs, _ = await collect(sub, 2)
        assert sorted(m.key or "" for m in msgs) == ["a", "b"]


async def test_requests_wait_for_the_reconnect(broker) -> None:
    async with await spate.connect(broker.address, reconnect=SLOW) as c:
        sub = await c.subscribe("other")
        drop_connection(c)
        await next_of(sub, Disconnected)
        assert not c.is_connected
        ack = await c.publish_ack("q", b"x", timeout=10)
        assert ack.seq == 1
        assert c.reconnects == 1


async def test_gives_up_after_max_attempts(broker) -> None:
    c = await spate.connect(broker.address, reconnect=Reconnect(initial=0.05, max=0.1, max_attempts=3))
    sub = await c.subscribe("x")
    broker.stop()
    await next_of(sub, Disconnected)
    with pytest.raises(spate.ConnectionLostError):
        while True:
            await sub.next(10)
    assert c.is_closed
    with pytest.raises(spate.ConnectionLostError):
        await c.publish("x", b"")
    await c.close()


async def test_no_reconnect_when_disabled(broker) -> None:
    c = await spate.connect(broker.address, reconnect=None)
    sub = await c.subscribe("x")
    drop_connection(c)
    with pytest.raises(spate.ConnectionLostError):
        await sub.next(5)
    await c.close()
