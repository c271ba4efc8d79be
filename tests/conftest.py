"""pytest fixtures for what trial's test cases cannot do: real TCP under
pytest-twisted, and pytest's temporary directories.

Helpers for both runners are in L{tests.support}.
"""

from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet.endpoints import serverFromString
from twisted.trial.unittest import TestCase

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


def _is_trial(item: pytest.Item) -> bool:
    cls = getattr(item, "cls", None)
    return cls is not None and issubclass(cls, TestCase)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run trial's TestCases before the pytest-twisted tests.

    A trial TestCase waiting on a Deferred spins the global reactor itself;
    once a pytest-twisted test has started the reactor in its greenlet,
    that spinning re-enters it (pytest-dev/pytest-twisted#93 and #147):
    calls from threads run twice and tests hang. Trial cases that only use
    fired Deferreds do not notice; the SQLite store's do. Order within each
    group is kept.
    """
    items.sort(key=lambda item: not _is_trial(item))
