"""The naming rules shared by user names and room ids.

A token is 1 to 32 printable characters with no white space; the comma and
colon are refused too, since the user list reads C{name:id, name:id}. Two
tokens are the same when their keys are: letter case aside, and whatever
Unicode spelling of the same characters (NFKC).
"""

from __future__ import annotations

import unicodedata

from menuchat.core.errors import InvalidToken, TokenProblem

__all__ = ["MAX_TOKEN_LENGTH", "check_token", "token_key"]

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
    return None


def check_token(token: str, what: type[InvalidToken]) -> None:
    """Raise C{what} unless C{token} is a valid name or room id."""
    problem = token_problem(token)
    if problem is not None:
        raise what(token, problem)


def token_key(token: str) -> str:
    """What makes two names (or room ids) the same, so that no one can pass
    for someone else with another letter case or a look-alike encoding."""
    return unicodedata.normalize("NFKC", token).casefold()
