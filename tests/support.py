"""Helpers shared by the test modules, importable under pytest and trial."""

from __future__ import annotations

from typing import Any, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from menuchat.config import Limits
from menuchat.core.accounts import Accounts
from menuchat.frontends.menu.factory import MenuChatFactory
from menuchat.service import make_hub
from menuchat.store.memory import MemoryStore

_T = TypeVar("_T")


def resolved(d: Deferred[_T]) -> _T:
    """The result of a Deferred that has fired; its exception if it failed.

    For calls into the memory store, which answer at once.
    """
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    result = results[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result  # type: ignore[no-any-return]


def make_factory(
    clock: IReactorTime, limits: Limits | None = None, store: Any = None
) -> MenuChatFactory:
    """A menu factory around a fresh hub on C{store} (a memory store by default)."""
    limits = limits or Limits()
    store = store or MemoryStore()
    hub = make_hub(store, clock, limits)
    accounts = Accounts(store, clock, maybeDeferred)
    return MenuChatFactory(hub, accounts, clock, limits)
