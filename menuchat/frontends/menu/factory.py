"""The menu front-end's factory and its protocol, one per connection.

The factory holds the hub every session talks to; the protocol is the
shared line connection with the menu's words for refusals and the telnet
filter in front of its framing.
"""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime

from menuchat.config import Limits
from menuchat.core.accounts import Accounts
from menuchat.core.hub import Hub
from menuchat.frontends.menu import texts
from menuchat.frontends.menu.audience import MenuAudience
from menuchat.frontends.menu.dialogue import Session
from menuchat.frontends.menu.telnet import TelnetFilter
from menuchat.net.admission import Admission, Refusal
from menuchat.net.connection import LineConnection
from menuchat.net.frontend import LineFactory, LineHandler
from menuchat.net.stats import ConnectionStats

__all__ = ["MenuChatFactory", "MenuChatProtocol"]

REFUSALS = {
    Refusal.STOPPING: texts.SHUTDOWN,
    Refusal.SERVER_FULL: texts.SERVER_FULL,
    Refusal.ADDRESS_FULL: texts.ADDRESS_FULL,
}


class MenuChatProtocol(LineConnection):
    """One menu connection: a L{Session} behind the shared line connection."""

    __slots__ = ("_telnet",)

    factory: MenuChatFactory

    def __init__(self) -> None:
        super().__init__()
        self._telnet: TelnetFilter | None = None

    @property
    def session(self) -> Session | None:
        """The dialogue of this connection, until it closes."""
        handler = self.handler
        assert handler is None or isinstance(handler, Session)
        return handler

    def make_handler(self) -> LineHandler:
        factory = self.factory
        return Session(
            factory.hub,
            self,
            factory.accounts,
            passwords_need_tls=factory.passwords_need_tls,
            audience=factory.audience,
        )

    def refusal_text(self, refusal: Refusal) -> str:
        return REFUSALS[refusal]

    def not_tls_text(self) -> str:
        return texts.NOT_TLS

    def hide_input(self, hidden: bool) -> None:
        """Have a telnet client stop (or resume) showing what is typed.

        Offers the server's ECHO (IAC WILL ECHO) while hidden, withdraws it
        (IAC WONT ECHO) after: for a password prompt. telnet on a port other
        than 23 starts no negotiation of its own, so the offer is made
        whether or not the peer has spoken telnet yet; the menuchat client
        takes such commands out, and nc shows three stray bytes at a
        password prompt, where hiding a password from telnet matters more.
        """
        if self._telnet is None:
            self._telnet = TelnetFilter()
        command = self._telnet.echo(hidden)
        if command:
            self.write_bytes(command)

    def filter_input(self, data: bytes) -> bytes:
        """Take telnet commands out, answering them, before framing."""
        if self._telnet is None:
            if b"\xff" not in data:
                return data
            self._telnet = TelnetFilter()
        data, answers = self._telnet.feed(data)
        if answers:
            self.write_bytes(answers)
        return data


class MenuChatFactory(LineFactory):
    """Builds a L{MenuChatProtocol} per connection around one shared L{Hub}.

    @param passwords_need_tls: ask for passwords only on connections that are
        TLS or from this machine (C{--password-transport tls}).
    """

    protocol = MenuChatProtocol

    def __init__(
        self,
        hub: Hub,
        accounts: Accounts,
        clock: IReactorTime,
        limits: Limits | None = None,
        admission: Admission | None = None,
        stats: ConnectionStats | None = None,
        *,
        passwords_need_tls: bool = False,
    ) -> None:
        super().__init__(clock, limits or Limits(), admission, stats)
        self.hub = hub
        self.accounts = accounts
        self.passwords_need_tls = passwords_need_tls
        #: Shared by every session: room lines reach them together.
        self.audience = MenuAudience()
