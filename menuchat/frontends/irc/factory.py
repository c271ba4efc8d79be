"""The IRC front-end's factory and its protocol, one per connection.

The protocol is the shared line connection (framing, limits, flood
control, slow readers, timeouts, admission) with IRC's rules on top: a
line is at most 512 bytes with its CRLF (ERR_INPUTTOOLONG for longer
ones, and the connection goes on), and must be UTF-8 (a FAIL for one that
is not, never a crash). Lines are decoded whole, so a character split
across reads arrives intact.
"""

from __future__ import annotations

import time

from twisted.internet.interfaces import IReactorTime

from menuchat.config import Limits
from menuchat.core.accounts import Accounts
from menuchat.core.hub import Hub
from menuchat.frontends.irc import numerics as n
from menuchat.frontends.irc.audience import RoomAudience
from menuchat.frontends.irc.session import Gateway, IRCSession
from menuchat.frontends.irc.wire import MAX_LINE, line
from menuchat.net.admission import Admission, Refusal
from menuchat.net.connection import LineConnection
from menuchat.net.frontend import LineFactory, LineHandler
from menuchat.net.stats import ConnectionStats

__all__ = ["IRCFactory", "IRCProtocol"]

REFUSALS = {
    Refusal.STOPPING: "server shutting down",
    Refusal.SERVER_FULL: "server full",
    Refusal.ADDRESS_FULL: "too many connections from your address",
}


class IRCProtocol(LineConnection):
    """One IRC connection: an L{IRCSession} behind the shared line connection."""

    factory: IRCFactory

    @property
    def session(self) -> IRCSession | None:
        """The session of this connection, until it closes."""
        handler = self.handler
        assert handler is None or isinstance(handler, IRCSession)
        return handler

    def make_handler(self) -> LineHandler:
        factory = self.factory
        return IRCSession(
            factory.hub,
            self,
            factory.accounts,
            factory.clock,
            factory.gateway,
            factory.audience,
        )

    def refusal_text(self, refusal: Refusal) -> str:
        return line(None, "ERROR", n.REFUSED.format(reason=REFUSALS[refusal])).decode()

    def not_tls_text(self) -> str:
        return line(None, "ERROR", n.NOT_TLS).decode()

    def decode(self, data: bytes) -> str | None:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            session = self.session
            if session is not None:
                session.invalid_utf8(data)
            return None


class IRCFactory(LineFactory):
    """Builds an L{IRCProtocol} per connection around one shared L{Hub}.

    @param gateway: the server's name and the ping interval.
    """

    protocol = IRCProtocol

    def __init__(
        self,
        hub: Hub,
        accounts: Accounts,
        clock: IReactorTime,
        limits: Limits | None = None,
        admission: Admission | None = None,
        stats: ConnectionStats | None = None,
        gateway: Gateway | None = None,
    ) -> None:
        super().__init__(clock, limits or Limits(), admission, stats)
        self.hub = hub
        self.accounts = accounts
        if gateway is None:
            gateway = Gateway()
        if not gateway.created:
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(clock.seconds()))
            gateway = Gateway(
                gateway.server, gateway.version, created, gateway.ping_interval
            )
        self.gateway = gateway
        #: What this gateway's sessions share to hear room lines together.
        self.audience = RoomAudience(gateway.server)

    def line_limit(self) -> int:
        """IRC's: 512 bytes with the CRLF, whatever the menu's limit."""
        return MAX_LINE
