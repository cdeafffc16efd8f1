"""Versioned state: put/get/delete/list with conditions, typed conflicts, and a CAS race."""

from __future__ import annotations

import asyncio

import pytest

import spate
from spate import StateConflict, StateNotFound


async def test_put_get_delete_list(broker) -> None:
    async with await spate.connect(broker.address) as c:
        r1 = await c.state.put("cfg", "mode", b"fast")
        v = await c.state.get("cfg", "mode")
        assert (v.revision, v.value) == (r1, b"fast")
        with pytest.raises(StateNotFound) as nf:
            await c.state.get("cfg", "nope")
        assert nf.value.revision == 0
        with pytest.raises(StateConflict) as cf:
            await c.state.put("cfg", "mode", b"slow", if_revision=r1 + 100)
        assert (cf.value.revision, cf.value.value) == (r1, b"fast")
        with pytest.raises(StateConflict) as cf:
            await c.state.put("cfg", "mode", b"x", if_absent=True)
        assert cf.value.revision == r1
        with pytest.raises(StateConflict) as cf:
            await c.state.put("cfg", "new", b"x", if_revision=5)
        assert (cf.value.revision, cf.value.value) == (0, None)
        r2 = await c.state.put("cfg", "new", b"x", if_revision=0)
        r3 = await c.state.put("cfg", "mode", b"", if_revision=r1)
        assert r1 < r2 < r3
        assert (await c.state.get("cfg", "mode")).value == b""
        with pytest.raises(StateConflict):
            await c.state.delete("cfg", "mode", if_revision=r1)
        rd = await c.state.delete("cfg", "mode", if_revision=r3)
        assert rd > r3
        with pytest.raises(StateNotFound):
            await c.state.delete("cfg", "mode")
        for i in range(25):
            await c.state.put("many", "k%02d" % i, b"%d" % i)
        page = await c.state.list("many", limit=10)
        assert page.more and [e.key for e in page.entries] == ["k%02d" % i for i in range(10)]
        page = await c.state.list("many", after="k19")
        assert not page.more and [e.key for e in page.entries] == ["k%02d" % i for i in range(20, 25)]
        keys = [e.key async for e in c.state.items("many", page_size=7)]
        assert keys == ["k%02d" % i for i in range(25)]
        with pytest.raises(spate.ServerError) as se:
            await c.state.put("cfg", "", b"")
        assert se.value.code == 210


async def test_cas_race_8_writers_50_increments(broker) -> None:
    """8 writers x 50 read-modify-write increments with IF_REVISION end at 400."""

    async def writer(c: spate.Client) -> int:
        retries = 0
        for _ in range(50):
            try:
                cur = await c.state.get("counter", "n")
                rev, val = cur.revision, int(cur.value)
            except StateNotFound:
                rev, val = 0, 0
            while True:
                try:
                    await c.state.put("counter", "n", b"%d" % (val + 1), if_revision=rev)
                    break
                except StateConflict as e:  # merge with the returned value, retry
                    retries += 1
                    rev = e.revision
                    val = int(e.value) if e.value is not None else 0
        return retries

    clients = [await spate.connect(broker.address) for _ in range(8)]
    try:
        retries = await asyncio.wait_for(asyncio.gather(*(writer(c) for c in clients)), 60)
        v = await clients[0].state.get("counter", "n")
        assert int(v.value) == 400
        assert sum(retries) > 0, "the writers must actually have raced"
    finally:
        for c in clients:
            await c.close()
