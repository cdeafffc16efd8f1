"""Publish and receive throughput of one Python process: spate (this client)
side by side with nats-py against nats-server and redis-py (asyncio) against
redis-server, all on 127.0.0.1.

    python bench.py [--spate-bin PATH] [--count-16 N] [--count-1k N] [--rounds R]

Needs `pip install -e '.[bench]'` (nats-py, redis) and nats-server /
redis-server on PATH (benches/compare.sh shows how to install them). Starts
each broker on a free port and stops it by PID afterwards.

* publish: one process publishes N messages as fast as the library allows
  (spate and NATS fire-and-forget, then a flush round trip; Redis has no
  fire-and-forget PUBLISH, so pipelines of 1,000), rate = N / elapsed.
* receive: a second process publishes N messages with the same library; this
  process's subscriber counts them; rate = received / (last − first
  arrival). Each subscription is made lossless (spate `block` policy, NATS
  pending limits raised, Redis output buffer unlimited), and loss, if any,
  is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "src"))

import spate  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: "subprocess.Popen[bytes]") -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited: {proc.args}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("broker did not start within 15 s")


def start_broker(kind: str, spate_bin: str) -> Tuple["subprocess.Popen[bytes]", int]:
    port = free_port()
    if kind == "spate":
        cmd = [spate_bin, "serve", "--listen", f"127.0.0.1:{port}", "--no-admin", "--log-level", "error"]
    elif kind == "nats":
        cmd = ["nats-server", "-a", "127.0.0.1", "-p", str(port)]
    else:
        cmd = [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--client-output-buffer-limit",
            "pubsub 0 0 0",
        ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port


# --- publishers ------------------------------------------------------------


async def pub_spate(port: int, subject: str, n: int, payload: bytes) -> float:
    c = await spate.connect(f"127.0.0.1:{port}", request_timeout=60)
    t0 = time.perf_counter()
    publish = c.publish
    for _ in range(n):
        await publish(subject, payload)
    await c.flush(timeout=60)
    dt = time.perf_counter() - t0
    await c.close()
    return dt


async def pub_nats(port: int, subject: str, n: int, payload: bytes) -> float:
    import nats

    nc = await nats.connect(f"nats://127.0.0.1:{port}", flusher_queue_size=4096, pending_size=64 * 1024 * 1024)
    t0 = time.perf_counter()
    publish = nc.publish
    for _ in range(n):
        await publish(subject, payload)
    await nc.flush(timeout=60)
    dt = time.perf_counter() - t0
    await nc.close()
    return dt


async def pub_redis(port: int, subject: str, n: int, payload: bytes) -> float:
    import redis.asyncio as aioredis

    r = aioredis.Redis(host="127.0.0.1", port=port)
    t0 = time.perf_counter()
    left = n
    while left:
        k = min(1000, left)
        pipe = r.pipeline(transaction=False)
        for _ in range(k):
            pipe.publish(subject, payload)
        await pipe.execute()
        left -= k
    dt = time.perf_counter() - t0
    await r.aclose()
    return dt


PUBLISHERS: Dict[str, Callable[[int, str, int, bytes], Any]] = {
    "spate": pub_spate,
    "nats": pub_nats,
    "redis": pub_redis,
}


def publisher_process(kind: str, port: int, subject: str, n: int, size: int, go: Any) -> None:
    go.wait(30)
    asyncio.run(PUBLISHERS[kind](port, subject, n, b"x" * size))


# --- subscribers -----------------------------------------------------------


class Counter:
    def __init__(self, n: int) -> None:
        self.n = n
        self.got = 0
        self.first = 0.0
        self.last = 0.0
        self.done = asyncio.get_running_loop().create_future()

    def hit(self) -> None:
        if self.got == 0:
            self.first = time.perf_counter()
        self.got += 1
        if self.got >= self.n:
            self.last = time.perf_counter()
            if not self.done.done():
                self.done.set_result(None)


async def receive(kind: str, port: int, n: int, size: int) -> Tuple[float, int]:
    subject = "bench.recv"
    cnt = Counter(n)
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    cleanup: List[Any] = []
    if kind == "spate":
        c = await spate.connect(f"127.0.0.1:{port}")
        sub = await c.subscribe(subject, policy=spate.Policy.BLOCK, queue_msgs=100_000, buffer=8192)

        async def run() -> None:
            async for ev in sub:
                if isinstance(ev, spate.Message):
                    cnt.hit()
                    if cnt.got >= n:
                        return
                else:
                    print(f"  spate: {ev}", file=sys.stderr)

        task = asyncio.ensure_future(run())
        cleanup.append(c.close)
    elif kind == "nats":
        import nats

        nc = await nats.connect(f"nats://127.0.0.1:{port}")

        async def cb(msg: Any) -> None:
            cnt.hit()

        await nc.subscribe(subject, cb=cb, pending_msgs_limit=10_000_000, pending_bytes_limit=2**31)
        await nc.flush()
        task = None
        cleanup.append(nc.close)
    else:
        import redis.asyncio as aioredis

        r = aioredis.Redis(host="127.0.0.1", port=port)
        ps = r.pubsub(ignore_subscribe_messages=True)
        await ps.subscribe(subject)

        async def run() -> None:
            async for m in ps.listen():
                if m["type"] == "message":
                    cnt.hit()
                    if cnt.got >= n:
                        return

        task = asyncio.ensure_future(run())
        cleanup.append(ps.aclose)
        cleanup.append(r.aclose)
    proc = ctx.Process(target=publisher_process, args=(kind, port, subject, n, size, go))
    proc.start()
    go.set()
    try:
        await asyncio.wait_for(cnt.done, 120)
    except asyncio.TimeoutError:
        cnt.last = time.perf_counter()
    proc.join(30)
    if task is not None:
        task.cancel()
    for f in cleanup:
        await f()
    return cnt.got / max(1e-9, cnt.last - cnt.first), n - cnt.got


async def bench_one(kind: str, port: int, size: int, n: int) -> Tuple[float, float, int]:
    pub_dt = await PUBLISHERS[kind](port, "bench.pub", n, b"x" * size)
    recv_rate, lost = await receive(kind, port, n, size)
    return n / pub_dt, recv_rate, lost


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    repo = HERE.parents[1]
    default_bin = next(
        (str(p) for p in (repo / "target/release/spate", repo / "target/debug/spate") if p.exists()), "spate"
    )
    ap.add_argument("--spate-bin", default=os.environ.get("SPATE_BIN", default_bin))
    ap.add_argument("--count-16", type=int, default=200_000)
    ap.add_argument("--count-1k", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=1, help="best of R rounds per cell")
    ap.add_argument("--only", default="spate,nats,redis")
    args = ap.parse_args()
    kinds = [k for k in args.only.split(",") if k]
    for k, exe in (("nats", "nats-server"), ("redis", "redis-server")):
        if k in kinds and not shutil.which(exe):
            print(f"{exe} not found; skipping {k}", file=sys.stderr)
            kinds.remove(k)
    results: Dict[Tuple[str, int], Tuple[float, float, int]] = {}
    for kind in kinds:
        proc, port = start_broker(kind, args.spate_bin)
        try:
            for size, n in ((16, args.count_16), (1024, args.count_1k)):
                best = (0.0, 0.0, 0)
                for _ in range(args.rounds):
                    p, r, lost = asyncio.run(bench_one(kind, port, size, n))
                    best = (max(best[0], p), max(best[1], r), max(best[2], lost))
                results[(kind, size)] = best
                print(
                    f"{kind:6} {size:5} B  publish {best[0]:>10,.0f} msg/s  receive {best[1]:>10,.0f} msg/s"
                    f"  lost {best[2]}",
                    file=sys.stderr,
                )
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    print()
    print(
        "| size | measure | "
        + " | ".join(kinds)
        + " | "
        + " | ".join(f"spate/{k}" for k in kinds if k != "spate")
        + " |"
    )
    print("|---|---|" + "---:|" * (len(kinds) + len([k for k in kinds if k != "spate"])))
    for size in (16, 1024):
        for i, measure in ((0, "publish msg/s"), (1, "receive msg/s")):
            row = [f"{results[(k, size)][i]:,.0f}" for k in kinds]
            ratios = []
            if "spate" in kinds:
                s = results[("spate", size)][i]
                ratios = [f"{s / results[(k, size)][i]:.2f}x" for k in kinds if k != "spate"]
            label = "16 B" if size == 16 else "1 KiB"
            print(f"| {label} | {measure} | " + " | ".join(row) + " | " + " | ".join(ratios) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
