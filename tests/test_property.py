"""Random byte streams from several clients at once keep the server consistent.

Hypothesis drives a factory on a L{task.Clock} with in-memory transports:
dialogue lines mixed with garbage (invalid UTF-8, control characters, telnet
commands, over-long and empty lines), split at random points, from several
connections; connections drop (cleanly, aborted, or by the peer), the clock
jumps past the line rate and the timeouts, and a transport's send buffer
fills and drains. After every step nothing may have been logged as a
failure, and the hub, the sessions and the connections must agree.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter

import attrs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from twisted.internet import task
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionLost
from twisted.internet.testing import StringTransport, StringTransportWithDisconnection
from twisted.logger import LogLevel, capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.frontends.menu.dialogue import State
from menuchat.frontends.menu.factory import MenuChatProtocol
from menuchat.net.refusals import RefusalLog
from menuchat.store.memory import MemoryStore
from tests.support import make_factory, resolved

SLOTS = 5
HOSTS = ("127.0.0.1", "127.0.0.2")

# Small limits, so that random input reaches every one of them.
LIMITS = Limits(
    max_line_length=64,
    line_rate=20.0,
    line_burst=10,
    max_output=800,
    login_timeout=30.0,
    idle_timeout=90.0,
    max_clients=4,
    max_per_address=3,
    max_rooms=2,
    max_room_members=3,
    mailbox_size=2,
)

DIALOGUE = [
    b"ann", b"Bob", b"dan", b"ANN", b"bob", b"c\xc3\xa9cile", b"a,b", b"a b",
    b"x" * 33, b"",
    b"1", b"2", b"3", b"4", b"5", b"6", b" 3 ", b"0", b"7", b"1 2",
    b"r1", b"R1", b"r2", b"r3", b"hello room", b"\xe2\x9c\x93 ok",
    b"bye", b"exit", b"BYE", b"Exit ",
    b"9", b"10", b"99999999999999999999999", b"-1",
]  # fmt: skip
# Whole requests, so that examples get past the menu: rooms, mail, lists.
REQUESTS = [
    b"4\nr1", b"4\nr2", b"5\nr1", b"5\nr1", b"5\nR2", b"5\nr2", b"5\nr3",
    b"2\nhello\n1", b"2\nhi there\n2", b"2\nyo\n3", b"2\n\n1",
    b"3", b"1", b"", b"say something", b"bye", b"exit",
]  # fmt: skip
GARBAGE = [
    b"\xff\xfb\x01",  # IAC WILL ECHO
    b"\xff\xfd\x03",  # IAC DO SUPPRESS-GO-AHEAD
    b"\xff\xfa\x18\x01\xff\xf0",  # IAC SB TERMINAL-TYPE SEND IAC SE
    b"\xff\xff",  # an escaped 0xFF
    b"\xff",  # a lone IAC
    b"\xc3",  # a UTF-8 lead byte without its continuation
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xe2\x80\xae",  # RIGHT-TO-LEFT OVERRIDE
    b"\x1b[2J\x07",  # clear screen, bell
    b"\x00",
    b"\x08\x7f",
    b"\r",
    b"\t",
    b"\x16\x03\x01\x00",  # the start of a TLS ClientHello
    b"y" * 63,
    b"z" * 200,  # longer than max_line_length
]

token = st.one_of(
    st.sampled_from(DIALOGUE),
    st.sampled_from(GARBAGE),
    st.binary(max_size=12),
)
line = st.one_of(
    st.sampled_from(DIALOGUE),
    st.sampled_from(REQUESTS),
    st.sampled_from(REQUESTS),
    st.lists(token, min_size=0, max_size=3).map(b"".join),
)
ending = st.sampled_from([b"\n", b"\r\n", b"\r\n", b"\n\r"])


def _cut(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """C{data} in chunks, cut at random points."""
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(data) - 1)), max_size=5)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@st.composite
def stream(draw: st.DrawFn) -> list[bytes]:
    """A few lines with random line ends, cut into chunks at random points."""
    lines = draw(st.lists(st.tuples(line, ending), min_size=1, max_size=6))
    data = b"".join(text + end for text, end in lines)
    if draw(st.booleans()):
        data += draw(line)  # an unfinished last line
    return _cut(draw, data)


@st.composite
def session(draw: st.DrawFn) -> list[bytes]:
    """A name, then whole requests: a user who gets somewhere."""
    name = draw(st.sampled_from([b"ann", b"Bob", b"dan", b"eve", b"fay"]))
    requests = draw(st.lists(st.sampled_from(REQUESTS), min_size=1, max_size=6))
    return _cut(draw, b"\r\n".join([name, *requests, b""]))


def connection_timers(clock):
    """The clock's pending calls, less the refusal log's once-a-second
    summary, which belongs to the server, not to a connection."""
    return [
        call
        for call in clock.getDelayedCalls()
        if getattr(call.func, "__func__", None) is not RefusalLog._flush
    ]


@attrs.frozen
class Connect:
    slot: int
    host: str


@attrs.frozen
class Send:
    slot: int
    chunks: list[bytes]


@attrs.frozen
class Drop:
    """The connection ends: C{how} is "lose" (peer closes), "abort" or "reset"."""

    slot: int
    how: str


@attrs.frozen
class Advance:
    seconds: float


@attrs.frozen
class Stall:
    """The transport's send buffer fills (C{full}) or drains."""

    slot: int
    full: bool


