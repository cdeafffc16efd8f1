"""A thin blocking facade for scripts: the asyncio client runs on an event
loop in a background thread and every call waits for its result (bounded by
the request timeout plus a margin)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine, Iterator, Optional, Sequence, Tuple, TypeVar, Union

from .client import Client, Subscription, connect
from .errors import SpateTimeoutError
from .types import Event, PubAck, StateListPage, StateValue

T = TypeVar("T")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="spate-sync", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise SpateTimeoutError(f"no result within {timeout} s") from None

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


class SyncSubscription:
    """A blocking subscription: iterate it, or call :meth:`next` with a timeout."""

    def __init__(self, owner: SyncClient, sub: Subscription) -> None:
        self._owner = owner
        self._sub = sub
        self.pattern = sub.pattern
        """The topic or pattern subscribed to."""

    def next(self, timeout: float = 10.0) -> Event:
        """The next event; SpateTimeoutError if none within ``timeout`` s,
        StopIteration once the subscription has ended."""
        try:
            return self._owner._run(self._sub.next(timeout), timeout + 1.0)
        except StopAsyncIteration:
            raise StopIteration from None

    def __iter__(self) -> Iterator[Event]:
        while True:
            try:
                yield self._owner._run(self._sub.__anext__(), None)
            except StopAsyncIteration:
                return

    def unsubscribe(self) -> None:
        """Ends the subscription."""
        self._owner._run(self._sub.unsubscribe())


class SyncClient:
    """Blocking version of :class:`~spate.client.Client` (same methods, no ``await``)."""

    def __init__(self, lt: _LoopThread, client: Client, timeout: float) -> None:
        self._lt = lt
        self._c = client
        self._timeout = timeout

    def _run(self, coro: Coroutine[Any, Any, T], timeout: Optional[float] = -1.0) -> T:
        if timeout is None:
            fut = asyncio.run_coroutine_threadsafe(coro, self._lt.loop)
            return fut.result()
        return self._lt.run(coro, self._timeout + 1.0 if timeout < 0 else timeout)

    @property
    def client(self) -> Client:
        """The underlying asyncio client (use it only on its own loop)."""
        return self._c

    def publish(
        self,
        topic: str,
        payload: bytes = b"",
        *,
        key: Optional[str] = None,
        headers: Optional[Sequence[Tuple[str, str]]] = None,
    ) -> None:
        """Fire-and-forget publish."""
        self._run(self._c.publish(topic, payload, key=key, headers=headers))

    def publish_ack(
        self,
        topic: str,
        payload: bytes = b"",
        *,
        key: Optional[str] = None,
        headers: Optional[Sequence[Tuple[str, str]]] = None,
    ) -> PubAck:
        """Publish and wait for the PUB_ACK."""
        return self._run(self._c.publish_ack(topic, payload, key=key, headers=headers))

    def flush(self) -> None:
        """Wait until the server has processed everything sent so far."""
        self._run(self._c.flush())

    def ping(self) -> float:
        """Round-trip time in seconds."""
        return self._run(self._c.ping())

    def subscribe(self, pattern: str, **options: Any) -> SyncSubscription:
        """Subscribe; takes the options of :meth:`Client.subscribe`."""
        return SyncSubscription(self, self._run(self._c.subscribe(pattern, **options)))

    def state_put(
        self, topic: str, key: str, value: bytes, *, if_revision: Optional[int] = None, if_absent: bool = False
    ) -> int:
        """See :meth:`spate.client._State.put`."""
        return self._run(self._c.state.put(topic, key, value, if_revision=if_revision, if_absent=if_absent))

    def state_get(self, topic: str, key: str) -> StateValue:
        """See :meth:`spate.client._State.get`."""
        return self._run(self._c.state.get(topic, key))

    def state_delete(self, topic: str, key: str, *, if_revision: Optional[int] = None) -> int:
        """See :meth:`spate.client._State.delete`."""
        return self._run(self._c.state.delete(topic, key, if_revision=if_revision))

    def state_list(self, topic: str, *, after: str = "", limit: int = 0) -> StateListPage:
        """See :meth:`spate.client._State.list`."""
        return self._run(self._c.state.list(topic, after=after, limit=limit))

    def close(self) -> None:
        """Closes the client and stops its thread."""
        try:
            self._run(self._c.close())
        finally:
            self._lt.stop()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect_sync(
    address: Union[str, Tuple[str, int]] = "127.0.0.1:7411", *, request_timeout: float = 10.0, **kwargs: Any
) -> SyncClient:
    """Blocking :func:`~spate.client.connect`: same arguments; returns a :class:`SyncClient`."""
    lt = _LoopThread()
    try:
        c = lt.run(
            connect(address, request_timeout=request_timeout, **kwargs), float(kwargs.get("connect_timeout", 5.0)) + 1.0
        )
    except BaseException:
        lt.stop()
        raise
    return SyncClient(lt, c, request_timeout)
