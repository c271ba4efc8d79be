"""Telnet's in-band commands, taken out of the byte stream and answered.

A telnet client may ask the server to do or allow options; it is told no
(WONT to a DO, DONT to a WILL). That answer matters: after Ctrl-C, telnet
sends IAC IP IAC DO TIMING-MARK and shows nothing more until it is
answered. A command split across reads is kept until it is whole. UTF-8
never contains the byte 255, so every IAC is a command.
"""

from __future__ import annotations

__all__ = ["TelnetFilter"]

IAC, SB, SE = 0xFF, 0xFA, 0xF0
WILL, WONT, DO, DONT = 0xFB, 0xFC, 0xFD, 0xFE
ECHO = 0x01
_REFUSAL = {DO: WONT, WILL: DONT}

#: Offer to echo (the client then stops echoing what is typed), and withdraw.
HIDE_INPUT = bytes((IAC, WILL, ECHO))
SHOW_INPUT = bytes((IAC, WONT, ECHO))

#: Longest telnet subnegotiation kept while waiting for its end.
SUBNEGOTIATION_LIMIT = 1024


class TelnetFilter:
    """Takes telnet commands out of the byte stream and refuses every option."""

    __slots__ = ("_pending", "offered")

    def __init__(self) -> None:
        self._pending = b""
        #: Options the server offered (WILL) itself: a DO or DONT for one of
        #: them answers the offer and is not answered again.
        self.offered: set[int] = set()

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
                option = data[at + 2]
                if command in (DO, DONT) and option in self.offered:
                    pass  # the client's answer to our own offer
                elif command in _REFUSAL:
                    answers += bytes((IAC, _REFUSAL[command], option))
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
