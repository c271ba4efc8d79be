"""IRC on the wire: parsing a line, formatting one, nicks and masks.

Parsing is C{twisted.words.protocols.irc.parsemsg}'s, after IRCv3 tags
(never negotiated here) are set aside. A formatted line is at most 512
bytes with its CRLF and is cut, if it must be, on a character boundary.
"""

from __future__ import annotations

import re

from twisted.words.protocols.irc import IRCBadMessage, parsemsg

from menuchat.frontends.menu.base import clean

__all__ = [
    "MAX_LINE",
    "Parsed",
    "from_irc",
    "irc_nick",
    "is_channel",
    "line",
    "mask",
    "nick_problem",
    "parse",
    "to_irc",
]

#: Bytes of a line, without its CRLF.
MAX_LINE = 510

Parsed = tuple[str, list[str]]

# Characters an IRC nick may not hold, and those it may not start with
# (channel types, the prefixes of NAMES, the trailing parameter's colon).
_UNSAFE = re.compile(r"[!@*?\s]")
_LEADING = frozenset("#&$:+~%")

# mIRC formatting: colours, bold, italics, underline, reverse, reset.
_FORMATTING = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?"
    r"|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)

ACTION = "/me "


def parse(text: str) -> Parsed | None:
    """The command (upper case) and parameters of a line; None if empty."""
    if text.startswith("@"):  # IRCv3 tags: not negotiated, set aside
        _, _, text = text.partition(" ")
    text = text.strip(" ")
    if not text:
        return None
    try:
        _, command, params = parsemsg(text)
    except (IRCBadMessage, IndexError, ValueError):
        return None
    if not command:
        return None
    return command.upper(), params


def line(prefix: str | None, command: str, *params: str) -> bytes:
    """One line, its last parameter as a trailing one, cut to 512 bytes
    with the CRLF on a character boundary."""
    parts = [f":{prefix}", command] if prefix else [command]
    if params:
        parts.extend(params[:-1])
        parts.append(":" + params[-1])
    data = " ".join(parts).encode()
    if len(data) > MAX_LINE:
        # What is cut off the end is at most a part of one character.
        data = data[:MAX_LINE].decode("utf-8", "ignore").encode()
    return data + b"\r\n"


def irc_nick(name: str) -> str:
    """A menuchat name as an IRC nick: characters IRC reserves become C{_}."""
    if _UNSAFE.search(name) is None and name[:1] not in _LEADING:
        return name
    nick = _UNSAFE.sub("_", name)
    return "_" + nick[1:] if nick[:1] in _LEADING else nick


def nick_problem(nick: str) -> bool:
    """Whether C{nick} may not be an IRC user's name (beyond the hub's rules)."""
    return irc_nick(nick) != nick or not nick.isprintable() or "," in nick


def mask(name: str, user_id: int, host: str) -> str:
    """The source of a user's lines: C{nick!id@host}; the id never changes."""
    return f"{irc_nick(name)}!{user_id}@{host}"


def is_channel(target: str) -> bool:
    return target.startswith("#")


def from_irc(text: str) -> str | None:
    """What an IRC client sent, as room or mail text: formatting and control
    characters out, a CTCP ACTION as C{/me ...}; None for other CTCP."""
    if text.isprintable():
        # No formatting (every code of it is a control character), no CTCP.
        return text.strip()
    if text.startswith("\x01"):
        body = text.strip("\x01")
        if not body.upper().startswith("ACTION "):
            return None
        text = ACTION + body[7:]
    return clean(_FORMATTING.sub("", text)).strip()


def to_irc(text: str) -> str:
    """Room or mail text as IRC shows it: C{/me ...} as a CTCP ACTION."""
    if text.startswith(ACTION):
        return f"\x01ACTION {text[len(ACTION) :]}\x01"
    return text
