"""Acting on a store's answer without the cost of a callback when it is in.

Every store call returns a Deferred, and the memory store's have fired
before they are returned. Adding a callback to a fired Deferred runs it at
once, through Deferred's general machinery (a few microseconds each): on
the private-message path, that was a third of the server's time. L{settle}
calls its function directly when the answer is already there and is not a
failure, and adds it as a callback otherwise; the outcome is the same.

An L{Answer} is what a Deferred is to the one that fires it: something
told C{callback(result)} or C{errback(failure)}, once. A Deferred is one;
so is a plain object with those two methods, which a hot path can hand to
a call that answers later (L{menuchat.store.Store}'s C{deliver_to}),
without the cost of a Deferred and its callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

__all__ = ["Answer", "ignore", "ready", "result", "settle"]

_T = TypeVar("_T")
_T_contra = TypeVar("_T_contra", contravariant=True)


class Answer(Protocol[_T_contra]):
    """Told the outcome of a call, once: a result or a failure."""

    def callback(self, result: _T_contra) -> object:
        """The call succeeded with C{result}."""

    def errback(self, fail: Failure) -> object:
        """The call failed: C{fail} says why."""


def ready(answer: Deferred[_T]) -> bool:
    """Whether C{answer} holds a result, not a failure. A fired Deferred that
    is not paused has run every callback it had: its result is final."""
    return (
        answer.called and not answer.paused and not isinstance(answer.result, Failure)
    )


def result(answer: Deferred[_T]) -> _T:
    """The result of an answer that is L{ready}."""
    # Deferred.result is untyped; a cast() would be a call of its own here.
    return answer.result  # type: ignore[return-value]


def settle(
    pending: Deferred[_T],
    done: Callable[[_T], object],
    failed: Callable[..., None],
    *failed_args: object,
) -> Deferred[None] | None:
    """Call C{done} with C{pending}'s result, or C{failed} with its failure
    (and C{failed_args}: a method and its arguments need no closure made
    for a failure that most often does not come).

    None when that happened already (the memory store: C{done} is called
    directly, without callbacks); otherwise a Deferred, that never fails,
    firing once it happens, perhaps after a store call C{done} itself made.
    An exception from C{done} goes to C{failed} too.
    """
    if ready(pending):
        try:
            outcome = done(result(pending))
        except Exception:
            failed(Failure(), *failed_args)
            return None
        # Deferred is an ABC (Awaitable): isinstance() on None alone costs
        # a call into abc's checks, once per request.
        if outcome is not None and isinstance(outcome, Deferred):
            # done asked the store again
            return settle(outcome, ignore, failed, *failed_args)
        return None
    pending.addCallback(done).addErrback(failed, *failed_args)
    if pending.called and not pending.paused:
        return None
    finished: Deferred[None] = Deferred()
    pending.addBoth(lambda _: finished.callback(None))
    return finished


def ignore(result: object) -> None:
    """A C{done} with nothing to do: once C{done}'s own answer came, or for
    an outcome known to be a failure."""
