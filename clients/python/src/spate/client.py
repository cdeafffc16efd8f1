"""The asyncio client: one connection, reconnect and resume, subscriptions
as async iterators, state operations.

Written from protocol.md. One :class:`asyncio.BufferedProtocol` reads
frames straight into a preallocated buffer and parses them with
``struct.unpack_from``; all frames written in one event-loop iteration go
to the socket in one ``write``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import ssl as _ssl
import struct
import time
from dataclasses import dataclass
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Deque,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from . import _codec as wire
from ._resume import START_NEW, Start, Tracker, is_wildcard
from .errors import (
    ConnectionLostError,
    ProtocolError,
    ServerError,
    SpateError,
    SpateTimeoutError,
    StateConflict,
    StateNotFound,
)
from .types import (
    Disconnected,
    ErrorInfo,
    Event,
    Gap,
    Message,
    Notice,
    Policy,
    PubAck,
    ServerGoingAway,
    StateEntry,
    StateListPage,
    StateValue,
    Subscribed,
    Welcome,
)

log = logging.getLogger("spate")

DEFAULT_PORT = 7411
#: Request id used by every fire-and-forget publish: it never names a
#: pending request, so an ERROR about such a publish goes to ``on_error``.
_FIRE_AND_FORGET_ID = 0xFFFFFFFF
_FLUSH_AT = 64 * 1024

_U32 = struct.Struct(">I")
_MSG_FAST = struct.Struct(">IQQQBH")  # MESSAGE: sub_id, epoch, seq, timestamp, flags, topic len
_PUB_FAST = struct.Struct(">IBIBH")  # PUBLISH: length, opcode, request_id, flags, topic len


@dataclass(frozen=True)
class Reconnect:
    """Reconnect policy: exponential backoff with full jitter."""

    initial: float = 0.1
    """Delay before the first attempt, seconds."""
    max: float = 5.0
    """Largest delay between attempts, seconds."""
    multiplier: float = 2.0
    """Factor the delay grows by after each failed attempt."""
    max_attempts: Optional[int] = None
    """Give up after this many failed attempts in a row (None: never)."""


@dataclass(frozen=True)
class Publication:
    """One message of :meth:`Client.publish_batch`."""

    topic: str
    payload: bytes = b""
    key: Optional[str] = None
    headers: Tuple[Tuple[str, str], ...] = ()


PublicationLike = Union[Publication, Tuple[str, bytes]]


def _parse_address(address: Union[str, Tuple[str, int]]) -> Tuple[str, int]:
    if isinstance(address, tuple):
        return address
    host, sep, port = address.rpartition(":")
    if not sep:
        return address, DEFAULT_PORT
    return host.strip("[]"), int(port)


class Subscription:
    """A subscription: an async iterator of :data:`~spate.types.Event`
    (:class:`~spate.types.Message`, :class:`~spate.types.Gap`,
    :class:`~spate.types.Notice`).

    Events wait in a bounded buffer (``buffer`` events). When it is full
    the client stops reading the socket, so the server's policy for this
    subscription decides what is lost (and reports it with a GAP); the
    client keeps the connection alive with its own PINGs meanwhile.
    Iteration ends after :meth:`unsubscribe` or :meth:`Client.close`, and
    raises the error if the subscription failed for good.
    """

    def __init__(
        self, client: Client, sub_id: int, pattern: str, options: List[wire.SubscribeOption], start: Start, buffer: int
    ) -> None:
        self._client = client
        self.sub_id = sub_id
        """The subscription's id on the wire."""
        self.pattern = pattern
        """The topic or pattern subscribed to."""
        self.info: Optional[Subscribed] = None
        """The last SUBSCRIBED: granted policy and limits, start status."""
        self._options = options
        self._tracker = Tracker(sub_id, pattern, start)
        self._requested: Start = start
        self._queue: Deque[Event] = collections.deque()
        self._capacity = max(1, buffer)
        self._waiter: Optional[asyncio.Future[None]] = None
        self._ended = False
        self._error: Optional[BaseException] = None
        self._closing = False
        self._paused = False

    # -- delivery side (called by the client, synchronously) -------------
    def _push(self, ev: Event) -> None:
        self._queue.append(ev)
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)
        if len(self._queue) >= self._capacity:
            self._client._pause_for(self)

    def _push_notice(self, n: Notice, best_effort: bool) -> None:
        if best_effort and len(self._queue) >= self._capacity:
            return
        self._push(n)

    def _on_message(self, m: Message) -> None:
        if self._closing:
            return
        t = self._tracker
        if t.literal and t.snapshot_until is None and m.epoch == t.epoch and m.seq >= t.next_seq:
            t.next_seq = m.seq + 1  # the common case of Tracker.admit, inlined
        elif not t.admit(m):
            return
        q = self._queue
        q.append(m)
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)
        if len(q) >= self._capacity:
            self._client._pause_for(self)

    def _on_gap(self, g: Gap) -> None:
        if self._closing:
            return
        self._tracker.on_gap(g)
        self._push(g)

    def _end(self, error: Optional[BaseException] = None) -> None:
        if self._ended:
            return
        self._ended = True
        self._error = error
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)
        self._client._unpause_for(self)

    # -- consumer side ----------------------------------------------------
    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while not self._queue:
            if self._ended:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        ev = self._queue.popleft()
        if self._paused and len(self._queue) <= self._capacity // 2:
            self._client._unpause_for(self)
        return ev

    async def next(self, timeout: Optional[float] = None) -> Event:
        """The next event, waiting at most ``timeout`` seconds (SpateTimeoutError).

        Raises StopAsyncIteration when the subscription has ended.
        """
        if timeout is None:
            return await self.__anext__()
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except asyncio.TimeoutError:
            raise SpateTimeoutError(f"no event on {self.pattern!r} within {timeout} s") from None

    def pending(self) -> int:
        """Events buffered and not yet consumed."""
        return len(self._queue)

    async def unsubscribe(self, timeout: Optional[float] = None) -> None:
        """Ends the subscription (UNSUBSCRIBE, waits for UNSUBSCRIBED).

        Events already buffered are still yielded, then iteration stops.
        """
        if self._ended or self._closing:
            return
        self._closing = True
        await self._client._unsubscribe(self, timeout)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self._client.is_closed:
            try:
                await self.unsubscribe()
            except SpateError:
                pass


