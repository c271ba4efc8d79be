"""The server's side of the wire as a terminal should show it: lines and a prompt.

No Twisted here: L{ServerStream} takes bytes as they arrive and gives back
the lines they complete and the prompt after them, decoded and made safe
for a terminal. L{menuchat.client.conversation} feeds it from the
connection. The dialogue's own phrases come from
L{menuchat.frontends.menu.texts}, the only server module the client imports.
"""

from __future__ import annotations

import codecs
import re

from menuchat.frontends.menu import texts

__all__ = ["GOODBYE", "KNOWN_PROMPTS", "ServerStream", "encode_line", "printable"]

GOODBYE = texts.GOODBYE.rstrip()

# The prompts of the menuchat dialogue, which the client recognises where
# the bytes alone are ambiguous (see ServerStream).
KNOWN_PROMPTS = tuple(prompt for prompt in texts.PROMPTS if prompt)

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """C{text} safe for a terminal: tabs expanded, other controls as U+FFFD.

    Nothing a server sends may move the user's cursor, ring the bell or
    start an escape sequence.
    """
    if "\t" in text:
        text = text.expandtabs(8)
    return _CONTROL.sub("\ufffd", text)


def encode_line(text: str) -> bytes:
    """C{text} as one line on the wire: UTF-8, ended by CRLF."""
    return text.replace("\r", "").replace("\n", "").encode("utf-8") + b"\r\n"


def _decode_partial(data: bytes) -> str:
    """Decode C{data}, leaving out a character whose last bytes are missing."""
    return codecs.getincrementaldecoder("utf-8")("replace").decode(data)


class ServerStream:
    """What a server sends, as complete lines and the current prompt.

    Lines end in LF, with or without a CR before it, and are decoded from
    UTF-8 only once whole, so a character split across reads is decoded
    when its last byte arrives. The bytes after the last line end are the
    prompt.

    Otherwise the bytes are taken as they come, as telnet would show them,
    with two exceptions for the dialogue's own prompts (L{KNOWN_PROMPTS}):
    a line that is nothing but one is a prompt finished, not a line (the
    server sends CRLF, a notice and the prompt again to a user sitting at a
    prompt), and one at the start of a longer line is split off it (lines
    typed ahead are answered before the reply reaches the client, so the
    reply arrives glued to its prompt: C{"Your option <enter a number>:
    Goodbye"}).

    @ivar prompt: the partial line, decoded and made L{printable}.
    @ivar said_goodbye: whether the last complete line was C{Goodbye}, the
        server's answer to option 6.
    """

    max_line_length = 65536

    def __init__(self) -> None:
        self._partial = b""
        self._command = b""
        self.prompt = ""
        self.said_goodbye = False
        self.hiding_input = False

    def _take_commands(self, data: bytes) -> bytes:
        """C{data} without telnet commands (UTF-8 never holds the byte 255).

        The server offers to echo (IAC WILL ECHO) while a password is typed
        and withdraws the offer (IAC WONT ECHO) after: L{hiding_input} says
        which holds. A command split across reads is kept until it is whole.
        """
        if self._command:
            data, self._command = self._command + data, b""
        if b"\xff" not in data:
            return data
        kept = bytearray()
        start = 0
        while (at := data.find(b"\xff", start)) >= 0:
            kept += data[start:at]
            size = 3 if data[at + 1 : at + 2] in _NEGOTIATIONS else 2
            if at + size > len(data):
                self._command = data[at:]
                return bytes(kept)
            if data[at + 1 : at + 3] in (_WILL_ECHO, _WONT_ECHO):
                self.hiding_input = data[at + 1 : at + 3] == _WILL_ECHO
            start = at + size
        kept += data[start:]
        return bytes(kept)

    def feed(self, data: bytes) -> list[str]:
        """Take one read's bytes; return the lines it completes, in order."""
        data = self._take_commands(data)
        raw = (self._partial + data).split(b"\n")
        partial = raw.pop()
        while len(partial) > self.max_line_length:
            raw.append(partial[: self.max_line_length])
            partial = partial[self.max_line_length :]
        lines = [
            part
            for text in map(_render, raw)
            if text not in KNOWN_PROMPTS
            for part in _unglue(text)
        ]
        if lines:
            self.said_goodbye = lines[-1] == GOODBYE
        self._partial = partial
        self.prompt = printable(_decode_partial(partial.removesuffix(b"\r")))
        return lines

    def answer(self) -> None:
        """The user answered the prompt: what comes next starts a new line."""
        self._partial = b""
        self.prompt = ""

    def finish(self) -> list[str]:
        """The connection closed: the line left unfinished, unless a prompt."""
        partial, self._partial = self._partial, b""
        self.prompt = ""
        text = _render(partial)
        if not text or text in KNOWN_PROMPTS:
            return []
        return [text]


_NEGOTIATIONS = (b"\xfb", b"\xfc", b"\xfd", b"\xfe")  # WILL, WONT, DO, DONT
_WILL_ECHO = b"\xfb\x01"
_WONT_ECHO = b"\xfc\x01"


def _render(line: bytes) -> str:
    return printable(line.removesuffix(b"\r").decode("utf-8", "replace"))


def _unglue(line: str) -> list[str]:
    """C{line} with each known prompt at its start split off as a line."""
    parts = []
    while True:
        for prompt in KNOWN_PROMPTS:
            if line.startswith(prompt) and len(line) > len(prompt):
                parts.append(prompt)
                line = line[len(prompt) :]
                break
        else:
            parts.append(line)
            return parts
