"""The test Redis server is really there, answers, and stops by its pid."""

from __future__ import annotations

import os
import socket

from twisted.trial.unittest import SynchronousTestCase

from tests.redisserver import RedisServer, redis_server_binary


def ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64)


class RedisServerTests(SynchronousTestCase):
    def test_the_binary_exists(self) -> None:
        self.assertTrue(os.access(redis_server_binary(), os.X_OK))

    def test_starts_answers_and_stops(self) -> None:
        server = RedisServer().start()
        self.addCleanup(server.close)
        self.assertEqual(ping(server.port), b"+PONG\r\n")
        pid = server.pid
        server.stop()
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)
        with self.assertRaises(OSError):
            ping(server.port)
