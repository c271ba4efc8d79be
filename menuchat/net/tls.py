"""TLS: ports whose key and certificate can be read again without a
restart, and a TLS client told apart on a plain port.

An ``ssl:`` port's certificate is loaded once when its endpoint is built.
A L{ReloadableCertificate} stands in as the port's connection creator and
builds each new connection from the current context, so L{reload} (on
SIGHUP) takes effect for the next connection, while the ones already made
go on with the certificate they were made with.
"""

from __future__ import annotations

from collections.abc import Callable

from OpenSSL.SSL import Connection, Context
from twisted.internet.interfaces import (
    IOpenSSLContextFactory,
    IOpenSSLServerConnectionCreator,
)
from twisted.protocols.tls import TLSMemoryBIOProtocol
from zope.interface import implementer

__all__ = ["ReloadableCertificate", "looks_like_tls"]


@implementer(IOpenSSLServerConnectionCreator)
class ReloadableCertificate:
    """The key and certificate of one TLS port, loaded by C{load}.

    @param load: reads the files again and returns their context factory;
        raises if they are missing or do not match.
    """

    def __init__(self, load: Callable[[], IOpenSSLContextFactory]) -> None:
        self._load = load
        self._context: Context = load().getContext()

    def reload(self) -> None:
        """Read the files again; on any error keep the current certificate."""
        self._context = self._load().getContext()

    def serverConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> Connection:
        """A server connection with the current certificate."""
        return Connection(self._context, None)


def looks_like_tls(data: bytes) -> bool:
    """Whether C{data}, a connection's first bytes, start a TLS ClientHello.

    A handshake record (0x16) of TLS 1.x (0x03 0x01-0x04) or an SSLv2
    ClientHello (a 0x80 length byte, then message type 1). A lone 0x16, a
    user's Ctrl-V, is not enough.
    """
    if data[:1] == b"\x16":
        return len(data) >= 3 and data[1] == 3 and data[2] <= 4
    if data[:1] == b"\x80":
        return len(data) >= 3 and data[2] == 1
    return False
