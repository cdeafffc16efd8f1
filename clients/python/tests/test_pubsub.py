"""Publish, subscribe (every option), unsubscribe, ping, errors — against the real broker."""

from __future__ import annotations

import time
from typing import List

import pytest
from helpers import collect

import spate
from spate import Gap, GapReason, Message, Policy, Publication, ServerError, StartStatus


async def test_connect_hello_and_welcome(broker) -> None:
    async with await spate.connect(broker.address, name="py-test/1", token="secret") as c:
        w = c.welcome
        assert w is not None and w.version == 1 and w.max_frame >= 1024
        assert w.server.startswith("spate")
        assert c.is_connected
        assert await c.ping(timeout=5) >= 0
    assert c.is_closed


async def test_connect_refused_raises() -> None:
    from conftest import free_port

    with pytest.raises(OSError):
        await spate.connect(f"127.0.0.1:{free_port()}", connect_timeout=2)


async def test_publish_subscribe_fields(broker) -> None:
    async with await spate.connect(broker.address) as c:
        sub = await c.subscribe("orders.eu")
        assert sub.info is not None and sub.info.start == StartStatus.LIVE
        await c.publish("orders.eu", b"plain")
        ack = await c.publish_ack("orders.eu", b'{"id":17}', key="o-17", headers=[("content-type", "json"), ("a", "b")])
        assert ack.seq == 2 and ack.receivers == 1 and ack.epoch == sub.info.epoch
        msgs, other = await collect(sub, 2)
        assert other == []
        m1, m2 = msgs
        assert (m1.topic, m1.payload, m1.seq, m1.key, m1.headers) == ("orders.eu", b"plain", 1, None, ())
        assert (m2.payload, m2.seq, m2.key, m2.headers) == (
            b'{"id":17}',
            2,
            "o-17",
            (("content-type", "json"), ("a", "b")),
        )
        assert m2.epoch == ack.epoch and m2.timestamp_us == ack.timestamp_us
        assert isinstance(m2.seq, int) and m2.epoch > 2**32 or m2.epoch > 0


async def test_wildcards_and_two_subscriptions(broker) -> None:
    async with await spate.connect(broker.address) as c:
        star = await c.subscribe("orders.*.created")
        tail = await c.subscribe("orders.>")
        for t in ("orders.eu.created", "orders.us", "orders.eu.x.created", "other.eu.created"):
            await c.publish(t, t.encode())
        await c.flush()
        m, _ = await collect(star, 1)
        assert [x.topic for x in m] == ["orders.eu.created"]
        m, _ = await collect(tail, 3)
        assert [x.topic for x in m] == ["orders.eu.created", "orders.us", "orders.eu.x.created"]


async def test_publish_batch_and_acks(broker) -> None:
    async with await spate.connect(broker.address) as c:
        sub = await c.subscribe("b.t")
        await c.publish_batch([("b.t", b"%d" % i) for i in range(300)])
        res = await c.publish_batch_ack([Publication("b.t", b"x", key="k"), ("bad.*", b"y"), ("b.t", b"z")])
        assert isinstance(res[0], spate.PubAck) and res[0].seq == 301
        assert isinstance(res[1], ServerError) and res[1].code == 201
        assert isinstance(res[2], spate.PubAck) and res[2].seq == 302
        msgs, _ = await collect(sub, 302)
        assert [m.seq for m in msgs] == list(range(1, 303))
        assert msgs[0].payload == b"0" and msgs[300].key == "k"


async def test_batch_split_to_fit_max_frame(make_broker) -> None:
    b = make_broker(["--max-frame", "4096"])
    async with await spate.connect(b.address) as c:
        sub = await c.subscribe("big")
        await c.publish_batch([("big", bytes(1000)) for _ in range(20)])
        msgs, _ = await collect(sub, 20)
        assert len(msgs) == 20
        with pytest.raises(ValueError):
            await c.publish("big", bytes(5000))
        assert await c.ping() >= 0  # the connection is still fine


async def test_errors_are_typed(broker) -> None:
    seen: List[ServerError] = []
    async with await spate.connect(broker.address, on_error=seen.append) as c:
        with pytest.raises(ServerError) as ei:
            await c.publish_ack("bad..topic", b"")
        assert ei.value.code == 201 and ei.value.name == "INVALID_TOPIC" and not ei.value.fatal
        with pytest.raises(ServerError) as ei:
            await c.subscribe("orders.>.eu")
        assert ei.value.code == 202
        with pytest.raises(ServerError) as ei:
            await c.subscribe("q", queue_msgs=0)
        assert ei.value.code == 203
        await c.publish("no spaces", b"")  # fire-and-forget: the error arrives asynchronously
        await c.flush()
        assert [e.code for e in seen] == [201]
        with pytest.raises(ValueError):
            await c.subscribe("a.>", last_n=3)
        with pytest.raises(ValueError):
            await c.subscribe("a", last_n=3, snapshot=True)


async def test_unsubscribe_ends_iteration(broker) -> None:
    async with await spate.connect(broker.address) as c:
        sub = await c.subscribe("u")
        await c.publish_ack("u", b"1")
        await sub.unsubscribe()
        await c.publish_ack("u", b"2")
        got = [ev async for ev in sub]
        assert [m.payload for m in got if isinstance(m, Message)] in ([b"1"], [])
        assert all(isinstance(m, Message) and m.payload == b"1" for m in got)


