"""Metrics: a real server, used by a few clients, scraped over HTTP.

A real ``twistd -n menuchat --metrics`` process on loopback ports, driven
by blocking sockets and scraped with urllib, so the test runs the same
under pytest and trial.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from twisted.trial.unittest import SynchronousTestCase

from tests.realserver import (
    NAME_PROMPT,
    OPTION_PROMPT,
    TIMEOUT,
    ServerProcess,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


class Peer:
    """A blocking client socket that reads up to what it expects."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.data = b""

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(f"{line}\r\n" for line in lines).encode())

    def read_until(self, marker: str) -> str:
        """Everything up to and including C{marker}, consumed."""
        wanted = marker.encode()
        while wanted not in self.data:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"closed before {marker!r}: {self.data!r}")
            self.data += chunk
        at = self.data.index(wanted) + len(wanted)
        said, self.data = self.data[:at], self.data[at:]
        return said.decode()

    def login(self, name: str) -> int:
        """Log in as C{name}; the id given."""
        self.read_until(NAME_PROMPT)
        self.send(name)
        said = self.read_until(OPTION_PROMPT)
        return int(said.split("Client ID: ")[1].split("\r\n")[0])

    def close(self) -> None:
        self.sock.close()


class MetricsTests(SynchronousTestCase):
    """``--metrics`` on a real server."""

    def setUp(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="menuchat-metrics-"))
        self.addCleanup(shutil.rmtree, directory)
        self.server = ServerProcess(
            directory / "menuchat.log",
            ["--max-clients", "2", "--metrics", "tcp:0:interface=127.0.0.1"],
        ).start()
        self.addCleanup(self.server.kill)
        found = self.server.wait_for_log(r"Site starting on (\d+)")
        self.metrics_port = int(found.group(1))

    def scrape(self) -> Samples:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            self.assertEqual(response.status, 200)
            self.assertIn("text/plain", response.headers["Content-Type"])
            return parse(response.read().decode())

    def peer(self) -> Peer:
        peer = Peer(self.server.port)
        self.addCleanup(peer.close)
        return peer

    def test_scrape_counts_what_happened(self) -> None:
        first = self.scrape()
        self.assertEqual(first[("menuchat_connections", ())], 0)
        self.assertEqual(first[("menuchat_users", (("kind", "registered"),))], 0)

        alice, bob = self.peer(), self.peer()
        alice_id = alice.login("Alice")
        bob.read_until(NAME_PROMPT)
        bob.send("alice")
        bob.read_until(NAME_PROMPT)  # taken: asked again
        bob.send("Bob")
        bob.read_until(OPTION_PROMPT)
        alice.send("4", "lobby")
        alice.read_until("Chat Room lobby")
        bob.send("5", "lobby")
        bob.read_until("Joined to chat room lobby")
        alice.send("hello")
        bob.read_until("Alice> hello")
        bob.send("bye", "2", "a note", str(alice_id))
        bob.read_until("Message sent!")
        self.peer().read_until("the server is full")  # over --max-clients

        seen = self.scrape()
        self.assertEqual(seen[("menuchat_connections", ())], 2)
        self.assertEqual(seen[("menuchat_users", (("kind", "guest"),))], 2)
        self.assertEqual(seen[("menuchat_rooms", ())], 1)
        self.assertEqual(seen[("menuchat_deliveries_total", ())], 2)
        self.assertEqual(seen[("menuchat_private_messages_total", ())], 1)
        self.assertEqual(
            seen[("menuchat_refusals_total", (("reason", "server_full"),))], 1
        )
        # Three names, two options and room ids, a room line, bye, option 2
        # and its two answers.
        self.assertGreaterEqual(seen[("menuchat_lines_in_total", ())], 11)
        self.assertGreater(seen[("menuchat_output_queue_high_water_bytes", ())], 100)
        self.assertEqual(
            seen[("menuchat_store_call_seconds_count", (("call", "deliver"),))], 1
        )
        self.assertEqual(
            seen[("menuchat_login_failures_total", (("reason", "name_taken"),))], 1
        )


class LatencyCountsTests(SynchronousTestCase):
    """The store latency histogram, kept in integers and built when scraped."""

    def test_observations_land_in_their_buckets(self):
        from menuchat.metrics import LatencyCounts

        counts = LatencyCounts()
        for seconds in (0.0, 0.0, 0.0003, 0.002, 7.0):
            counts.observe("deliver", seconds)
        counts.observe("unread", 0.0)
        (family,) = counts.collect()
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples
        }
        deliver = (("call", "deliver"),)
        assert samples[("menuchat_store_call_seconds_count", deliver)] == 5
        assert samples[("menuchat_store_call_seconds_sum", deliver)] == 7.0023
        bucket = "menuchat_store_call_seconds_bucket"
        assert samples[(bucket, (*deliver, ("le", "0.0001")))] == 2
        assert samples[(bucket, (*deliver, ("le", "0.0005")))] == 3
        assert samples[(bucket, (*deliver, ("le", "0.005")))] == 4
        assert samples[(bucket, (*deliver, ("le", "5.0")))] == 4
        assert samples[(bucket, (*deliver, ("le", "+Inf")))] == 5
        assert (
            samples[("menuchat_store_call_seconds_count", (("call", "unread"),))] == 1
        )
