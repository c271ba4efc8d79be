"""Run trial's TestCases before the pytest-twisted tests.

A trial TestCase waiting on a Deferred spins the global reactor itself;
once a pytest-twisted test has started the reactor in its greenlet, that
spinning re-enters it (pytest-dev/pytest-twisted#93 and #147): calls from
threads run twice and tests hang. Trial cases that only use fired Deferreds
do not notice; the SQLite store's do. Order within each group is kept.
"""

from __future__ import annotations

import pytest
from twisted.trial.unittest import TestCase


def _is_trial(item: pytest.Item) -> bool:
    cls = getattr(item, "cls", None)
    return cls is not None and issubclass(cls, TestCase)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not _is_trial(item))