async def test_close_ends_iteration(broker) -> None:
    c = await spate.connect(broker.address)
    sub = await c.subscribe("x")
    await c.close()
    with pytest.raises(StopAsyncIteration):
        await sub.next(5)
    with pytest.raises(spate.ConnectionLostError):
        await c.publish_ack("x", b"")


async def test_granted_options_and_policy(broker) -> None:
    async with await spate.connect(broker.address) as c:
        sub = await c.subscribe("p", policy=Policy.CONFLATE, queue_msgs=77, queue_bytes=12345, max_rate=1000)
        assert sub.info is not None
        assert (sub.info.policy, sub.info.queue_msgs, sub.info.queue_bytes) == (Policy.CONFLATE, 77, 12345)


async def test_max_batch_and_linger(broker) -> None:
    async with await spate.connect(broker.address) as c:
        sub = await c.subscribe("mb", max_batch=64, linger_us=2000)
        await c.publish_batch([("mb", b"%d" % i) for i in range(500)])
        msgs, other = await collect(sub, 500)
        assert other == [] and [m.seq for m in msgs] == list(range(1, 501))


async def test_max_rate_limits_delivery(broker) -> None:
    async with await spate.connect(broker.address) as c:
        sub = await c.subscribe("r", max_rate=20, policy=Policy.BLOCK)
        for i in range(11):
            await c.publish("r", b"x")
        t0 = time.monotonic()
        msgs, _ = await collect(sub, 11)
        # burst 1, then one message per 50 ms: ten more take about 0.5 s.
        assert time.monotonic() - t0 >= 0.35


async def test_replay_from_seq_last_n_and_truncated(make_broker) -> None:
    b = make_broker(["--history-msgs", "10"])
    async with await spate.connect(b.address) as c:
        for i in range(1, 16):
            await c.publish("h", b"%d" % i)
        await c.flush()
        s1 = await c.subscribe("h", from_seq=8)
        assert s1.info is not None and s1.info.start == StartStatus.REPLAY and s1.info.first_seq == 8
        msgs, _ = await collect(s1, 8)
        assert [m.seq for m in msgs] == list(range(8, 16))
        s2 = await c.subscribe("h", last_n=3)
        msgs, _ = await collect(s2, 3)
        assert [m.seq for m in msgs] == [13, 14, 15]
        s3 = await c.subscribe("h", from_seq=2, from_epoch=s1.info.epoch)
        assert s3.info is not None and s3.info.start == StartStatus.TRUNCATED
        msgs, other = await collect(s3, 10)
        assert [m.seq for m in msgs] == list(range(6, 16))
        gaps = [e for e in other if isinstance(e, Gap)]
        assert len(gaps) == 1 and (gaps[0].reason, gaps[0].count, gaps[0].first_seq, gaps[0].last_seq) == (
            GapReason.NOT_RETAINED,
            4,
            2,
            5,
        )
        assert any(isinstance(e, spate.Truncated) for e in other)
        s4 = await c.subscribe("h", from_seq=3, from_epoch=12345)
        assert s4.info is not None and s4.info.start == StartStatus.EPOCH_CHANGED
        ev = await s4.next(5)
        assert isinstance(ev, spate.EpochChanged) and ev.old_epoch == 12345


async def test_snapshot(broker) -> None:
    async with await spate.connect(broker.address) as c:
        await c.state.put("cfg", "a", b"1")
        await c.state.put("cfg", "b", b"2")
        await c.state.put("cfg", "a", b"3")
        sub = await c.subscribe("cfg", snapshot=True)
        assert sub.info is not None and sub.info.start == StartStatus.SNAPSHOT
        msgs, _ = await collect(sub, 2)
        assert sorted((m.key, m.payload) for m in msgs) == [("a", b"3"), ("b", b"2")]
        assert all(m.is_state_put for m in msgs)
        await c.state.delete("cfg", "b")
        msgs, _ = await collect(sub, 1)
        assert msgs[0].is_state_delete and msgs[0].key == "b"


async def test_gap_reaches_the_application(broker) -> None:
    """A slow application: the client buffer fills, reading pauses, the
    server's drop-newest queue fills and reports the loss with a GAP.
    Invariant (protocol.md §9.4): delivered + sum of GAP counts = published."""
    async with await spate.connect(broker.address) as pub, await spate.connect(broker.address) as c:
        sub = await c.subscribe("g", policy=Policy.DROP_NEWEST, queue_msgs=20, buffer=10)
        n = 3000
        await pub.publish_batch([("g", bytes(200)) for _ in range(n)])
        await pub.flush()
        last = await pub.publish_ack("g", b"end")
        delivered = 0
        lost = 0
        deadline = time.monotonic() + 20
        while True:
            ev = await sub.next(max(0.1, deadline - time.monotonic()))
            if isinstance(ev, Message):
                delivered += 1
                if ev.seq == last.seq:
                    break
            elif isinstance(ev, Gap):
                assert ev.reason == GapReason.DROPPED_NEWEST and ev.topic == "g"
                lost += ev.count
        assert lost > 0, "the test must actually lose messages"
        assert delivered + lost == n + 1
