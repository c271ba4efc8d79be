"""Where a password typed by a user may travel: over TLS or within this machine.

L{is_private} says whether a connection keeps what is typed off the
network in clear: it is TLS, or it comes from loopback or a UNIX socket.
L{plain_ports} names the server's ports on which passwords would travel
in clear from other machines, for the warning at start.
"""

from __future__ import annotations

import ipaddress

from twisted.internet.address import UNIXAddress
from twisted.internet.interfaces import ISSLTransport

__all__ = ["is_loopback", "is_private", "plain_ports"]

# Endpoint kinds whose connections are TLS, and those that never leave the
# machine; TCP is judged by its interface, anything else counts as plain.
_TLS_KINDS = frozenset({"ssl"})
_LOCAL_KINDS = frozenset({"unix"})
_TCP_KINDS = frozenset({"tcp", "tcp6"})


def is_loopback(host: str) -> bool:
    """Whether C{host}, an IP address, is this machine's loopback.

    127.0.0.0/8, ::1, and 127.0.0.0/8 written as an IPv4-mapped IPv6 address
    (a dual-stack socket's view of an IPv4 peer).
    """
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def is_private(transport: object) -> bool:
    """Whether what is typed on C{transport} stays off the network in clear.

    True for a TLS connection, one from a loopback address and one over a
    UNIX socket.
    """
    if ISSLTransport.providedBy(transport):
        return True
    get_peer = getattr(transport, "getPeer", None)
    peer = get_peer() if get_peer is not None else None
    if isinstance(peer, UNIXAddress):
        return True
    host = getattr(peer, "host", None)
    return isinstance(host, str) and is_loopback(host)


def plain_ports(descriptions: list[str]) -> list[str]:
    """The endpoint descriptions, of those given, that take plain connections
    from other machines: TCP on any interface but loopback, and every kind
    not known to be TLS or local."""
    return [d for d in descriptions if _plain_and_exposed(d)]


def _plain_and_exposed(description: str) -> bool:
    fields = _fields(description)
    kind = fields[0].lower()
    if kind in _TLS_KINDS or kind in _LOCAL_KINDS:
        return False
    if kind not in _TCP_KINDS:
        return True
    interface = ""
    for field in fields[1:]:
        key, equals, value = field.partition("=")
        if equals and key == "interface":
            interface = value
    return not is_loopback(interface)


def _fields(description: str) -> list[str]:
    """An endpoint description split at its colons, backslash escapes undone."""
    fields = [""]
    escaped = False
    for character in description:
        if escaped:
            fields[-1] += character
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == ":":
            fields.append("")
        else:
            fields[-1] += character
    return fields