class _Pending:
    """A request awaiting its reply."""

    __slots__ = ("kind", "fut", "extra")

    def __init__(self, kind: str, fut: Optional[asyncio.Future[Any]], extra: Any = None) -> None:
        self.kind = kind
        self.fut = fut
        self.extra = extra


class _Protocol(asyncio.BufferedProtocol):
    """One TCP connection: frames in, bytes out."""

    def __init__(self, client: Client, max_incoming: int) -> None:
        self.client = client
        self.transport: Optional[asyncio.Transport] = None
        self.buf = bytearray(256 * 1024)
        self.mv = memoryview(self.buf)
        self.start = 0
        self.end = 0
        self.max_incoming = max_incoming
        self.paused = False
        self.write_paused = False
        self.drain_waiters: List[asyncio.Future[None]] = []
        self.welcome: asyncio.Future[Welcome] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.last_recv = time.monotonic()
        self.last_sent = time.monotonic()
        self.going_away = False
        self.fatal: Optional[ServerError] = None

    # -- asyncio callbacks --------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.end >= len(self.buf) - 4096:
            self._make_room(4096)
        return self.mv[self.end :]

    def _make_room(self, need: int) -> None:
        n = self.end - self.start
        if self.start > 0:
            self.mv[0:n] = self.mv[self.start : self.end]
            self.start, self.end = 0, n
        if len(self.buf) - self.end < need:
            size = len(self.buf)
            while size - n < need:
                size *= 2
            nb = bytearray(size)
            nb[0:n] = self.mv[0:n]
            self.mv.release()
            self.buf = nb
            self.mv = memoryview(nb)

    def buffer_updated(self, nbytes: int) -> None:
        self.end += nbytes
        self.last_recv = time.monotonic()
        self.parse()

    def parse(self) -> None:
        mv = self.mv
        pos = self.start
        end = self.end
        client = self.client
        subs = client._subs
        try:
            while end - pos >= 4 and not self.paused:
                length = _U32.unpack_from(mv, pos)[0]
                if length == 0 or length > self.max_incoming:
                    raise ProtocolError(f"bad frame length {length}")
                fe = pos + 4 + length
                if fe > end:
                    if fe - pos > len(self.buf):
                        self.start = pos
                        self._make_room(fe - pos)
                        mv = self.mv
                        pos, end = self.start, self.end
                    break
                if mv[pos + 4] == 0x91 and length >= 32:  # MESSAGE without key/headers: fast path
                    sid, epoch, seq, ts, flags, tlen = _MSG_FAST.unpack_from(mv, pos + 5)
                    q = pos + 36 + tlen
                    if flags == 0 and q <= fe:
                        sub = subs.get(sid)
                        if sub is not None:
                            sub._on_message(Message(str(mv[pos + 36 : q], "utf-8"), bytes(mv[q:fe]), seq, epoch, ts))
                        pos = fe
                        continue
                client._on_frame(self, mv, pos + 4, fe)
                pos = fe
        except (ProtocolError, struct.error, UnicodeDecodeError) as e:
            log.warning("spate: undecodable frame from the server: %s", e)
            self.start = self.end = 0
            self.abort(e)
            return
        if pos >= end:
            self.start = self.end = 0
        else:
            self.start = pos

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.transport.is_closing():
            self.paused = False
            self.parse()
            if not self.paused:
                self.transport.resume_reading()

    def eof_received(self) -> Optional[bool]:
        return False

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if not self.welcome.done():
            self.welcome.set_exception(self.fatal or ConnectionLostError(f"connection closed during handshake: {exc}"))
            self.welcome.exception()
        if not self.closed.done():
            self.closed.set_result(None)
        for w in self.drain_waiters:
            if not w.done():
                w.set_result(None)
        self.drain_waiters.clear()
        self.client._on_connection_lost(self, exc)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        for w in self.drain_waiters:
            if not w.done():
                w.set_result(None)
        self.drain_waiters.clear()

    # -- helpers --------------------------------------------------------
    def write(self, data: bytearray) -> None:
        t = self.transport
        if t is not None and not t.is_closing():
            t.write(data)
            self.last_sent = time.monotonic()

    def abort(self, why: Optional[BaseException] = None) -> None:
        if self.transport is not None:
            self.transport.abort()


