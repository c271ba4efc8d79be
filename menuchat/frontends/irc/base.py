"""What every part of an IRC session shares: its state, the output, and
the ways of answering (numerics, notices, FAIL, closing).

L{SessionBase} holds a connection's state from the first line to the
last; registration, channels, messages and hub events are its
subclasses, and L{menuchat.frontends.irc.session.IRCSession} is all of
them.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Protocol, TypeVar

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from menuchat.core import errors
from menuchat.core.accounts import Accounts
from menuchat.core.answers import settle
from menuchat.core.hub import Hub, User
from menuchat.frontends.failures import log_failure, log_if_fails
from menuchat.frontends.irc import numerics as n
from menuchat.frontends.irc.wire import irc_nick, line, mask
from menuchat.net.output import SharedLines
from menuchat.store import Account

if TYPE_CHECKING:
    from menuchat.frontends.irc.audience import RoomAudience

__all__ = ["WIRE", "Gateway", "Output", "SessionBase", "State"]

_T = TypeVar("_T")

#: The name under which this front-end caches its rendering of an event.
WIRE = "irc"


class State(Enum):
    """Where a connection is: registering, in the hub, or gone."""

    REGISTERING = "registering"
    REGISTERED = "registered"
    CLOSED = "closed"


@attrs.frozen
class Gateway:
    """What the sessions of one IRC factory share besides the hub.

    @param server: the server's name, the source of its numerics.
    @param ping_interval: seconds of silence before the server pings a
        client, and then before it gives up on one (0: never).
    @param passwords_need_tls: take passwords (PASS, SASL) only on
        connections that are TLS or from this machine.
    """

    server: str = "menuchat"
    version: str = "menuchat-0.1"
    created: str = ""
    ping_interval: float = 120.0
    passwords_need_tls: bool = False


class Output(Protocol):
    """Where a session's lines go; the IRC connection implements it."""

    def write_bytes(self, data: bytes) -> None:
        """Send lines already encoded, with their CRLF."""

    def write_shared(self, shared: SharedLines) -> None:
        """Send lines queued for other connections too (a room's)."""

    def write_now(self, data: bytes) -> None:
        """Send lines already encoded now, behind what is queued, rather
        than at the end of the turn."""

    def close(self) -> None:
        """Close the connection once everything written has been sent."""

    def logged_in(self, name: str, user_id: int) -> None:
        """The session is in the hub: the connection's timeouts change."""

    def at_turn_end(self, call: Callable[[], None]) -> None:
        """Call C{call} once the events of this reactor turn are all in."""

    @property
    def address(self) -> str:
        """Where the connection comes from, for throttling password guesses."""

    @property
    def secure(self) -> bool:
        """Whether a password sent here stays off the network in clear."""


