"""The held output: answers still to come, and what follows them, in order."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from menuchat.frontends.menu.replies import HeldOutput
from tests.support import Screen


class HeldOutputTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.screen = Screen()
        self.done: list[bool] = []
        self.held = HeldOutput(self.screen, lambda: self.done.append(True))

    def test_what_follows_an_answer_waits_for_it(self) -> None:
        owed = self.held.owe()
        self.held.write("prompt after it")
        self.held.write_bytes(b" and bytes")
        self.assertEqual(self.screen.text, "")
        self.held.pay(owed, "answer. ")
        self.assertEqual(self.screen.text, "answer. prompt after it and bytes")
        self.assertEqual(self.done, [True])
        self.assertEqual(len(self.held), 0)

    def test_answers_leave_in_the_order_they_were_owed(self) -> None:
        first = self.held.owe()
        self.held.write("1 ")
        second = self.held.owe()
        self.held.write("2 ")
        self.held.pay(second, "B ")
        self.assertEqual(self.screen.text, "")
        self.assertEqual(self.done, [])
        self.held.pay(first, "A ")
        self.assertEqual(self.screen.text, "A 1 B 2 ")
        self.assertEqual(self.done, [True])

    def test_a_close_and_hidden_input_wait_their_turn(self) -> None:
        owed = self.held.owe()
        self.held.hide_input(True)
        self.held.close()
        self.assertFalse(self.screen.closed)
        self.held.pay(owed, "last words")
        self.assertEqual(self.screen.text, "last words")
        self.assertTrue(self.screen.closed)
        self.assertTrue(self.screen.hidden)

    def test_abandoned_answers_are_never_written(self) -> None:
        owed = self.held.owe()
        self.held.write("after")
        self.held.abandon()
        self.held.pay(owed, "too late")
        self.assertEqual(self.screen.text, "")

    def test_the_rest_goes_straight_through(self) -> None:
        calls: list[str] = []
        self.held.owe()
        self.held.logged_in("Nina", 7)
        self.held.at_turn_end(lambda: calls.append("turn end"))
        self.assertEqual(self.screen.admitted, ("Nina", 7))
        self.assertEqual(calls, ["turn end"])
        self.assertEqual(self.held.address, "127.0.0.1")
        self.assertTrue(self.held.secure)

    def test_texts_after_an_answer_go_with_it_in_order_with_the_rest(self) -> None:
        calls: list[object] = []
        output = Screen()
        output.write = lambda text: calls.append(text)  # type: ignore[method-assign]
        output.write_bytes = lambda data: calls.append(data)  # type: ignore[method-assign]
        output.close = lambda: calls.append("close")  # type: ignore[method-assign]
        held = HeldOutput(output, lambda: calls.append("done"))
        first = held.owe()
        held.write("a ")
        held.write("b ")
        held.write_bytes(b"c ")
        held.write("d ")
        held.write("e ")
        second = held.owe()
        held.close()
        held.write("f ")
        held.pay(second, "B ")
        assert calls == []
        held.pay(first, "A ")
        assert calls == ["A a b ", b"c ", "d e B ", "close", "f ", "done"]

    def test_the_answers_paid_in_a_turn_leave_at_its_end_in_one_write(self) -> None:
        writes: list[str] = []
        turn_end: list[Any] = []
        output = Screen()
        output.write = lambda text: writes.append(text)  # type: ignore[method-assign]
        output.at_turn_end = turn_end.append  # type: ignore[method-assign]
        held = HeldOutput(output, lambda: writes.append("done"))
        first = held.owe()
        held.write("prompt 1 ")
        second = held.owe()
        held.write("prompt 2 ")
        third = held.owe()
        held.pay(first, "A ")
        held.pay(second, "B ")
        assert writes == []
        assert len(turn_end) == 1  # one call at the turn's end, not one a pay
        held.write("later ")  # still behind the answers
        turn_end.pop()()
        assert writes == ["A prompt 1 B prompt 2 "]
        held.pay(third, "C ")
        turn_end.pop()()
        assert writes == ["A prompt 1 B prompt 2 ", "C later ", "done"]
        assert len(held) == 0

    def test_with_nothing_owed_everything_goes_straight_through(self) -> None:
        self.held.write("at once ")
        self.held.write_bytes(b"bytes")
        self.held.hide_input(True)
        self.held.close()
        self.assertEqual(self.screen.text, "at once bytes")
        self.assertTrue(self.screen.hidden)
        self.assertTrue(self.screen.closed)

    def test_an_abandoned_output_writes_nothing_more(self) -> None:
        self.held.owe()
        self.held.abandon()
        owed = self.held.owe()  # owed again after the session ended
        self.held.write("after")
        self.held.pay(owed, "too late")
        self.assertEqual(self.screen.text, "")
        self.assertEqual(self.done, [])