slot = st.integers(0, SLOTS - 1)
step = st.one_of(
    st.builds(Connect, slot, st.sampled_from(HOSTS)),
    st.builds(Send, slot, stream()),
    st.builds(Send, slot, stream()),
    st.builds(Send, slot, session()),
    st.builds(Drop, slot, st.sampled_from(["lose", "abort", "reset"])),
    st.builds(Advance, st.sampled_from([0.0, 0.05, 0.3, 1.0, 31.0, 91.0])),
    st.builds(Stall, slot, st.booleans()),
    st.builds(Stall, slot, st.just(True)),
)


class LazyTransport(StringTransport):
    """A transport whose close is seen by the protocol later, as with a reactor."""

    protocol: MenuChatProtocol


class Harness:
    """One factory on a Clock and up to L{SLOTS} connections to it.

    With C{synchronous} closes the protocol hears C{connectionLost} inside
    its own C{loseConnection} call (StringTransportWithDisconnection);
    otherwise on the next L{settle}, as from a reactor.
    """

    def __init__(self, synchronous: bool) -> None:
        self.clock = task.Clock()
        self.store = MemoryStore()
        self.factory = make_factory(self.clock, LIMITS, self.store)
        self.synchronous = synchronous
        self.live: dict[int, tuple[MenuChatProtocol, StringTransport]] = {}
        self.transports: list[StringTransport] = []
        self.stopping = False
        self._ports = iter(range(1000, 100000))

    def connect(self, slot: int, host: str) -> None:
        if slot in self.live:
            return
        address = IPv4Address("TCP", host, next(self._ports))
        protocol = self.factory.buildProtocol(address)
        assert isinstance(protocol, MenuChatProtocol)
        kind = StringTransportWithDisconnection if self.synchronous else LazyTransport
        transport = kind(peerAddress=address)
        transport.protocol = protocol
        self.transports.append(transport)
        protocol.makeConnection(transport)
        self.live[slot] = (protocol, transport)
        self.settle()

    def send(self, slot: int, chunks: list[bytes]) -> None:
        self.connect(slot, HOSTS[0])
        if slot not in self.live:
            return  # refused at the door and already closed
        protocol, transport = self.live[slot]
        for chunk in chunks:
            if transport.connected and not transport.disconnecting:
                protocol.dataReceived(chunk)
            self.settle()

    def drop(self, slot: int, how: str) -> None:
        if slot not in self.live:
            return
        protocol, transport = self.live[slot]
        if how == "lose":
            transport.loseConnection()
        elif how == "abort":
            transport.abortConnection()
        elif transport.connected:
            transport.connected = False
            protocol.connectionLost(Failure(ConnectionLost("reset by peer")))
        self.settle()

    def stall(self, slot: int, full: bool) -> None:
        if slot not in self.live:
            return
        _, transport = self.live[slot]
        producer = transport.producer
        if producer is not None and transport.connected:
            if full:
                producer.pauseProducing()
            else:
                producer.resumeProducing()
        self.settle()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.settle()

    def shutdown(self) -> None:
        self.stopping = True
        self.factory.admission.shutdown()
        self.settle()

    def settle(self) -> None:
        """End the reactor turn: flush output and deliver pending closes."""
        self.clock.advance(0)
        while True:
            closing = [
                (protocol, transport)
                for protocol, transport in self.live.values()
                if transport.connected and transport.disconnecting
            ]
            if not closing:
                break
            for protocol, transport in closing:
                transport.connected = False
                protocol.connectionLost(Failure(ConnectionLost("closed")))
        self.clock.advance(0)
        for slot, (_, transport) in list(self.live.items()):
            if not transport.connected:
                del self.live[slot]

    def close_all(self) -> None:
        for slot in list(self.live):
            self.drop(slot, "reset")

    def check(self) -> None:
        """Everything the hub, the sessions and the connections say agrees."""
        hub = self.factory.hub
        users = hub.users()
        ids = [u.id for u in users]
        assert len(ids) == len(set(ids)), f"an id is listed twice: {ids}"
        names = [u.name.casefold() for u in users]
        assert len(names) == len(set(names)), f"a name is listed twice: {names}"
        assert all(i > 0 for i in ids)

        sessions = {}
        for protocol, transport in self.live.values():
            assert transport.connected
            session = protocol.session
            if session is None:
                # Refused at the door: never counted in, never a user.
                assert protocol not in self.factory.admission.connections
                continue
            assert protocol in self.factory.admission.connections
            if session.user is not None and session.state is not State.CLOSED:
                sessions[id(session.user)] = session
        assert len(self.factory.admission.connections) <= LIMITS.max_clients
        per_host = Counter(
            p.transport.getPeer().host for p in self.factory.admission.connections
        )
        assert all(n <= LIMITS.max_per_address for n in per_host.values())
        assert self.factory.admission._per_address == per_host, (
            "per-address counts drift"
        )
        for protocol in self.factory.admission.connections:
            assert protocol.transport.connected, "a closed connection is counted"

        logged_in = [
            p.session.user
            for p in self.factory.admission.connections
            if p.session is not None
            and p.session.user is not None
            and p.session.state is not State.CLOSED
        ]
        assert len({id(u) for u in logged_in}) == len(logged_in), (
            "two connections share a user"
        )
        for user in users:
            assert id(user) in sessions, f"{user!r} has no live, logged-in connection"
            assert hub.user(user.id) is user
            session = sessions[id(user)]
            assert user.client is session
            assert (session.state is State.IN_ROOM) == (user.room is not None), (
                f"{user!r} is {session.state} with room {user.room!r}"
            )
        assert len(sessions) == len(users), "a logged-in session is not listed"

        rooms = hub.rooms()
        assert len(rooms) <= LIMITS.max_rooms
        assert len({r.id.casefold() for r in rooms}) == len(rooms)
        listed = {id(u) for u in users}
        for room in rooms:
            assert hub.room(room.id) is room
            members = room.members
            assert len({id(m) for m in members}) == len(members)
            assert len(members) <= LIMITS.max_room_members
            owner = hub.user(room.owner_id)
            assert owner in members, f"{room!r}: its owner (a guest) is not a member"
            assert owner.room is room
            for member in members:
                assert id(member) in listed, f"{room!r}: {member!r} is not listed"
                assert member.room is room, f"{member!r} is in {member.room!r}"
        for user in users:
            if user.room is not None:
                assert user.room in rooms, f"{user!r} is in a closed room"
                assert user in user.room.members
            assert resolved(self.store.unread(user.id)) <= LIMITS.mailbox_size

        # Timers: at most a timeout and a line-rate refill per live connection,
        # and a grace timer while stopping.
        calls = connection_timers(self.clock)
        assert len(calls) <= 2 * len(self.factory.admission.connections) + self.stopping

        # What reached any terminal is UTF-8 with no control characters but
        # the line ends.
        for transport in self.transports:
            # Telnet answers (IAC, a verb, an option) are for the telnet
            # client, not the terminal.
            wire = _TELNET_ANSWER.sub(b"", transport.value())
            text = wire.decode("utf-8")
            stray = {c for c in text if not c.isprintable() and c not in "\r\n"}
            assert not stray, f"control characters sent: {stray!r}"