class _State:
    """State operations (protocol.md §12), as ``client.state``."""

    def __init__(self, client: Client) -> None:
        self._c = client

    @staticmethod
    def _condition(if_revision: Optional[int], if_absent: bool) -> Tuple[int, int]:
        if if_revision is not None and if_absent:
            raise ValueError("give if_revision or if_absent, not both")
        if if_revision is not None:
            return wire.COND_IF_REVISION, if_revision
        if if_absent:
            return wire.COND_IF_ABSENT, 0
        return wire.COND_NONE, 0

    async def put(
        self,
        topic: str,
        key: str,
        value: bytes,
        *,
        if_revision: Optional[int] = None,
        if_absent: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        """Sets ``key`` to ``value``; returns the key's new revision.

        With ``if_revision`` (0 = only if absent) or ``if_absent`` the write
        happens only if the condition holds; otherwise raises
        :class:`~spate.errors.StateConflict` carrying the current revision and value.
        """
        cond, rev = self._condition(if_revision, if_absent)
        r: wire.StateReply = await self._c._request(
            "state", lambda rid, out: wire.encode_state_put(out, rid, topic, key, cond, rev, value), timeout
        )
        if r.status == wire.STATUS_CONFLICT:
            raise StateConflict(topic, key, r.revision, r.value)
        return r.revision

    async def delete(
        self,
        topic: str,
        key: str,
        *,
        if_revision: Optional[int] = None,
        if_absent: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        """Deletes ``key``; returns the revision (seq) of the delete.

        Raises :class:`~spate.errors.StateNotFound` if the key is absent and
        :class:`~spate.errors.StateConflict` if the condition fails.
        """
        cond, rev = self._condition(if_revision, if_absent)
        r: wire.StateReply = await self._c._request(
            "state", lambda rid, out: wire.encode_state_del(out, rid, topic, key, cond, rev), timeout
        )
        if r.status == wire.STATUS_CONFLICT:
            raise StateConflict(topic, key, r.revision, r.value)
        if r.status == wire.STATUS_NOT_FOUND:
            raise StateNotFound(topic, key)
        return r.revision

    async def get(self, topic: str, key: str, *, timeout: Optional[float] = None) -> StateValue:
        """The key's value and revision; raises :class:`~spate.errors.StateNotFound` if absent."""
        r: wire.StateReply = await self._c._request(
            "state", lambda rid, out: wire.encode_state_get(out, rid, topic, key), timeout
        )
        if r.status == wire.STATUS_NOT_FOUND or r.value is None:
            raise StateNotFound(topic, key)
        return StateValue(r.revision, r.value)

    async def list(
        self, topic: str, *, after: str = "", limit: int = 0, timeout: Optional[float] = None
    ) -> StateListPage:
        """One page of keys greater than ``after`` (at most ``limit``, 0 = server's maximum)."""
        page: StateListPage = await self._c._request(
            "list", lambda rid, out: wire.encode_state_list(out, rid, topic, after, limit), timeout
        )
        return page

    async def items(
        self, topic: str, *, page_size: int = 0, timeout: Optional[float] = None
    ) -> AsyncIterator[StateEntry]:
        """Every key of the topic, page after page (pages may reflect writes made in between)."""
        after = ""
        while True:
            page = await self.list(topic, after=after, limit=page_size, timeout=timeout)
            for e in page.entries:
                yield e
            if not page.more or not page.entries:
                return
            after = page.entries[-1].key


class Client:
    """A spate client. Create it with :func:`connect`.

    Every request waits at most ``request_timeout`` seconds (or its own
    ``timeout``). While the connection is down, requests wait for the
    reconnect within that same time.
    """

    def __init__(
        self,
        address: Union[str, Tuple[str, int]],
        *,
        name: str = "spate-py/0.1.0",
        token: str = "",
        ssl: Optional[_ssl.SSLContext] = None,
        connect_timeout: float = 5.0,
        request_timeout: float = 10.0,
        reconnect: Optional[Reconnect] = Reconnect(),
        keepalive: Optional[float] = 30.0,
        write_buffer: int = 1024 * 1024,
        max_incoming_frame: int = 16 * 1024 * 1024,
        on_error: Optional[Callable[[ServerError], None]] = None,
    ) -> None:
        self._host, self._port = _parse_address(address)
        self._name = name
        self._token = token
        self._ssl = ssl
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        self._reconnect_policy = reconnect
        self._keepalive = keepalive
        self._write_limit = write_buffer
        self._max_incoming = max_incoming_frame
        self._on_error = on_error
        self._loop = asyncio.get_running_loop()
        self._proto: Optional[_Protocol] = None
        self._welcome: Optional[Welcome] = None
        self._max_frame = wire.DEFAULT_MAX_FRAME
        self._out = bytearray()
        self._flush_scheduled = False
        self._pending: Dict[int, _Pending] = {}
        self._pings: Dict[int, asyncio.Future[None]] = {}
        self._subs: Dict[int, Subscription] = {}
        self._paused_by: Set[int] = set()
        self._next_id = 0
        self._ping_token = 0
        self._closed = False
        self._close_error: Optional[BaseException] = None
        self._conn_waiters: List[asyncio.Future[None]] = []
        self._tasks: Set[asyncio.Task[None]] = set()
        self._keepalive_task: Optional[asyncio.Task[None]] = None
        self._topic_cache: Dict[str, bytes] = {}
        self.state = _State(self)
        """Versioned key/value state operations (protocol.md §12)."""
        self.reconnects = 0
        """How many times the client has reconnected."""
        self.async_errors: Deque[ServerError] = collections.deque(maxlen=100)
        """Recent ERRORs not tied to a pending request (fire-and-forget publishes, reference 0)."""

    # -- public properties -------------------------------------------------
    @property
    def is_connected(self) -> bool:
        """True while a session is open and not going away."""
        return self._proto is not None and not self._proto.going_away

    @property
    def is_closed(self) -> bool:
        """True once :meth:`close` was called or reconnecting gave up."""
        return self._closed

    @property
    def welcome(self) -> Optional[Welcome]:
        """The current (or last) session's WELCOME: server limits and ``server_id``."""
        return self._welcome

    # -- connection management ---------------------------------------------
    async def _open(self) -> _Protocol:
        proto = _Protocol(self, self._max_incoming)
        hello = bytearray()
        wire.encode_hello(hello, self._name, self._token)

        async def handshake() -> Welcome:
            await self._loop.create_connection(lambda: proto, self._host, self._port, ssl=self._ssl)
            proto.write(hello)
            return await proto.welcome

        try:
            welcome = await asyncio.wait_for(handshake(), self._connect_timeout)
        except asyncio.TimeoutError:
            proto.abort()
            raise SpateTimeoutError(
                f"no WELCOME from {self._host}:{self._port} within {self._connect_timeout} s"
            ) from None
        except BaseException:
            proto.abort()
            raise
        if proto.transport is not None:
            proto.transport.set_write_buffer_limits(high=self._write_limit)
        proto.max_incoming = max(self._max_incoming, welcome.max_frame + wire.SERVER_FRAME_SLACK + 8)
        self._welcome = welcome
        self._max_frame = welcome.max_frame
        self._proto = proto
        self._out = bytearray()
        self._resubscribe()
        self._flush()
        self._keepalive_task = self._spawn(self._keepalive_loop(proto))
        for w in self._conn_waiters:
            if not w.done():
                w.set_result(None)
        self._conn_waiters.clear()
        return proto

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        t: asyncio.Task[None] = self._loop.create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    async def _keepalive_loop(self, proto: _Protocol) -> None:
        """PINGs while the application is slow (we do not read, the server
        does not hear from us) or the line is quiet; aborts a dead connection."""
        if self._keepalive is None:
            return
        server_ms = self._welcome.ping_interval_ms if self._welcome else 0
        # Ping at least as often as the server would ping us, so that its idle
        # timer never runs out while we deliberately do not read.
        interval = min(self._keepalive, server_ms / 1000.0) if server_ms else self._keepalive
        while not proto.closed.done():
            await asyncio.sleep(interval / 2)
            now = time.monotonic()
            if proto.paused or now - proto.last_sent >= interval / 2:
                self._ping_token += 1
                wire.encode_ping(self._out, self._ping_token | (1 << 63))
                self._flush()
            if self._keepalive is not None and not proto.paused and now - proto.last_recv > 2 * self._keepalive:
                log.warning("spate: nothing heard from the server for %.1f s; reconnecting", now - proto.last_recv)
                proto.abort()
                return

    def _on_connection_lost(self, proto: _Protocol, exc: Optional[Exception]) -> None:
        if proto is not self._proto:
            return
        self._proto = None
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
            self._keepalive_task = None
        self._paused_by.clear()
        reason = str(proto.fatal or exc or "connection closed by the server")
        err = ConnectionLostError(f"connection lost: {reason}")
        for p in self._pending.values():
            if p.fut is not None and not p.fut.done():
                p.fut.set_exception(err)
        self._pending.clear()
        for f in self._pings.values():
            if not f.done():
                f.set_exception(err)
        self._pings.clear()
        self._out = bytearray()
        for sub in list(self._subs.values()):
            if sub._closing:
                self._subs.pop(sub.sub_id, None)
                sub._end()
        if self._closed:
            return
        if self._reconnect_policy is None or (proto.fatal is not None and proto.fatal.code in (102, 104)):
            self._finish(proto.fatal or err)
            return
        for sub in self._subs.values():
            sub._push_notice(Disconnected(reason), best_effort=True)
        self._spawn(self._reconnect_loop(proto.going_away))

    async def _reconnect_loop(self, immediate: bool) -> None:
        policy = self._reconnect_policy
        assert policy is not None
        delay = policy.initial
        attempts = 0
        first = True
        while not self._closed:
            wait = 0.0 if (first and immediate) else random.uniform(delay / 2, delay)
            first = False
            await asyncio.sleep(wait)
            if self._closed:
                return
            try:
                await self._open()
                self.reconnects += 1
                return
            except ServerError as e:
                if e.code in (102, 104):
                    self._finish(e)
                    return
                last: BaseException = e
            except (OSError, SpateError, asyncio.TimeoutError) as e:
                last = e
            attempts += 1
            log.debug("spate: reconnect attempt %d failed: %s", attempts, last)
            if policy.max_attempts is not None and attempts >= policy.max_attempts:
                self._finish(ConnectionLostError(f"gave up reconnecting after {attempts} attempts: {last}"))
                return
            delay = min(delay * policy.multiplier, policy.max)

    def _finish(self, error: Optional[BaseException]) -> None:
        """Ends the client for good: every subscription ends (with ``error``)."""
        self._closed = True
        self._close_error = error
        for sub in list(self._subs.values()):
            sub._end(error)
        self._subs.clear()
        for w in self._conn_waiters:
            if not w.done():
                w.set_result(None)
        self._conn_waiters.clear()

    async def close(self) -> None:
        """Flushes what is buffered and closes the connection; every
        subscription's iteration ends after its buffered events."""
        if self._closed and self._proto is None:
            return
        self._flush()
        self._finish(None)
        proto = self._proto
        if proto is not None and proto.transport is not None:
            proto.transport.close()
            try:
                await asyncio.wait_for(asyncio.shield(proto.closed), 2.0)
            except asyncio.TimeoutError:
                proto.abort()
        for t in list(self._tasks):
            t.cancel()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _ready(self, deadline: float) -> _Protocol:
        """The open connection, waiting for a reconnect until ``deadline``."""
        while True:
            if self._closed:
                raise (
                    self._close_error
                    if isinstance(self._close_error, SpateError)
                    else ConnectionLostError("client is closed")
                )
            p = self._proto
            if p is not None and not p.going_away:
                return p
            left = deadline - time.monotonic()
            if left <= 0:
                raise SpateTimeoutError("not connected (reconnecting) within the request timeout")
            fut: asyncio.Future[None] = self._loop.create_future()
            self._conn_waiters.append(fut)
            try:
                await asyncio.wait_for(fut, left)
            except asyncio.TimeoutError:
                pass

    # -- writing ---------------------------------------------------------
    def _schedule_flush(self) -> None:
        if len(self._out) >= _FLUSH_AT:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self._proto is not None:
            data, self._out = self._out, bytearray()
            self._proto.write(data)

    async def _drain(self, proto: _Protocol) -> None:
        if proto.write_paused:
            fut: asyncio.Future[None] = self._loop.create_future()
            proto.drain_waiters.append(fut)
            try:
                await asyncio.wait_for(fut, self._request_timeout)
            except asyncio.TimeoutError:
                raise SpateTimeoutError("socket did not drain within the request timeout") from None

    def _alloc_id(self) -> int:
        while True:
            self._next_id = (self._next_id % 0xFFFFFFFE) + 1
            i = self._next_id
            if i not in self._pending and i not in self._subs:
                return i

    async def _request(
        self,
        kind: str,
        encode: Callable[[int, bytearray], None],
        timeout: Optional[float],
        extra: Any = None,
        key: Optional[int] = None,
    ) -> Any:
        t = self._request_timeout if timeout is None else timeout
        deadline = time.monotonic() + t
        proto = await self._ready(deadline)
        if proto.write_paused:
            await self._drain(proto)
        rid = self._alloc_id() if key is None else key
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._pending[rid] = _Pending(kind, fut, extra)
        try:
            encode(rid, self._out)
            self._schedule_flush()
            return await asyncio.wait_for(fut, max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise SpateTimeoutError(f"no reply to {kind} within {t} s") from None
        finally:
            p = self._pending.get(rid)
            if p is not None and p.fut is fut:
                del self._pending[rid]

    def _topic_bytes(self, topic: str) -> bytes:
        b = self._topic_cache.get(topic)
        if b is None:
            b = topic.encode("utf-8")
            if len(self._topic_cache) >= 4096:
                self._topic_cache.clear()
            self._topic_cache[topic] = b
        return b

    def _check_size(self, n: int) -> None:
        w = self._welcome
        limit = w.max_frame if w else wire.DEFAULT_MAX_FRAME
        if n > limit:
            raise ValueError(f"frame of {n} bytes exceeds the server's max_frame {limit}")

    # -- publishing ----------------------------------------------------------
    async def publish(
        self,
        topic: str,
        payload: bytes = b"",
        *,
        key: Optional[str] = None,
        headers: Optional[Sequence[Tuple[str, str]]] = None,
    ) -> None:
        """Publishes without acknowledgement (fire-and-forget).

        Returns once the frame is buffered; it does not suspend unless the
        socket is backed up (or the client is reconnecting). Errors about it
        (e.g. INVALID_TOPIC) arrive later through ``on_error``. Use
        :meth:`flush` to know everything sent so far was processed.
        """
        proto = self._proto
        if proto is None or proto.going_away or proto.write_paused:
            proto = await self._ready(time.monotonic() + self._request_timeout)
            await self._drain(proto)
        out = self._out
        tb = self._topic_cache.get(topic) or self._topic_bytes(topic)
        if key is None and not headers:  # the common case of wire.encode_publish, inlined
            n = 8 + len(tb) + len(payload)
            if n > self._max_frame:
                self._check_size(n)
            out += _PUB_FAST.pack(n, 0x10, _FIRE_AND_FORGET_ID, 0, len(tb))
            out += tb
            out += payload
        else:
            before = len(out)
            n = wire.encode_publish(out, _FIRE_AND_FORGET_ID, tb, payload, key, headers)
            if n > self._max_frame:
                del out[before:]
                self._check_size(n)
        if len(out) >= _FLUSH_AT:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    async def publish_ack(
        self,
        topic: str,
        payload: bytes = b"",
        *,
        key: Optional[str] = None,
        headers: Optional[Sequence[Tuple[str, str]]] = None,
        timeout: Optional[float] = None,
    ) -> PubAck:
        """Publishes and waits for PUB_ACK: the message's ``seq`` and ``epoch``.

        Raises :class:`~spate.errors.ServerError` if the server rejects it.
        """
        tb = self._topic_bytes(topic)

        def enc(rid: int, out: bytearray) -> None:
            before = len(out)
            n = wire.encode_publish(out, rid, tb, payload, key, headers, ack=True)
            if n > (self._welcome.max_frame if self._welcome else wire.DEFAULT_MAX_FRAME):
                del out[before:]
                self._check_size(n)

        ack: PubAck = await self._request("publish", enc, timeout)
        return ack

    def _batch_frames(self, bodies: List[bytes]) -> List[List[bytes]]:
        limit = self._welcome.max_frame if self._welcome else wire.DEFAULT_MAX_FRAME
        frames: List[List[bytes]] = [[]]
        size = 3
        for b in bodies:
            if 3 + 4 + len(b) > limit:
                raise ValueError(f"a batch entry of {len(b)} bytes exceeds the server's max_frame {limit}")
            if size + 4 + len(b) > limit or len(frames[-1]) == 0xFFFF:
                frames.append([])
                size = 3
            frames[-1].append(b)
            size += 4 + len(b)
        return [f for f in frames if f]

    @staticmethod
    def _pub(p: PublicationLike) -> Publication:
        return p if isinstance(p, Publication) else Publication(p[0], p[1])

    async def publish_batch(self, messages: Iterable[PublicationLike]) -> None:
        """Publishes many messages in PUBLISH_BATCH frames (split to fit
        ``max_frame``), without acknowledgement."""
        proto = await self._ready(time.monotonic() + self._request_timeout)
        await self._drain(proto)
        bodies = []
        for m in map(self._pub, messages):
            bodies.append(wire.publish_body(_FIRE_AND_FORGET_ID, m.topic, m.payload, m.key, m.headers))
        for frame in self._batch_frames(bodies):
            wire.encode_publish_batch(self._out, frame)
            self._schedule_flush()

    async def publish_batch_ack(
        self, messages: Iterable[PublicationLike], *, timeout: Optional[float] = None
    ) -> List[Union[PubAck, ServerError]]:
        """Publishes many messages in PUBLISH_BATCH frames and waits for every
        entry's answer: a :class:`PubAck` or the entry's :class:`ServerError`,
        in order (a rejected entry does not affect the others)."""
        t = self._request_timeout if timeout is None else timeout
        deadline = time.monotonic() + t
        proto = await self._ready(deadline)
        await self._drain(proto)
        pubs = [self._pub(m) for m in messages]
        ids = []
        futs: List[asyncio.Future[Any]] = []
        bodies = []
        for m in pubs:
            rid = self._alloc_id()
            fut: asyncio.Future[Any] = self._loop.create_future()
            self._pending[rid] = _Pending("publish", fut, None)
            ids.append(rid)
            futs.append(fut)
            bodies.append(wire.publish_body(rid, m.topic, m.payload, m.key, m.headers, ack=True))
        try:
            frames = self._batch_frames(bodies)
        except ValueError:
            for rid in ids:
                self._pending.pop(rid, None)
            raise
        for frame in frames:
            wire.encode_publish_batch(self._out, frame)
        self._schedule_flush()
        results: List[Union[PubAck, ServerError]] = []
        try:
            for fut in futs:
                try:
                    results.append(await asyncio.wait_for(fut, max(0.0, deadline - time.monotonic())))
                except ServerError as e:
                    results.append(e)
                except asyncio.TimeoutError:
                    raise SpateTimeoutError(f"batch not acknowledged within {t} s") from None
        finally:
            for rid in ids:
                self._pending.pop(rid, None)
        return results

    async def flush(self, timeout: Optional[float] = None) -> None:
        """Waits until the server has processed everything sent so far (PING
        as a flush barrier, protocol.md §5.2)."""
        await self.ping(timeout)

    async def ping(self, timeout: Optional[float] = None) -> float:
        """Round trip to the server; returns it in seconds."""
        t = self._request_timeout if timeout is None else timeout
        deadline = time.monotonic() + t
        await self._ready(deadline)
        self._ping_token = (self._ping_token + 1) & ((1 << 63) - 1)
        token = self._ping_token
        fut: asyncio.Future[None] = self._loop.create_future()
        self._pings[token] = fut
        t0 = time.monotonic()
        wire.encode_ping(self._out, token)
        self._flush()
        try:
            await asyncio.wait_for(fut, max(0.0, deadline - t0))
        except asyncio.TimeoutError:
            raise SpateTimeoutError(f"no PONG within {t} s") from None
        finally:
            self._pings.pop(token, None)
        return time.monotonic() - t0

    # -- subscribing -------------------------------------------------------
    async def subscribe(
        self,
        pattern: str,
        *,
        policy: Optional[Policy] = None,
        queue_msgs: Optional[int] = None,
        queue_bytes: Optional[int] = None,
        max_rate: Optional[int] = None,
        max_batch: Optional[int] = None,
        linger_us: Optional[int] = None,
        from_seq: Optional[int] = None,
        from_epoch: int = 0,
        last_n: Optional[int] = None,
        snapshot: bool = False,
        buffer: int = 1024,
        timeout: Optional[float] = None,
    ) -> Subscription:
        """Subscribes to a topic or pattern (``orders.*.created``, ``orders.>``).

        Options (protocol.md §8.2): ``policy``, ``queue_msgs``,
        ``queue_bytes``, ``max_rate`` (msg/s), ``max_batch`` and
        ``linger_us`` (MESSAGE_BATCH), and at most one start option on a
        literal topic: ``from_seq`` (with ``from_epoch``, 0 = any),
        ``last_n`` or ``snapshot``. ``buffer`` bounds the events held in
        the client. After a reconnect the subscription resumes from its last
        delivered message and tells what could not be recovered.

        Raises :class:`~spate.errors.ServerError` (e.g. INVALID_PATTERN).
        """
        starts = sum(x for x in (from_seq is not None, last_n is not None, snapshot))
        if starts > 1:
            raise ValueError("at most one of from_seq, last_n, snapshot")
        if starts and is_wildcard(pattern):
            raise ValueError("a start option needs a literal topic, not a wildcard pattern")
        opts: List[wire.SubscribeOption] = []
        for tag, v in (
            (wire.OPT_POLICY, policy),
            (wire.OPT_QUEUE_MSGS, queue_msgs),
            (wire.OPT_QUEUE_BYTES, queue_bytes),
            (wire.OPT_MAX_RATE, max_rate),
            (wire.OPT_MAX_BATCH, max_batch),
            (wire.OPT_LINGER_US, linger_us),
        ):
            if v is not None:
                opts.append(wire.SubscribeOption(tag, int(v)))
        start: Start = START_NEW
        if from_seq is not None:
            start = ("from", from_seq, from_epoch)
        elif last_n is not None:
            start = ("last", last_n, 0)
        elif snapshot:
            start = ("snapshot", 0, 0)
        t = self._request_timeout if timeout is None else timeout
        deadline = time.monotonic() + t
        await self._ready(deadline)
        sid = self._alloc_id()
        sub = Subscription(self, sid, pattern, opts, start, buffer)
        fut: asyncio.Future[Subscribed] = self._loop.create_future()
        self._subs[sid] = sub
        self._send_subscribe(sub, fut)
        try:
            await asyncio.wait_for(asyncio.shield(fut), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            self._subs.pop(sid, None)
            self._pending.pop(sid, None)
            sub._end()
            if self._proto is not None:  # do not leave it running on the server
                wire.encode_unsubscribe(self._out, sid)
                self._schedule_flush()
            raise SpateTimeoutError(f"no SUBSCRIBED within {t} s") from None
        except BaseException:
            self._subs.pop(sid, None)
            sub._end()
            raise
        return sub

    @staticmethod
    def _start_option(start: Start) -> Optional[wire.SubscribeOption]:
        kind, a, b = start
        if kind == "from":
            return wire.SubscribeOption(wire.OPT_FROM_SEQ, (a, b))
        if kind == "last":
            return wire.SubscribeOption(wire.OPT_LAST_N, a)
        if kind == "snapshot":
            return wire.SubscribeOption(wire.OPT_SNAPSHOT, None)
        return None

    def _send_subscribe(self, sub: Subscription, fut: Optional[asyncio.Future[Subscribed]]) -> None:
        start = sub._tracker.start()
        sub._requested = start
        opts = list(sub._options)
        so = self._start_option(start)
        if so is not None:
            opts.append(so)
        self._pending[sub.sub_id] = _Pending("subscribe", fut, sub)
        wire.encode_subscribe(self._out, sub.sub_id, sub.pattern, opts)
        self._schedule_flush()

    def _resubscribe(self) -> None:
        for sub in list(self._subs.values()):
            if sub._closing or not sub._tracker.established:
                continue
            self._send_subscribe(sub, None)

    async def _unsubscribe(self, sub: Subscription, timeout: Optional[float]) -> None:
        if self._proto is None:
            self._subs.pop(sub.sub_id, None)
            sub._end()
            return
        sid = sub.sub_id
        if sid in self._pending:  # a (re)subscribe is in flight: do not wait for the reply
            wire.encode_unsubscribe(self._out, sid)
            self._schedule_flush()
            self._subs.pop(sid, None)
            sub._end()
            return
        try:
            await self._request(
                "unsubscribe", lambda _rid, out: wire.encode_unsubscribe(out, sid), timeout, extra=sub, key=sid
            )
        except ConnectionLostError:
            pass
        finally:
            if self._subs.get(sid) is sub:
                del self._subs[sid]
            sub._end()

    # -- flow control --------------------------------------------------------
    def _pause_for(self, sub: Subscription) -> None:
        sub._paused = True
        self._paused_by.add(sub.sub_id)
        p = self._proto
        if p is not None:
            p.pause()

    def _unpause_for(self, sub: Subscription) -> None:
        sub._paused = False
        if sub.sub_id in self._paused_by:
            self._paused_by.discard(sub.sub_id)
            if not self._paused_by and self._proto is not None:
                self._proto.resume()

    # -- reading ---------------------------------------------------------
    def _on_frame(self, proto: _Protocol, mv: memoryview, p: int, e: int) -> None:
        op = mv[p]
        p += 1
        if op == wire.MESSAGE:
            if e - p < 31:
                raise ProtocolError("MESSAGE too short")
            sid = _U32.unpack_from(mv, p)[0]
            sub = self._subs.get(sid)
            if sub is not None:
                sub._on_message(wire.decode_message_body(mv, p + 4, e))
            return
        if op == wire.MESSAGE_BATCH:
            sid, msgs = wire.decode_message_batch(mv, p, e)
            sub = self._subs.get(sid)
            if sub is not None:
                for m in msgs:
                    sub._on_message(m)
            return
        c = wire.Cursor(mv, p, e)
        if op == wire.PUB_ACK:
            ack = wire.decode_pub_ack(c)
            self._complete(ack.request_id, ack)
        elif op == wire.PING:
            wire.encode_ping(self._out, wire.decode_token(c), wire.PONG)
            self._schedule_flush()
        elif op == wire.PONG:
            f = self._pings.pop(wire.decode_token(c), None)
            if f is not None and not f.done():
                f.set_result(None)
        elif op == wire.GAP:
            g = wire.decode_gap(c)
            sub = self._subs.get(g.sub_id)
            if sub is not None:
                sub._on_gap(g)
        elif op == wire.SUBSCRIBED:
            self._on_subscribed(wire.decode_subscribed(c))
        elif op == wire.UNSUBSCRIBED:
            sid = c.u32()
            c.done()
            self._complete(sid, None)
        elif op == wire.STATE_REPLY:
            r = wire.decode_state_reply(c)
            self._complete(r.request_id, r)
        elif op == wire.STATE_LIST_REPLY:
            rid, page = wire.decode_state_list_reply(c)
            self._complete(rid, page)
        elif op == wire.ERROR:
            self._on_error_frame(proto, wire.decode_error(c))
        elif op == wire.GOAWAY:
            _drain_ms, reason = wire.decode_goaway(c)
            proto.going_away = True
            for sub in self._subs.values():
                sub._push_notice(ServerGoingAway(reason), best_effort=True)
        elif op == wire.WELCOME:
            w = wire.decode_welcome(c)
            if not proto.welcome.done():
                proto.welcome.set_result(w)
            else:
                raise ProtocolError("second WELCOME")
        else:
            raise ProtocolError(f"unknown opcode 0x{op:02x} from the server")

    def _complete(self, rid: int, value: Any) -> None:
        p = self._pending.pop(rid, None)
        if p is not None and p.fut is not None and not p.fut.done():
            p.fut.set_result(value)

    def _on_subscribed(self, s: Subscribed) -> None:
        p = self._pending.pop(s.sub_id, None)
        sub = self._subs.get(s.sub_id)
        if sub is None:
            return
        sub.info = s
        for ev in sub._tracker.on_subscribed(s, sub._requested):
            sub._push(ev)
        if p is not None and p.fut is not None and not p.fut.done():
            p.fut.set_result(s)

    def _on_error_frame(self, proto: _Protocol, info: ErrorInfo) -> None:
        err = ServerError(info.code, info.reference, info.message)
        if err.fatal:
            proto.fatal = err
            if not proto.welcome.done():
                proto.welcome.set_exception(err)
                proto.welcome.exception()
            sub = self._subs.get(info.reference) if info.reference else None
            if sub is not None and info.code == 106:
                log.warning("spate: subscription %r was too slow: %s", sub.pattern, err)
            self._async_error(err)
            return
        p = self._pending.pop(info.reference, None) if info.reference else None
        if p is None:
            self._async_error(err)
            return
        if p.kind == "subscribe":
            sub = p.extra
            if p.fut is not None:
                if not p.fut.done():
                    p.fut.set_exception(err)
            else:  # a resubscribe after a reconnect was refused
                self._subs.pop(sub.sub_id, None)
                sub._end(err)
        elif p.fut is not None and not p.fut.done():
            p.fut.set_exception(err)

    def _async_error(self, err: ServerError) -> None:
        self.async_errors.append(err)
        if self._on_error is not None:
            try:
                self._on_error(err)
            except Exception:  # the callback's bug must not kill the reader
                log.exception("spate: on_error callback failed")
        elif not err.fatal:
            log.warning("spate: %s", err)


async def connect(
    address: Union[str, Tuple[str, int]] = f"127.0.0.1:{DEFAULT_PORT}",
    *,
    name: str = "spate-py/0.1.0",
    token: str = "",
    ssl: Optional[_ssl.SSLContext] = None,
    connect_timeout: float = 5.0,
    request_timeout: float = 10.0,
    reconnect: Optional[Reconnect] = Reconnect(),
    keepalive: Optional[float] = 30.0,
    write_buffer: int = 1024 * 1024,
    max_incoming_frame: int = 16 * 1024 * 1024,
    on_error: Optional[Callable[[ServerError], None]] = None,
) -> Client:
    """Connects to a spate broker and completes the handshake (HELLO/WELCOME).

    ``address`` is ``"host:port"`` or ``(host, port)``. ``name`` and
    ``token`` go into HELLO (``client_name``, ``auth_token``). ``ssl`` is
    passed to the event loop's connection (the v1 broker has no TLS yet).
    The first connection is not retried: an unreachable broker raises
    (OSError or :class:`~spate.errors.SpateTimeoutError`). Afterwards lost
    connections are re-established per ``reconnect`` (None: never).
    ``keepalive`` is the PING interval, seconds (None: only answer the
    server's PINGs). ``on_error`` receives ERRORs not tied to a pending
    request (fire-and-forget publishes).
    """
    c = Client(
        address,
        name=name,
        token=token,
        ssl=ssl,
        connect_timeout=connect_timeout,
        request_timeout=request_timeout,
        reconnect=reconnect,
        keepalive=keepalive,
        write_buffer=write_buffer,
        max_incoming_frame=max_incoming_frame,
        on_error=on_error,
    )
    await c._open()
    return c
