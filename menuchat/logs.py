"""Log observers for log shippers: one JSON object a line.

``twistd --logger menuchat.logs.json_observer -n menuchat`` writes every
log event to standard output as a JSON line (systemd's journal or a
shipper reading the process's output takes it from there). Each line
holds the event's fields (``event`` is ``login``, ``logout`` or
``refusal`` for those; ``name``, ``id``, ``peer``, ``reason``,
``count``), Twisted's own (``log_level``, ``log_namespace``,
``log_time``) and the formatted ``text``.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from twisted.logger import (
    FileLogObserver,
    ILogObserver,
    eventAsJSON,
    formatEvent,
)

__all__ = ["json_observer"]


def json_observer(out: IO[Any] | None = None) -> ILogObserver:
    """An observer writing each event as one JSON line to C{out}.

    @param out: the real standard output unless given; twistd calls this
        with no argument (``--logger menuchat.logs.json_observer``).
    """
    stream = out if out is not None else sys.__stdout__
    assert stream is not None

    def line(event: dict[str, Any]) -> str:
        return eventAsJSON({**event, "text": formatEvent(event)}) + "\n"

    return FileLogObserver(stream, line)
