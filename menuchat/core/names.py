"""The naming rules shared by user names and room ids.

A token is 1 to 32 printable characters with no white space, and at least
one of them visible; the comma and colon are refused too, since the user
list reads C{name:id, name:id}. Two tokens are the same when their keys
are: letter case aside, whatever Unicode spelling of the same characters
(NFKC), and whatever look-alike characters from other scripts: the key is
the UTS #39 skeleton, from the Unicode confusables table as the
confusable_homoglyphs package ships it, so C{alice} and C{\u0430lice}
(Cyrillic a) are one name.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import unicodedata

from menuchat.core.errors import InvalidToken, TokenProblem

__all__ = ["MAX_TOKEN_LENGTH", "check_token", "prepare", "token_key"]

MAX_TOKEN_LENGTH = 32


def token_problem(token: str) -> TokenProblem | None:
    """What is wrong with C{token} as a name or room id, if anything."""
    if not token:
        return TokenProblem.EMPTY
    if len(token) > MAX_TOKEN_LENGTH:
        return TokenProblem.TOO_LONG
    if not token.isprintable():
        # Spaces other than U+0020 (no-break, ideographic, ...) are not
        # printable to Python, but to the person typing they are spaces.
        if any(unicodedata.category(c) == "Zs" for c in token):
            return TokenProblem.SPACE
        return TokenProblem.CONTROL
    if " " in token:
        return TokenProblem.SPACE
    if "," in token or ":" in token:
        return TokenProblem.PUNCTUATION
    if not token.isascii() and all(_invisible(c) for c in token):
        return TokenProblem.INVISIBLE
    return None


# Printable characters that show nothing: the Hangul fillers and the blank
# Braille pattern (marks and format characters are told by their category).
_BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _invisible(char: str) -> bool:
    return char in _BLANKS or unicodedata.category(char) in ("Mn", "Me", "Cf")


def check_token(token: str, what: type[InvalidToken]) -> None:
    """Raise C{what} unless C{token} is a valid name or room id."""
    problem = token_problem(token)
    if problem is not None:
        raise what(token, problem)


def token_key(token: str) -> str:
    """What makes two names (or room ids) the same, so that no one can pass
    for someone else with another letter case, encoding or script."""
    if token.isascii():
        # Normal forms change no ASCII text, and case folding is lower():
        # the same key as below, at a quarter of the cost, for most names.
        skeleton = token.lower().translate(_prototypes())
        if skeleton.isascii():
            return skeleton.lower()
        return unicodedata.normalize("NFD", skeleton).casefold()
    folded = unicodedata.normalize(
        "NFD", unicodedata.normalize("NFKC", token).casefold()
    )
    skeleton = folded.translate(_prototypes())
    return unicodedata.normalize("NFD", skeleton).casefold()


def prepare() -> None:
    """Read the confusables table now, at start, not at the first login:
    some 20 ms and a few MiB that would otherwise fall on a user."""
    _prototypes()


@functools.cache
def _prototypes() -> dict[int, str]:
    """Each confusable character's prototype, from the confusables table.

    The table lists, for a prototype, every character confusable with it,
    and for each of those, the prototype: a character's prototype is the
    one among itself and its look-alikes that has the most look-alikes.
    """
    table = json.loads(
        importlib.resources.files("confusable_homoglyphs")
        .joinpath("confusables.json")
        .read_text("utf-8")
    )
    prototypes: dict[int, str] = {}
    for char, alikes in table.items():
        if len(char) != 1:
            continue
        best = max(
            [char, *(a["c"].replace("\u200e", "") for a in alikes)],
            key=lambda c: (len(table.get(c, ())), c),
        )
        if best != char:
            prototypes[ord(char)] = best
    return prototypes
