"""pytest fixtures for what trial's test cases cannot do: real TCP under
pytest-twisted, and pytest's temporary directories.

Helpers for both runners are in L{tests.support}.
"""

from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet.endpoints import serverFromString

from menuchat.config import Limits
from menuchat.tap import with_backlog
from tests.chatclient import TIMEOUT
from tests.support import make_factory


@pytest_twisted.async_yield_fixture
async def server():
    """A menu factory listening on an ephemeral loopback port, and the port."""
    from twisted.internet import reactor

    factory = make_factory(reactor, Limits(max_per_address=1000, line_rate=0))
    endpoint = serverFromString(reactor, with_backlog("tcp:0:interface=127.0.0.1"))
    port = await endpoint.listen(factory)
    yield factory, port.getHost().port
    await port.stopListening()
    await factory.admission.shutdown().addTimeout(TIMEOUT, reactor)


@pytest.fixture
def logfile(tmp_path: Path) -> Path:
    """Where a real server process writes its log."""
    return tmp_path / "menuchat.log"
