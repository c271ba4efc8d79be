"""The floor: the smallest Twisted relay that does the work the benchmark measures.

Every menuchat figure is reported as a ratio to this server's figure in the
same run. It has no menu and no checks; its whole dialogue is:

    (connect)          -> "HELLO\\r\\n" (the server speaks first, as menuchat does)
    NAME\\n            -> "OK\\r\\n" (name taken: "TAKEN\\r\\n", send another)
    JOIN room\\n       -> "JOINED\\r\\n"; from then on every other line is a room line
    line\\n (in a room) -> "NAME> line\\r\\n" to every member, the sender included
    TO name text\\n    -> "FROM NAME text\\r\\n" to that user only

Lines are bytes end to end (no decoding); accepted connections get TCP_NODELAY,
as menuchat's do, so neither side pays Nagle's delay, and the listen backlog
is menuchat's default (1024). Run it with
``python -m bench.floor --port PORT``.
"""

from __future__ import annotations

import argparse
import sys

from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineReceiver


class FloorRelay(Factory):
    """Shared state: users by name and room member lists."""

    def __init__(self) -> None:
        self.users: dict[bytes, FloorProtocol] = {}
        self.rooms: dict[bytes, list[FloorProtocol]] = {}

    def buildProtocol(self, addr: object) -> FloorProtocol:
        p = FloorProtocol()
        p.relay = self
        return p


class FloorProtocol(LineReceiver):
    """One connection: a name, at most one room, and nothing else."""

    delimiter = b"\n"
    MAX_LENGTH = 65536
    relay: FloorRelay
    name: bytes | None = None
    room: list[FloorProtocol] | None = None

    def connectionMade(self) -> None:
        self.transport.setTcpNoDelay(True)
        self.transport.write(b"HELLO\r\n")

    def lineReceived(self, line: bytes) -> None:
        if line[-1:] == b"\r":
            line = line[:-1]
        if self.room is not None and not line.startswith(b"TO "):
            out = self.name + b"> " + line + b"\r\n"
            for member in self.room:
                member.transport.write(out)
        elif self.name is None:
            if line in self.relay.users:
                self.transport.write(b"TAKEN\r\n")
            else:
                self.name = line
                self.relay.users[line] = self
                self.transport.write(b"OK\r\n")
        elif line.startswith(b"JOIN "):
            self.room = self.relay.rooms.setdefault(line[5:], [])
            self.room.append(self)
            self.transport.write(b"JOINED\r\n")
        elif line.startswith(b"TO "):
            _, to, text = [*line.split(b" ", 2), b""][:3]
            target = self.relay.users.get(to)
            if target is not None:
                target.transport.write(b"FROM " + self.name + b" " + text + b"\r\n")

    def connectionLost(self, reason: object = None) -> None:
        if self.name is not None and self.relay.users.get(self.name) is self:
            del self.relay.users[self.name]
        if self.room is not None:
            self.room.remove(self)


def main(argv: list[str] | None = None) -> int:
    """Listen on 127.0.0.1:PORT with menuchat's default listen backlog."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backlog", type=int, default=1024)
    args = parser.parse_args(argv)

    from twisted.internet import reactor
    from twisted.internet.endpoints import serverFromString

    endpoint = serverFromString(
        reactor, f"tcp:{args.port}:interface=127.0.0.1:backlog={args.backlog}"
    )
    d = endpoint.listen(FloorRelay())

    def failed(f: object) -> None:
        print(f"floor: cannot listen: {f}", file=sys.stderr)
        reactor.stop()

    d.addErrback(failed)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
