"""How a front-end logs a request that failed."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from menuchat.core.answers import ready
from menuchat.store import StoreError

__all__ = ["log_failure", "log_if_fails"]


def log_failure(log: Logger, what: str, reason: Failure) -> None:
    """Log that C{what} failed for C{reason}: a store that cannot answer (a
    L{StoreError}: its message is one line, and the store logs it too) in
    one line, as a warning; anything else, a fault, with its traceback.

    A store that is down fails every request until it is back: a
    traceback for each was a page of log a message, saying nothing more.
    """
    if reason.check(StoreError):
        log.warn("{what}: {reason}", what=what, reason=reason.getErrorMessage())
    else:
        log.failure(what, reason)


def log_if_fails(log: Logger, what: str, pending: Deferred[Any]) -> None:
    """Log that C{what} failed (L{log_failure}) if C{pending} fails: for a
    call whose outcome no one waits for (a logout). One that succeeded
    already, as on the memory store, is left as it is: no errback to run."""
    if not ready(pending):
        pending.addErrback(lambda reason: log_failure(log, what, reason))
