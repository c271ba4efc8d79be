"""Test doubles for the client's front ends."""

from __future__ import annotations


class RecordingHandler:
    """A console handler that keeps what the user did."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.events: list[str] = []

    def line_entered(self, text: str) -> None:
        self.lines.append(text)

    def input_ended(self) -> None:
        self.events.append("input ended")

    def quit(self) -> None:
        self.events.append("quit")

    def interrupt(self) -> None:
        self.events.append("interrupt")
