"""Why the hub refuses a request: the L{ChatError} tree and its reasons as enums.

A refusal changes nothing. Front-ends choose the words for each class and
reason; the domain never does.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "AlreadyInRoom",
    "ChatError",
    "EmptyMessage",
    "InvalidName",
    "InvalidRoomId",
    "MailboxFull",
    "Muted",
    "NameTaken",
    "NotAllowed",
    "NotHere",
    "NotInRoom",
    "NotOwner",
    "PasswordRequired",
    "RoomFull",
    "RoomTaken",
    "TokenProblem",
    "TooManyRooms",
    "UnknownRoom",
    "UnknownUser",
    "WrongPassword",
]


class TokenProblem(Enum):
    """What is wrong with a name or a room id."""

    EMPTY = "empty"
    TOO_LONG = "too long"
    CONTROL = "control character"
    SPACE = "space"
    PUNCTUATION = "punctuation"
    INVISIBLE = "invisible"


class ChatError(Exception):
    """A request the hub refuses; nothing was changed."""


class InvalidToken(ChatError):
    """A name or room id breaks the naming rules."""

    def __init__(self, token: str, problem: TokenProblem) -> None:
        super().__init__(token, problem)
        self.token = token
        self.problem = problem


class InvalidName(InvalidToken):
    """The name breaks the naming rules."""


class InvalidRoomId(InvalidToken):
    """The room id breaks the naming rules."""


class NameTaken(ChatError):
    """Another user has this name, whatever the letter case or spelling."""


class PasswordRequired(ChatError):
    """The name belongs to a registered account: log in with its password."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class WrongPassword(ChatError):
    """The password does not unlock the account (or there is none)."""


class UnknownUser(ChatError):
    """No connected user has this id."""


class EmptyMessage(ChatError):
    """The message has no visible text."""


class MailboxFull(ChatError):
    """The recipient's mailbox holds as many unread messages as it may."""


class RoomTaken(ChatError):
    """A room with this id exists already."""


class TooManyRooms(ChatError):
    """The server holds as many rooms as it may."""


class UnknownRoom(ChatError):
    """No room has this id."""


class RoomFull(ChatError):
    """The room holds as many members as it may."""


class AlreadyInRoom(ChatError):
    """The user is in a room already; one room at a time."""


class NotInRoom(ChatError):
    """The user is in no room."""


class NotOwner(ChatError):
    """Only the room's owner may do this."""


class NotAllowed(ChatError):
    """Only the room's owner or a server operator may do this."""


class Muted(ChatError):
    """The user may not speak in this room."""


class NotHere(ChatError):
    """The user named is not in the room."""
