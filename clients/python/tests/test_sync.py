"""The blocking facade."""

from __future__ import annotations

import pytest

import spate


def test_sync_facade(broker) -> None:
    with spate.connect_sync(broker.address, request_timeout=5) as c:
        sub = c.subscribe("s.x", last_n=5)
        c.publish("s.x", b"a")
        ack = c.publish_ack("s.x", b"b", key="k")
        assert ack.seq == 2
        c.flush()
        m1, m2 = sub.next(5), sub.next(5)
        assert isinstance(m1, spate.Message) and isinstance(m2, spate.Message)
        assert (m1.payload, m2.payload, m2.key) == (b"a", b"b", "k")
        with pytest.raises(spate.SpateTimeoutError):
            sub.next(0.2)
        rev = c.state_put("cfg", "k", b"v")
        assert c.state_get("cfg", "k") == spate.StateValue(rev, b"v")
        with pytest.raises(spate.StateConflict):
            c.state_put("cfg", "k", b"w", if_absent=True)
        assert [e.key for e in c.state_list("cfg").entries] == ["k"]
        assert c.state_delete("cfg", "k") > rev
        assert c.ping() >= 0
        sub.unsubscribe()
        assert list(sub) == []


def test_sync_connect_failure_is_raised() -> None:
    from conftest import free_port

    with pytest.raises(OSError):
        spate.connect_sync(f"127.0.0.1:{free_port()}", connect_timeout=2)
