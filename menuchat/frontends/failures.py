"""How a front-end logs a request that failed."""

from __future__ import annotations

from twisted.logger import Logger
from twisted.python.failure import Failure

from menuchat.store import StoreError

__all__ = ["log_failure"]


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
