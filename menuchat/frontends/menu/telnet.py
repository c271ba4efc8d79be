"""Telnet's in-band commands, taken out of the byte stream and answered.

A telnet client may ask the server to do or allow options. BINARY is
agreed both ways (WILL to a DO, DO to a WILL), so 8-bit UTF-8 passes
instead of being cut to 7 bits; every other option is refused (WONT to a
DO, DONT to a WILL). That answer matters: after Ctrl-C, telnet sends IAC
IP IAC DO TIMING-MARK and shows nothing more until it is answered. ECHO
is offered by the server only while a password is typed (L{echo}), so
the client stops showing what is typed, and withdrawn after. A command
split across reads is kept until it is whole. UTF-8 never contains the
byte 255, so every IAC is a command.
"""

from __future__ import annotations

__all__ = ["TelnetFilter"]

IAC, SB, SE = 0xFF, 0xFA, 0xF0
WILL, WONT, DO, DONT = 0xFB, 0xFC, 0xFD, 0xFE
BINARY, ECHO = 0x00, 0x01
_REFUSAL = {DO: WONT, WILL: DONT}

#: Longest telnet subnegotiation kept while waiting for its end.
SUBNEGOTIATION_LIMIT = 1024


class TelnetFilter:
    """Takes telnet commands out of the byte stream and answers them."""

    __slots__ = ("_binary_in", "_binary_out", "_echo", "_pending")

    def __init__(self) -> None:
        self._pending = b""
        self._binary_out = False  # the server sends binary (it said WILL)
        self._binary_in = False  # the client sends binary (it was told DO)
        self._echo = False  # the server echoes, i.e. input is hidden

    def echo(self, on: bool) -> bytes:
        """The command offering (WILL) or withdrawing (WONT) the server's ECHO.

        While the server says it echoes and does not, the client shows
        nothing of what is typed: how a password prompt hides input.
        Empty if the state is already C{on}.
        """
        if on == self._echo:
            return b""
        self._echo = on
        return bytes((IAC, WILL if on else WONT, ECHO))

    def _answer(self, command: int, option: int) -> bytes:
        """The reply to WILL, WONT, DO or DONT C{option}; empty for none.

        A request for the state the option is already in is not answered,
        so two agreeing ends never loop (RFC 1143).
        """
        if option == BINARY:
            if command in (DO, DONT):
                wanted = command == DO
                if wanted == self._binary_out:
                    return b""
                self._binary_out = wanted
                return bytes((IAC, WILL if wanted else WONT, BINARY))
            wanted = command == WILL
            if wanted == self._binary_in:
                return b""
            self._binary_in = wanted
            return bytes((IAC, DO if wanted else DONT, BINARY))
        if option == ECHO and command in (DO, DONT):
            if (command == DO) == self._echo:
                return b""  # the client agrees to what the server said
            if command == DONT:
                self._echo = False
                return bytes((IAC, WONT, ECHO))
        if command in _REFUSAL:
            return bytes((IAC, _REFUSAL[command], option))
        return b""

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """C{data} without telnet commands, and the answers they call for."""
        if self._pending:
            data, self._pending = self._pending + data, b""
        text = bytearray()
        answers = bytearray()
        start = 0
        end = len(data)
        while (at := data.find(b"\xff", start)) >= 0:
            text += data[start:at]
            if at + 1 >= end:
                self._pending = data[at:]
                return bytes(text), bytes(answers)
            command = data[at + 1]
            if command in (WILL, WONT, DO, DONT):
                if at + 2 >= end:
                    self._pending = data[at:]
                    return bytes(text), bytes(answers)
                answers += self._answer(command, data[at + 2])
                start = at + 3
            elif command == SB:
                close = data.find(b"\xff\xf0", at + 2)
                if close < 0:
                    if end - at <= SUBNEGOTIATION_LIMIT:
                        self._pending = data[at:]
                    return bytes(text), bytes(answers)
                start = close + 2
            else:  # IAC IAC (a data byte 255, never UTF-8) or a 2-byte command
                start = at + 2
        text += data[start:]
        return bytes(text), bytes(answers)
