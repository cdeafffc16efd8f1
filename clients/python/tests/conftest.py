"""Fixtures: the real spate broker, started from the built binary on a free
127.0.0.1 port and stopped by its PID. Nothing here builds anything."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, List, Optional, Sequence

import pytest

REPO = Path(__file__).resolve().parents[3]


def find_binary() -> Path:
    env = os.environ.get("SPATE_BIN")
    if env:
        return Path(env)
    for kind in ("debug", "release"):
        p = REPO / "target" / kind / "spate"
        if p.exists():
            return p
    pytest.exit("spate binary not found: set SPATE_BIN or run `cargo build --bin spate`", returncode=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """One broker process on a fixed port; can be stopped and started again."""

    def __init__(self, binary: Path, port: int, args: Sequence[str] = (), config: Optional[str] = None) -> None:
        self.binary = binary
        self.port = port
        self.args = list(args)
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.config_path: Optional[str] = None
        if config is not None:
            fd, self.config_path = tempfile.mkstemp(suffix=".toml")
            with os.fdopen(fd, "w") as f:
                f.write(config)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd: List[str] = [str(self.binary), "serve", "--listen", self.address, "--no-admin", "--log-level", "warn"]
        if self.config_path:
            cmd += ["--config", self.config_path]
        self.proc = subprocess.Popen(cmd + self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"spate exited with {self.proc.returncode}: {cmd}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("spate did not accept connections within 15 s")
                time.sleep(0.02)  # polling for the listener, bounded by the deadline

    def stop(self, graceful: bool = False) -> None:
        """SIGTERM (graceful: GOAWAY, drain) or SIGKILL; waits for the exit."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def close(self) -> None:
        self.stop()
        if self.config_path:
            os.unlink(self.config_path)


@pytest.fixture(scope="session")
def spate_bin() -> Path:
    return find_binary()


@pytest.fixture
def broker(spate_bin: Path) -> Iterator[Broker]:
    b = Broker(spate_bin, free_port())
    b.start()
    yield b
    b.close()


@pytest.fixture
def make_broker(spate_bin: Path) -> Iterator[object]:
    made: List[Broker] = []

    def make(args: Sequence[str] = (), config: Optional[str] = None) -> Broker:
        b = Broker(spate_bin, free_port(), args, config)
        b.start()
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()