class SessionBase:
    """A connection's state and the moves every part of the session makes."""

    log = Logger()

    def __init__(
        self,
        hub: Hub,
        output: Output,
        accounts: Accounts,
        clock: IReactorTime,
        gateway: Gateway,
        audience: RoomAudience | None = None,
    ) -> None:
        if audience is None:
            from menuchat.frontends.irc.audience import RoomAudience

            audience = RoomAudience(gateway.server)
        #: Shared with the gateway's other sessions: room lines reach them
        #: all at once (L{menuchat.core.events.Audience}).
        self.audience = audience
        self._hub = hub
        self._output = output
        self._accounts = accounts
        self._clock = clock
        self.gateway = gateway
        self.state = State.REGISTERING
        self.user: User | None = None
        #: The nick asked for, before registration.
        self.nick = ""
        self.ident = ""
        self.realname = ""
        self.caps: set[str] = set()
        self.user_modes: set[str] = set()
        self._negotiating = False
        self._password: str | None = None
        self._account: Account | None = None
        self._sasl: list[str] | None = None
        #: The room's owner and topic setter as this session last heard.
        self._owner = ""
        self._topic_by: tuple[str, float] | None = None
        #: Whether this session is handing its room over on its way out:
        #: the others show its PART or QUIT first, then the new owner's +o.
        self.handing_over = False
        #: That C{MODE +o}, as channel and nick, until the PART or QUIT.
        self._held_op: tuple[str, str] | None = None
        self._draining = False
        self._drain_again = False
        self._last_line = clock.seconds()
        self._pinged = False
        self._ping_call: IDelayedCall | None = None

    @property
    def _user(self) -> User:
        assert self.user is not None
        return self.user

    @property
    def output(self) -> Output:
        """Where this session's lines go."""
        return self._output

    @property
    def hears_own_lines(self) -> bool:
        """Whether this client is sent its own lines to a channel (IRCv3
        C{echo-message}); IRC clients show what they sent themselves."""
        return "echo-message" in self.caps

    @property
    def me(self) -> str:
        """This client's nick, as the first parameter of every numeric."""
        if self.user is not None:
            return irc_nick(self.user.name)
        return self.nick or "*"

    def source(self, user: User) -> str:
        """The mask of a connected user."""
        return mask(user.name, user.id, self.gateway.server)

    def source_of(self, name: str) -> str:
        """The mask of the user C{name}; their nick alone if they are gone."""
        user = self._hub.online(name)
        return self.source(user) if user is not None else irc_nick(name)

    # Answering

    def send(self, prefix: str | None, command: str, *params: str) -> None:
        if self.state is not State.CLOSED:
            self._output.write_bytes(line(prefix, command, *params))

    def numeric(self, code: str, *params: str) -> None:
        """A numeric reply to this client, from the server."""
        self.send(self.gateway.server, code, self.me, *params)

    def notice(self, text: str) -> None:
        self.send(self.gateway.server, "NOTICE", self.me, text)

    def fail(self, command: str, code: str, text: str) -> None:
        """An IRCv3 standard reply: FAIL <command> <code> :text."""
        self.send(self.gateway.server, "FAIL", command, code, text)

    def close_with(self, reason: str, message: str = "") -> None:
        """Say ERROR C{reason}, leave the hub (the room hears C{message})
        and close the connection."""
        if self.state is State.CLOSED:
            return
        self.send(None, "ERROR", reason)
        self._leave_hub(message or reason)
        self._output.close()

    def _answer(
        self,
        pending: Deferred[_T],
        done: Callable[[_T], object],
        refused: Callable[[errors.ChatError], None],
        command: str,
    ) -> Deferred[None] | None:
        """Render C{pending}'s outcome when it comes; None if it came already.

        A L{errors.ChatError} goes to C{refused} (which re-raises what it
        does not know); anything else is the server's fault: logged, and
        the client told with a FAIL that nothing changed.
        """

        def failed(reason: Failure) -> None:
            if reason.check(errors.ChatError) and self.state is not State.CLOSED:
                try:
                    refused(reason.value)  # type: ignore[arg-type]
                except errors.ChatError:
                    pass
                else:
                    return
            log_failure(self.log, "IRC request failed", reason)
            self.fail(command, "STORE_FAILED", n.STORE_FAILED)

        return settle(pending, done, failed)

    def _drain(self) -> Deferred[None] | None:
        """Deliver the mail waiting in the mailbox (L{Messages} does)."""
        raise NotImplementedError

    # Leaving

    def _leave_hub(self, message: str = "") -> None:
        """Out of the hub for good; an IRC guest's room goes to the next
        member rather than closing (an IRC channel lives while anyone is
        in it), then the room hears C{message}."""
        self.state = State.CLOSED
        self._stop_pinging()
        user, self.user = self.user, None
        if user is None:
            return
        self._hand_over(user)
        log_if_fails(self.log, "Logout failed", self._hub.logout(user, message))

    def _hand_over(self, user: User) -> None:
        """If C{user} owns a guest's room with others in it, give it to
        the one who joined first, so that leaving does not close it."""
        room = user.room
        if room is None or room.persistent or room.owner_id != user.id:
            return
        heir = next((m for m in room.members if m is not user), None)
        if heir is not None:
            self.handing_over = True
            try:
                self._hub.give_room(user, heir.name)
            finally:
                self.handing_over = False

    # Pinging an idle client

    def _start_pinging(self) -> None:
        interval = self.gateway.ping_interval
        if interval:
            self._ping_call = self._clock.callLater(interval, self._ping_due)

    def _stop_pinging(self) -> None:
        call, self._ping_call = self._ping_call, None
        if call is not None and call.active():
            call.cancel()

    def heard(self) -> None:
        """A line came: the client is alive."""
        self._last_line = self._clock.seconds()
        self._pinged = False

    def _ping_due(self) -> None:
        interval = self.gateway.ping_interval
        silent = self._clock.seconds() - self._last_line
        if silent < interval:
            self._ping_call = self._clock.callLater(interval - silent, self._ping_due)
            return
        if self._pinged:
            self._ping_call = None
            self.close_with(
                n.CLOSED_PING.format(nick=self.me, seconds=int(silent)),
                n.PING_TIMEOUT,
            )
            return
        self._pinged = True
        self.send(None, "PING", self.gateway.server)
        self._ping_call = self._clock.callLater(interval, self._ping_due)
