"""Log events: login, logout and refusals with fields; JSON lines for shippers."""

from __future__ import annotations

import io
import json
import os
import select
import signal
import socket
import subprocess
import time
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import Logger, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.logs import json_observer
from tests.realserver import NAME_PROMPT, ROOT, TIMEOUT, twistd_command
from tests.support import make_factory

QUIET = Limits(login_timeout=0, close_timeout=0, max_per_address=1)


def connect(factory: Any, port: int) -> tuple[Any, StringTransport]:
    protocol = factory.buildProtocol(IPv4Address("TCP", "10.0.0.1", port))
    transport = StringTransport(peerAddress=IPv4Address("TCP", "10.0.0.1", port))
    protocol.makeConnection(transport)
    return protocol, transport


def by_event(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("event") == name]


class EventTests(SynchronousTestCase):
    """One event per login, logout and refusal summary, with its fields."""

    def test_login_and_logout(self) -> None:
        clock = Clock()
        factory = make_factory(clock, QUIET)
        with capturedLogs() as events:
            protocol, _ = connect(factory, 1)
            protocol.dataReceived(b"Nina\r\n6\r\n")
            protocol.connectionLost()
        [login] = by_event(events, "login")
        self.assertEqual(
            (login["name"], login["id"], login["peer"]), ("Nina", 1, "10.0.0.1:1")
        )
        [logout] = by_event(events, "logout")
        self.assertEqual((logout["name"], logout["id"]), ("Nina", 1))

    def test_a_storm_of_refusals_is_one_line_a_second(self) -> None:
        clock = Clock()
        factory = make_factory(clock, QUIET)
        with capturedLogs() as events:
            connect(factory, 1)  # admitted: the address is now full
            for port in range(2, 502):
                connect(factory, port)
            self.assertEqual(by_event(events, "refusal"), [])
            clock.advance(1)
            [summary] = by_event(events, "refusal")
            self.assertEqual(
                (summary["reason"], summary["count"]), ("address_full", 500)
            )
            connect(factory, 600)
            clock.advance(1)
            self.assertEqual(
                [e["count"] for e in by_event(events, "refusal")], [500, 1]
            )
        self.assertEqual(clock.getDelayedCalls(), [])


class JSONObserverTests(SynchronousTestCase):
    """menuchat.logs.json_observer: one JSON object a line."""

    def test_event_fields_and_text(self) -> None:
        out = io.StringIO()
        log = Logger(observer=json_observer(out), namespace="test")
        log.info("{name} logged in", event="login", name="Nina", user_id=7)
        [line] = out.getvalue().splitlines()
        record = json.loads(line)
        self.assertEqual(record["event"], "login")
        self.assertEqual(record["user_id"], 7)
        self.assertEqual(record["text"], "Nina logged in")

    def test_twistd_logger_option(self) -> None:
        """``twistd --logger menuchat.logs.json_observer`` writes JSON lines."""
        proc = subprocess.Popen(
            [
                *twistd_command(),
                "-n",
                "--pidfile=",
                "--logger",
                "menuchat.logs.json_observer",
                "menuchat",
                "--port",
                "tcp:0:interface=127.0.0.1",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.addCleanup(proc.kill)
        self.addCleanup(proc.wait)
        assert proc.stdout is not None
        records = Lines(proc.stdout.fileno())
        started = records.until(lambda r: "starting on" in r["text"])
        port = int(started["text"].rsplit(" ", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            data = b""
            while NAME_PROMPT.encode() not in data:
                data += sock.recv(4096)
            sock.sendall(b"Nina\r\n")
            login = records.until(lambda r: r.get("event") == "login")
        self.assertEqual(login["name"], "Nina")
        records.until(lambda r: r.get("event") == "logout")
        proc.send_signal(signal.SIGTERM)
        proc.wait(TIMEOUT)


class Lines:
    """JSON lines read from a pipe, with a deadline."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""

    def until(self, wanted: Any) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                record: dict[str, Any] = json.loads(line)
                if wanted(record):
                    return record
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._fd], [], [], left)[0]:
                raise AssertionError("no such log line in time")
            chunk = os.read(self._fd, 65536)
            if not chunk:
                raise AssertionError("twistd ended")
            self._buffer += chunk
