"""Unit tests of the resume position tracker (the rules of protocol.md §18.5)."""

from __future__ import annotations

from spate._resume import Tracker
from spate.types import EpochChanged, Gap, GapReason, Message, Policy, Resumed, StartStatus, Subscribed, Truncated


def subscribed(start: StartStatus, epoch: int, first: int, last: int) -> Subscribed:
    return Subscribed(1, Policy.DROP_OLDEST, 100, 1 << 20, start, epoch, first, last)


def msg(epoch: int, seq: int) -> Message:
    return Message("t", b"", seq, epoch, 0)


def live(epoch: int, last: int) -> Tracker:
    t = Tracker(1, "t", ("new", 0, 0))
    assert t.on_subscribed(subscribed(StartStatus.LIVE, epoch, 0, last), ("new", 0, 0)) == []
    return t


def test_resume_from_next_seq_and_drop_duplicates() -> None:
    t = live(7, 10)
    assert t.start() == ("from", 11, 7)
    assert t.admit(msg(7, 11)) and t.admit(msg(7, 12))
    req = t.start()
    assert req == ("from", 13, 7)
    assert t.on_subscribed(subscribed(StartStatus.REPLAY, 7, 13, 20), req) == [Resumed(13, 7)]
    assert not t.admit(msg(7, 12)), "a duplicate is dropped"
    assert t.admit(msg(7, 13))


def test_gap_advances_the_position() -> None:
    t = live(7, 0)
    t.on_gap(Gap("t", GapReason.DROPPED_OLDEST, 5, 1, 5, 1))
    assert t.start() == ("from", 6, 7)


def test_live_answer_to_a_resume_synthesizes_the_gap() -> None:
    t = live(7, 10)
    req = t.start()
    ev = t.on_subscribed(subscribed(StartStatus.LIVE, 7, 0, 15), req)
    assert ev == [Truncated(11, 16), Gap("t", GapReason.NOT_RETAINED, 5, 11, 15, 1)]


def test_epoch_change() -> None:
    t = live(7, 10)
    ev = t.on_subscribed(subscribed(StartStatus.EPOCH_CHANGED, 9, 1, 3), t.start())
    assert ev == [EpochChanged(7, 9)]
    assert t.admit(msg(9, 1)) and t.start() == ("from", 2, 9)


def test_wildcard_resumes_live() -> None:
    t = Tracker(1, "a.>", ("new", 0, 0))
    t.on_subscribed(subscribed(StartStatus.LIVE, 0, 0, 0), ("new", 0, 0))
    assert t.start() == ("new", 0, 0)
    assert t.admit(msg(3, 1)) and t.admit(msg(3, 1)), "wildcards span topics: no dedup by seq"


def test_conflate_keys_out_of_seq_order_are_not_duplicates() -> None:
    # With conflate + MAX_RATE keys take turns (protocol.md §10.4): a lower
    # seq after a higher one is another key's latest value.
    t = Tracker(1, "t", ("new", 0, 0))
    t.on_subscribed(Subscribed(1, Policy.CONFLATE, 100, 1 << 20, StartStatus.LIVE, 7, 0, 10), ("new", 0, 0))
    assert t.admit(msg(7, 14))
    assert t.admit(msg(7, 12)), "another key's latest value"
    assert t.start() == ("from", 15, 7)
