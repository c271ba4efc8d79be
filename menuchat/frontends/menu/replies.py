"""Replies still to come, and what a session says after them, kept in order.

A private message's answer waits for the store (C{Message sent!} is written
once the message is committed), but what the session does after it does
not depend on that answer: at the menu it is back at the option prompt
whatever the store says, in a room it stays in the room. So the session
goes on reading the person's next lines while the store commits, and its
answers leave in the order of the lines: L{HeldOutput} stands in for the
session's output while an answer is owed, keeps everything written after
it, and lets it go once the answers before it are in. A connection with
many messages in flight then pays one commit for all of them, not one
commit each in turn. Only a read of the mailbox waits for the answers owed
before it (L{menuchat.frontends.menu.base.SessionBase._after_owed}): a
message to oneself is there once acknowledged.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from menuchat.frontends.menu.base import Output
    from menuchat.net.output import SharedLines

__all__ = ["MAX_OWED", "HeldOutput", "Owed"]

#: Answers a session may owe at once; past that, it reads no further line
#: until the oldest is in (a client cannot queue work without bound).
MAX_OWED = 16

_Action = Callable[["Output"], None]


class Owed:
    """One answer still to come, and what was written after it: texts to
    write, joined while nothing else comes between, and other actions.
    (A reply that is told its answer later can be one.)"""

    __slots__ = ("after", "text")

    def __init__(self) -> None:
        self.text: str | None = None
        self.after: list[str | _Action] = []


class HeldOutput:
    """A session's output while it owes answers (an L{Output} too).

    Answers paid during a turn are written at its end (L{Output.at_turn_end}),
    together: the answers a store gives in one transaction to one session
    leave in one write with what follows them, not one write each.

    @param output: the connection, where everything goes in the end.
    @param done: called once nothing is owed any more (the session writes
        to C{output} directly again).
    """

    def __init__(self, output: Output, done: Callable[[], None]) -> None:
        self.output = output
        self._done = done
        self._owed: deque[Owed] = deque()
        self._releasing = False

    def __len__(self) -> int:
        return len(self._owed)

    def owe(self, owed: Owed | None = None) -> Owed:
        """Keep a place for an answer (C{owed}, or a new one): what is
        written from now on follows it."""
        if owed is None:
            owed = Owed()
        self._owed.append(owed)
        return owed

    def pay(self, owed: Owed, text: str) -> None:
        """C{owed}'s answer is C{text}: written, with every answer before it
        and what follows them, at the end of the turn."""
        owed.text = text
        if not self._releasing and self._owed and self._owed[0].text is not None:
            self._releasing = True
            self.output.at_turn_end(self._release)

    def _release(self) -> None:
        """Write every answer in, in order, up to the first still owed."""
        self._releasing = False
        queue = self._owed
        output = self.output
        pieces: list[str] = []
        while queue and queue[0].text is not None:
            first = queue.popleft()
            pieces.append(cast(str, first.text))
            for action in first.after:
                if isinstance(action, str):
                    pieces.append(action)
                    continue
                if pieces:
                    output.write("".join(pieces))
                    pieces = []
                action(output)
        if pieces:
            output.write("".join(pieces))
        if not queue:
            self._done()

    def abandon(self) -> None:
        """Forget what is owed and what waits behind it (the session ends)."""
        self._owed.clear()
        self._releasing = True  # and write nothing more

    def _later(self, action: _Action) -> None:
        if self._owed:
            self._owed[-1].after.append(action)
        else:
            action(self.output)

    # Output

    def write(self, text: str) -> None:
        owed = self._owed
        if not owed:
            self.output.write(text)
            return
        after = owed[-1].after
        if after and isinstance(after[-1], str):
            after[-1] += text
        else:
            after.append(text)

    def write_bytes(self, data: bytes) -> None:
        self._later(lambda output: output.write_bytes(data))

    def write_shared(self, shared: SharedLines) -> None:
        # Lines said after these would join them, ahead of the answer owed:
        # sealed, they take no more, and the next line is shared anew.
        data = shared.seal()
        self._later(lambda output: output.write_bytes(data))

    def close(self) -> None:
        self._later(lambda output: output.close())

    def hide_input(self, hidden: bool) -> None:
        self._later(lambda output: output.hide_input(hidden))

    def logged_in(self, name: str, user_id: int) -> None:
        self.output.logged_in(name, user_id)

    def at_turn_end(self, call: Callable[[], None]) -> None:
        self.output.at_turn_end(call)

    def at_read_end(self, call: Callable[[], None]) -> None:
        self.output.at_read_end(call)

    def reply_later(self) -> None:
        """Nothing to do: all that is written here waits for the answers."""

    @property
    def address(self) -> str:
        return self.output.address

    @property
    def secure(self) -> bool:
        return self.output.secure
