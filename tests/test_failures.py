"""How a front-end logs a request that failed: a store that cannot answer
in one line, a fault with its traceback; and a call no one waits for, if
it fails."""

from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger, LogLevel, capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from menuchat.frontends.failures import log_failure, log_if_fails
from menuchat.store import StoreError


def failure(error: Exception) -> Failure:
    try:
        raise error
    except Exception:
        return Failure()


class LogFailureTests(SynchronousTestCase):
    log = Logger()

    def test_a_store_that_cannot_answer_is_one_warning_line(self) -> None:
        with capturedLogs() as events:
            log_failure(self.log, "Request failed", failure(StoreError("db: down")))
        assert [formatEvent(e) for e in events] == ["Request failed: db: down"]
        assert [e["log_level"] for e in events] == [LogLevel.warn]
        assert "log_failure" not in events[0]
        assert self.flushLoggedErrors() == []

    def test_anything_else_is_a_fault_with_its_traceback(self) -> None:
        with capturedLogs() as events:
            log_failure(self.log, "Request failed", failure(RuntimeError("bug")))
        [event] = events
        assert event["log_level"] == LogLevel.critical
        assert event["log_failure"].check(RuntimeError)
        assert formatEvent(event) == "Request failed"
        assert len(self.flushLoggedErrors(RuntimeError)) == 1


class LogIfFailsTests(SynchronousTestCase):
    log = Logger()

    def test_a_call_that_fails_later_is_logged_as_log_failure_does(self) -> None:
        pending: Deferred[None] = Deferred()
        with capturedLogs() as events:
            log_if_fails(self.log, "Logout failed", pending)
            assert events == []
            pending.errback(failure(StoreError("db: down")))
        assert [formatEvent(e) for e in events] == ["Logout failed: db: down"]
        assert self.successResultOf(pending) is None  # handled

    def test_a_call_that_failed_already_is_logged(self) -> None:
        with capturedLogs() as events:
            log_if_fails(self.log, "Logout failed", fail(RuntimeError("bug")))
        assert [formatEvent(e) for e in events] == ["Logout failed"]
        assert len(self.flushLoggedErrors(RuntimeError)) == 1

    def test_a_call_that_succeeded_is_left_as_it_is(self) -> None:
        done = Watched()
        done.callback(None)
        with capturedLogs() as events:
            log_if_fails(self.log, "Logout failed", done)
        assert events == []
        assert done.errbacks == 0  # nothing added, nothing run


class Watched(Deferred[None]):
    """A Deferred that counts the errbacks added to it."""

    errbacks = 0

    def addErrback(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.errbacks += 1
        return super().addErrback(*args, **kwargs)
