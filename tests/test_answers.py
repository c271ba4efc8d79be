"""Acting on a store's answer (core/answers.py)."""

from __future__ import annotations

from twisted.internet.defer import Deferred, fail, succeed
from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.answers import settle


class SettleTests(SynchronousTestCase):
    def test_an_answer_that_is_in_is_acted_on_at_once(self):
        seen = []
        assert settle(succeed(3), seen.append, seen.append) is None
        assert seen == [3]

    def test_a_failure_goes_to_failed(self):
        seen = []
        assert settle(fail(KeyError("x")), seen.append, seen.append) is None
        assert seen[0].check(KeyError)

    def test_an_exception_in_done_goes_to_failed(self):
        seen = []

        def done(value):
            raise ValueError(value)

        assert settle(succeed(3), done, seen.append) is None
        assert seen[0].check(ValueError)

    def test_a_late_answer_gives_a_deferred_that_fires_after_done(self):
        seen = []
        pending = Deferred()
        finished = settle(pending, seen.append, seen.append)
        assert finished is not None and not finished.called
        pending.callback(5)
        assert seen == [5]
        assert self.successResultOf(finished) is None

    def test_done_waiting_on_another_answer_is_waited_for(self):
        inner = Deferred()
        finished = settle(succeed(1), lambda _: inner, lambda f: None)
        assert finished is not None and not finished.called
        inner.callback(None)
        assert finished.called
        inner = Deferred()
        late = Deferred()
        finished = settle(late, lambda _: inner, lambda f: None)
        late.callback(1)
        assert finished is not None and not finished.called
        inner.callback(None)
        assert finished.called

    def test_a_failure_of_the_answer_done_waited_on_goes_to_failed(self):
        seen = []
        assert settle(succeed(1), lambda _: fail(KeyError("x")), seen.append) is None
        assert seen[0].check(KeyError)
        inner = Deferred()
        finished = settle(succeed(1), lambda _: inner, seen.append)
        inner.errback(ValueError("y"))
        assert seen[1].check(ValueError)
        assert finished is not None and finished.called

    def test_failed_is_given_its_arguments_whenever_the_failure_comes(self):
        failures = []

        def failed(reason, *args):
            failures.append((type(reason.value), args))

        assert settle(fail(KeyError()), lambda r: None, failed, "a", 1) is None
        late: Deferred[int] = Deferred()
        pending = settle(late, lambda r: None, failed, "b")
        late.errback(ValueError())
        self.successResultOf(pending)
        waited: Deferred[int] = Deferred()
        settle(succeed(1), lambda r: waited, failed, "c")
        waited.errback(TypeError())

        def done(value):
            raise LookupError(value)

        settle(succeed(2), done, failed, "d")
        assert failures == [
            (KeyError, ("a", 1)),
            (ValueError, ("b",)),
            (TypeError, ("c",)),
            (LookupError, ("d",)),
        ]

    def test_what_done_returns_other_than_a_deferred_is_ignored(self):
        seen = []
        assert settle(succeed(3), lambda value: value * 2, seen.append) is None
        late: Deferred[int] = Deferred()
        pending = settle(late, lambda value: value * 2, seen.append)
        late.callback(4)
        assert self.successResultOf(pending) is None
        assert seen == []