_TELNET_ANSWER = re.compile(rb"\xff[\xfb-\xfe].", re.S)


def _failures(events: list[dict]) -> list[dict]:
    return [
        e
        for e in events
        if "log_failure" in e
        or e.get("log_level") in (LogLevel.error, LogLevel.critical)
    ]


# What the examples reached, shown by pytest --hypothesis-show-statistics.
MILESTONES = {
    "logged in": "Client ID: ",
    "message sent": "Message sent!",
    "message read": "My messages:",
    "mailbox full": "is full; nothing was sent",
    "unread mail returned": "was not read: they disconnected",
    "room created": "Chat Room ",
    "room joined": "Joined to chat room ",
    "room line": "> ",
    "room closed on owner": "closed: its owner disconnected",
    "line too long": "was discarded",
    "login timeout": "Timed out waiting for a name",
    "idle timeout": "Idle for too long",
    "server full": "the server is full",
    "address full": "too many connections from your address",
    "TLS refused": "not TLS",
    "shutdown notice": "going down",
}


def _report_coverage(harness: Harness, events: list[dict]) -> None:
    said = "".join(t.value().decode("utf-8", "replace") for t in harness.transports)
    for name, marker in MILESTONES.items():
        if marker in said:
            event(name)
    if any("dropped" in e.get("log_format", "") for e in events):
        event("slow reader dropped")
    if any("over the line rate" in e.get("log_format", "") for e in events):
        event("line rate paused reading")


