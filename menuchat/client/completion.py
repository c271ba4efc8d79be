"""What Tab completes: slash commands, and the names the client has seen.

No terminal here: L{Completer} reads the server's lines for names and
answers what the word before the cursor could become; the line editor
(L{menuchat.client.terminal}) inserts it or shows the choices.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

__all__ = ["COMMANDS", "Completer", "Completion", "common_prefix"]

COMMANDS = (
    "/who",
    "/msg",
    "/read",
    "/rooms",
    "/create",
    "/join",
    "/leave",
    "/quit",
    "/help",
    "/kick",
    "/mute",
    "/unmute",
    "/owner",
    "/topic",
    "/close",
    "/broadcast",
    "/disconnect",
)

# Commands that take nothing after them: completing one adds no space.
_BARE = frozenset({"/who", "/read", "/rooms", "/leave", "/quit", "/help", "/close"})

# Lines that name users: "Users in server: A:1, B:2", "In this room: A, B",
# "A joined", and room lines "A> text", live or from the room's history
# ("[17:45] A> text"). Names have no spaces, commas or colons.
_USERS = re.compile(r"Users in server: (.+)")
_MEMBERS = re.compile(r"In this room: (.+)")
_JOINED = re.compile(r"(\S+) joined")
_SAID = re.compile(r"(?:\[[^\]]*\] )?(\S+)> ")


@attrs.frozen
class Completion:
    """What the word before the cursor can become.

    @ivar start: where the word starts in the text before the cursor.
    @ivar word: what replaces the word: the one candidate (and a space
        if an argument follows it), or the longest start all the candidates
        share, or the word itself when they share no more.
    @ivar candidates: every match, sorted; empty when nothing matches.
    """

    start: int
    word: str
    candidates: tuple[str, ...]


def common_prefix(words: Iterable[str]) -> str:
    """The longest start the C{words} share, letter case aside.

    Its letters are spelt as in the first word.
    """
    words = list(words)
    if not words:
        return ""
    first = words[0]
    length = len(first)
    for word in words[1:]:
        length = min(length, len(word))
        for i in range(length):
            if first[i].casefold() != word[i].casefold():
                length = i
                break
    return first[:length]


class Completer:
    """The names seen in the server's lines, and completion against them.

    Keeps the C{max_names} names seen last, in the order they were seen.
    """

    max_names = 10000

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    @property
    def names(self) -> list[str]:
        """The names seen, oldest first."""
        return list(self._names.values())

    def observe(self, line: str) -> None:
        """Learn the names that C{line}, as the server sent it, shows."""
        found: list[str] = []
        if match := _USERS.fullmatch(line):
            found = [entry.rpartition(":")[0] for entry in match[1].split(", ")]
        elif match := _MEMBERS.fullmatch(line):
            found = match[1].split(", ")
        elif (match := _JOINED.fullmatch(line)) or (match := _SAID.match(line)):
            found = [match[1]]
        for name in found:
            if name and not any(c in name for c in " ,:"):
                self._remember(name)

    def _remember(self, name: str) -> None:
        key = name.casefold()
        self._names.pop(key, None)
        self._names[key] = name
        if len(self._names) > self.max_names:
            del self._names[next(iter(self._names))]

    def complete(self, before: str) -> Completion:
        """Complete the last word of C{before}, the text before the cursor.

        The first word of a line that starts with C{/} is a command; any
        other word is a name. Matching ignores letter case. An empty word
        completes to nothing.
        """
        start = before.rfind(" ") + 1
        word = before[start:]
        if not word:
            return Completion(start, word, ())
        command = start == 0 and word.startswith("/")
        pool = COMMANDS if command else self._names.values()
        folded = word.casefold()
        candidates = tuple(
            sorted(
                (c for c in pool if c.casefold().startswith(folded)),
                key=str.casefold,
            )
        )
        if len(candidates) == 1:
            (only,) = candidates
            return Completion(start, only if only in _BARE else only + " ", candidates)
        prefix = common_prefix(candidates)
        return Completion(
            start, prefix if len(prefix) > len(word) else word, candidates
        )
