"""How a front-end logs a request that failed: a store that cannot answer
in one line, a fault with its traceback."""

from twisted.logger import Logger, LogLevel, capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from menuchat.frontends.failures import log_failure
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
