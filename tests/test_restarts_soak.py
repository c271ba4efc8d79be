"""The restarts soak, small: mail through SIGTERM and SIGKILL, none lost.

bench/restarts.py with 20 clients (6 registered) and lives of 1.5 s: a real
twistd on one SQLite file, stopped by SIGTERM, then killed by SIGKILL in
the middle of the traffic, then stopped at the end. Every message the
server acknowledged to a registered user is read, and nothing else.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor

from bench.restarts import parse, problems, soak

pytestmark = pytest.mark.timeout(60)


@pytest_twisted.ensureDeferred
async def test_no_acknowledged_message_is_lost_through_restarts(
    tmp_path: Path,
) -> None:
    args = parse(["--clients", "20", "--registered", "6", "--seconds", "1.5"])
    run = await soak(reactor, args, tmp_path)
    assert problems(run) == []
    assert len(run.acked) > 50  # the lives had traffic to lose
    assert run.too_late + len(run.unanswered) > 0  # and the ends came mid-way