class RandomTrafficTests(SynchronousTestCase):
    """Hypothesis drives the whole server; state stays consistent."""

    @settings(
        max_examples=2000,
        deadline=None,
        # differing_executors: mutmut runs the test several times in one
        # process, each time on a new TestCase instance.
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.differing_executors,
        ],
    )
    @given(
        steps=st.lists(step, min_size=1, max_size=50),
        synchronous=st.booleans(),
        shutdown=st.booleans(),
    )
    @pytest.mark.timeout(60)
    def test_random_traffic_keeps_state_consistent(
        self, steps: list[object], synchronous: bool, shutdown: bool
    ) -> None:
        harness = Harness(synchronous)
        with capturedLogs() as events:
            for item in steps:
                match item:
                    case Connect(slot, host):
                        harness.connect(slot, host)
                    case Send(slot, chunks):
                        harness.send(slot, chunks)
                    case Drop(slot, how):
                        harness.drop(slot, how)
                    case Advance(seconds):
                        harness.advance(seconds)
                    case Stall(slot, full):
                        harness.stall(slot, full)
                harness.check()
                assert not _failures(events), _failures(events)
            if shutdown:
                harness.shutdown()
                harness.check()
                assert not harness.live, "a connection outlived the shutdown"
            harness.close_all()
            harness.check()
            assert not _failures(events), _failures(events)

        _report_coverage(harness, events)

        # Everyone gone: no user, room, connection or timer is left behind.
        assert harness.factory.hub.users() == []
        assert harness.factory.hub.rooms() == []
        assert harness.factory.admission.connections == set()
        assert connection_timers(harness.clock) == []
