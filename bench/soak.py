"""Soak: many clients doing random menu actions against a real menuchat process.

N clients (default 200) act at random for T seconds (default 60): list users,
send private messages (to users online, to users who left, to ids nobody
had), read their mailboxes, create and join rooms and talk in them, leave
rooms, and leave the server (option 6, a close, a reset) to come back as a
new user. An observer asks for the user list five times a second. Every
message and room line is unique, so each can be traced. At the end every
client still connected leaves its room, reads its mailbox and quits.

Then it checks what everyone saw:

- Every private message the server accepted was read exactly once, by its
  recipient, or returned to its sender ("was not read: they disconnected"),
  or, if the sender had stopped reading before the recipient began to
  leave, neither ("sender gone"). Where the sender and the recipient left
  at times too close to order from outside, either outcome is right and it
  is counted apart ("left together"). A message refused at once ("no user
  has id N") must be to a user not surely online; one accepted must not be
  to a user surely gone.
- Every user who left by option 6 or stayed to the end was told of every
  message put in its mailbox ("New message from").
- Every room line reached every member present when it was said (as the
  speaker's own copy of the room shows: "X joined", "X disconnected from
  the chat."), the speaker included, and no one else; a member who dropped
  abruptly may miss only lines after the last one it got.
- Every user list shows the users surely online and none surely gone.
- The server's RSS at the end is within a margin of its RSS after warm-up.

Prints the figures; exits 1 if any check fails.

    .venv/bin/python -m bench.soak                      # 200 clients, 60 s
    .venv/bin/python -m bench.soak --clients 50 --seconds 15
"""

from __future__ import annotations

import argparse
import bisect
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet import defer, task
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

from tests.realserver import (
    LINE,
    NAME_PROMPT,
    OPTION_PROMPT,
    Item,
    LineClient,
    ServerProcess,
)

WAIT = 30.0  # longest wait for any answer, seconds

READ_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d: (.*) \(from: (\S+)\)$")
RETURNED = re.compile(
    r"^Your message to (\S+) was not read: they disconnected\. It said: (.*)$"
)
NEW_MESSAGE = re.compile(r"^New message from (\S+):(\d+) \(\d+ unread\)")
NO_USER = re.compile(r"^Error: no user has id (\d+); nothing was sent\.$")
FULL = re.compile(r"^Error: the mailbox of user (\d+) is full; nothing was sent\.$")
NAME = r"(s\d+x\d+)"
JOINED = re.compile(rf"^{NAME} joined$")
LEFT = re.compile(rf"^{NAME} disconnected from the chat\.$")
SAID = re.compile(rf"^{NAME}> (.*)$")
USERS = re.compile(r"(\S+):(\d+)")


def room_closed_on_me(text: str, room: str) -> bool:
    """Whether C{text} tells a member that C{room} closed under it."""
    return text in (
        f"Chat room {room} was closed by its owner.",
        f"Chat room {room} closed: its owner disconnected.",
    )


def room_ended(text: str, room: str) -> bool:
    """Whether C{text} ends this client's time in C{room}, however."""
    return room_closed_on_me(text, room) or text in (
        f"You left chat room {room}.",
        f"Chat room {room} is closed.",
    )


class Unexpected(Exception):
    """The server said or did something a client did not expect."""


class Conn(LineClient):
    """One connection of one client slot: a user from login to leaving.

    Times are C{time.monotonic()} in this process, as are the items' times.
    """

    def __init__(self, slot: int, gen: int, name: str | None = None) -> None:
        super().__init__()
        self.slot = slot
        self.name = name or f"s{slot}x{gen}"
        self.id: int | None = None
        self.login_at: float | None = None  # "Client ID" arrived
        self.leave_at: float | None = None  # began to leave: sent 6, closed, reset
        self.goodbye_at: float | None = None  # "Goodbye" arrived
        self.leave_way: str | None = None
        self.horizon = 0.0  # sent-at of the last request it got the answer to
        self.room: str | None = None
        self.owner = False
        self.visited: set[str] = set()
        self.final_read = False
        self._seq = 0

    def text(self, kind: str) -> str:
        self._seq += 1
        return f"{kind}-{self.name}-{self._seq}"

    def item_received(self, item: Item) -> None:
        if self.room and item.kind == LINE and room_closed_on_me(item.text, self.room):
            self.room = None
            self.owner = False

    @property
    def read_to_the_end(self) -> bool:
        """Whether it read everything the server sent until it logged out."""
        return self.leave_way in ("option 6", "final")


@attrs.define
class Pm:
    text: str
    sender: Conn
    recipient_id: int
    sent_at: float
    answer_at: float = 0.0
    outcome: str = ""  # sent, no user, full


@attrs.frozen
class Listing:
    sent_at: float
    at: float
    ids: frozenset[int]


class Soak:
    """The clients, what they did, and what the server told them."""

    def __init__(self, reactor: Any, port: int, args: argparse.Namespace) -> None:
        self.reactor = reactor
        self.port = port
        self.args = args
        self.rng = random.Random(args.seed)
        self.conns: list[Conn] = []
        self.online: dict[int, Conn] = {}
        self.departed: list[int] = []
        self.open_rooms: set[str] = set()
        self.pms: list[Pm] = []
        self.listings: list[Listing] = []
        self.room_lines: list[tuple[Conn, str, str]] = []  # speaker, room, text
        self.actions: Counter[str] = Counter()
        self.failures: list[str] = []
        self.deadline = 0.0

    # Connections

    async def login(self, conn: Conn) -> None:
        endpoint = TCP4ClientEndpoint(self.reactor, "127.0.0.1", self.port, timeout=10)
        await connectProtocol(endpoint, conn).addTimeout(WAIT, self.reactor)
        self.conns.append(conn)
        await conn.expect_prompt(NAME_PROMPT, WAIT)
        conn.send(conn.name)
        said = await conn.expect_line("Client ID: ", WAIT)
        await conn.expect_prompt(OPTION_PROMPT, WAIT)
        conn.id = int(said.text.removeprefix("Client ID: "))
        conn.login_at = said.at

    async def leave(self, conn: Conn, way: str) -> None:
        conn.leave_at = time.monotonic()
        conn.leave_way = way
        if conn.id is not None and self.online.pop(conn.id, None) is not None:
            self.departed.append(conn.id)
        if conn.owner and conn.room:
            self.open_rooms.discard(conn.room)
        if way in ("option 6", "final"):
            conn.send("6")
            conn.goodbye_at = (await conn.expect_line("Goodbye", WAIT)).at
        elif way == "close":
            conn.transport.loseConnection()
        else:
            conn.transport.abortConnection()
        await conn.lost.addTimeout(WAIT, self.reactor)

    async def request(self, conn: Conn, lines: Iterable[str], accept: Any) -> Item:
        """Send C{lines}; the answer C{accept} takes; moves the read horizon."""
        sent_at = time.monotonic()
        conn.send(*lines)
        item = await conn.expect(lambda i: i.kind == LINE and accept(i.text), WAIT)
        conn.horizon = sent_at
        return item

    # One client slot

    async def slot(self, slot: int) -> Conn | None:
        """Users one after another until the deadline; the last one stays."""
        for gen in range(1_000_000):
            if time.monotonic() >= self.deadline:
                return None
            conn = Conn(slot, gen)
            try:
                await self.login(conn)
                self.online[conn.id] = conn
                if await self.act(conn):
                    return conn
            except Exception as e:
                self.failures.append(f"{conn.name}: {e!r}")
                if conn.transport is not None and not conn.closed:
                    conn.transport.abortConnection()
            await self.sleep(self.rng.uniform(0.05, 0.5))
        return None

    async def sleep(self, seconds: float) -> None:
        await task.deferLater(self.reactor, seconds, lambda: None)

    async def act(self, conn: Conn) -> bool:
        """Random actions until this user leaves (False) or time is up (True)."""
        rng = self.rng
        while True:
            await self.sleep(rng.uniform(0.05, 0.6))
            if conn.closed:
                raise Unexpected("the server closed the connection")
            if time.monotonic() >= self.deadline:
                if conn.room:
                    await self.leave_room(conn)
                return True
            if conn.room:
                action = rng.choices(
                    ["say", "leave room", "close", "reset"],
                    [90, 7, 1.5, 1.5] if conn.owner else [85, 12, 1.5, 1.5],
                )[0]
            else:
                action = rng.choices(
                    ["list", "send", "read", "create", "join", "option 6", "close",
                     "reset"],
                    [10, 35, 20, 5, 20, 2, 1.5, 1.5],
                )[0]  # fmt: skip
            self.actions[action] += 1
            if action in ("option 6", "close", "reset"):
                await self.leave(conn, action)
                return False
            await getattr(self, "do_" + action.replace(" ", "_"))(conn)

    # Menu actions

    async def do_list(self, conn: Conn) -> None:
        sent_at = time.monotonic()
        item = await self.request(
            conn, ["1"], lambda t: t.startswith("Users in server: ")
        )
        self.record_listing(sent_at, item)

    def record_listing(self, sent_at: float, item: Item) -> None:
        text = item.text.removeprefix("Users in server: ")
        ids = frozenset(int(i) for _, i in USERS.findall(text))
        self.listings.append(Listing(sent_at, item.at, ids))

    async def do_send(self, conn: Conn) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.85 and self.online:
            recipient = rng.choice(list(self.online))
        elif roll < 0.95 and self.departed:
            recipient = rng.choice(self.departed)
        else:
            recipient = 1_000_000 + rng.randrange(1000)
        pm = Pm(conn.text("pm"), conn, recipient, time.monotonic())
        self.pms.append(pm)
        item = await self.request(
            conn,
            ["2", pm.text, str(recipient)],
            lambda t: t == "Message sent!" or t.startswith("Error: "),
        )
        pm.answer_at = item.at
        if item.text == "Message sent!":
            pm.outcome = "sent"
        elif NO_USER.match(item.text):
            pm.outcome = "no user"
        elif FULL.match(item.text):
            pm.outcome = "full"
        else:
            raise Unexpected(f"sending {pm.text}: {item.text}")

    async def do_read(self, conn: Conn) -> None:
        await self.request(
            conn, ["3"], lambda t: t in ("My messages:", "You have no messages.")
        )

    async def do_create(self, conn: Conn) -> None:
        room = conn.text("r")
        item = await self.request(
            conn,
            ["4", room],
            lambda t: t == f"Chat Room {room}" or t.startswith("Error: "),
        )
        if item.text.startswith("Error: "):
            raise Unexpected(f"creating {room}: {item.text}")
        conn.room, conn.owner = room, True
        conn.visited.add(room)
        self.open_rooms.add(room)

    async def do_join(self, conn: Conn) -> None:
        rooms = sorted(self.open_rooms - conn.visited)
        if not rooms:
            await self.do_create(conn)
            return
        room = self.rng.choice(rooms)
        item = await self.request(
            conn,
            ["5", room],
            lambda t: t == f"Joined to chat room {room}" or t.startswith("Error: "),
        )
        conn.visited.add(room)
        if item.text.startswith("Error: "):
            if item.text != f"Error: there is no chat room {room!r}.":
                raise Unexpected(f"joining {room}: {item.text}")
            self.actions["join a closed room"] += 1
            return
        conn.room, conn.owner = room, False

    # Room actions

    async def do_say(self, conn: Conn) -> None:
        room = conn.room
        assert room is not None
        text = conn.text("rm")
        echo = f"{conn.name}> {text}"
        item = await self.request(
            conn, [text], lambda t: t == echo or room_closed_on_me(t, room)
        )
        if item.text == echo:
            self.room_lines.append((conn, room, text))
        else:
            # The room closed first: the line reached the menu as an option.
            await conn.expect(
                lambda i: (
                    i.kind == LINE and i.text.startswith("Error: ") and text in i.text
                ),
                WAIT,
            )
            self.actions["said after the room closed"] += 1

    async def do_leave_room(self, conn: Conn) -> None:
        await self.leave_room(conn)

    async def leave_room(self, conn: Conn) -> None:
        room = conn.room
        assert room is not None
        if conn.owner:
            await self.request(
                conn, ["exit"], lambda t: t == f"Chat room {room} is closed."
            )
            self.open_rooms.discard(room)
            conn.room, conn.owner = None, False
            return
        item = await self.request(
            conn,
            ["bye"],
            lambda t: t == f"You left chat room {room}." or room_closed_on_me(t, room),
        )
        if item.text != f"You left chat room {room}.":
            await conn.expect(
                lambda i: i.kind == LINE and i.text.startswith("Error: 'bye'"), WAIT
            )
        conn.room = None

    # The observer and the end

    async def observe(self) -> Conn:
        """A user who asks for the user list five times a second."""
        observer = Conn(-1, 0, name="observer")
        await self.login(observer)
        while time.monotonic() < self.deadline:
            sent_at = time.monotonic()
            observer.send("1")
            self.record_listing(
                sent_at, await observer.expect_line("Users in server: ", WAIT)
            )
            await self.sleep(0.2)
        return observer

    async def finish(self, conns: list[Conn]) -> None:
        """Everyone left reads their mailbox, then quits with option 6."""

        async def read(conn: Conn) -> None:
            await self.do_read(conn)
            conn.final_read = True

        await defer.gatherResults([defer.ensureDeferred(read(c)) for c in conns])
        await defer.gatherResults(
            [defer.ensureDeferred(self.leave(c, "final")) for c in conns]
        )


# Checking what everyone saw


def logout_bounds(soak: Soak) -> dict[Conn, tuple[float, float]]:
    """For each user who left: when it surely had not, and surely had, logged out.

    The lower bound is when the client began to leave. The upper bound is
    when "Goodbye" arrived, or when a user list arrived that was asked for
    after the client began to leave and no longer shows it.
    """
    listings = sorted(soak.listings, key=lambda x: x.sent_at)
    starts = [x.sent_at for x in listings]
    bounds = {}
    for conn in soak.conns:
        if conn.leave_at is None or conn.id is None:
            continue
        upper = conn.goodbye_at if conn.goodbye_at is not None else float("inf")
        for listing in listings[bisect.bisect_right(starts, conn.leave_at) :]:
            if listing.at >= upper:
                break
            if conn.id not in listing.ids:
                upper = listing.at
                break
        bounds[conn] = (conn.leave_at, upper)
    return bounds


def check_listings(soak: Soak, bounds: dict, problems: list[str]) -> Counter:
    """Each user list shows the users surely online and none surely gone."""
    figures: Counter[str] = Counter()
    known = {c.id for c in soak.conns if c.id is not None}
    listings = sorted(soak.listings, key=lambda x: x.sent_at)
    starts = [x.sent_at for x in listings]
    for conn in soak.conns:
        if conn.login_at is None:
            continue
        end = conn.leave_at if conn.leave_at is not None else float("inf")
        first = bisect.bisect_right(starts, conn.login_at)
        for listing in listings[first : bisect.bisect_left(starts, end)]:
            if listing.at < end and conn.id not in listing.ids:
                problems.append(f"user list lacks {conn.name} while it was online")
                break
    # Sweep: the users surely gone by the time each list was asked for.
    gone_at = sorted((upper, c.id) for c, (_, upper) in bounds.items())
    gone: set[int] = set()
    index = 0
    for listing in listings:
        figures["user lists"] += 1
        while index < len(gone_at) and gone_at[index][0] < listing.sent_at:
            gone.add(gone_at[index][1])
            index += 1
        if listing.ids - known:
            problems.append(f"user list shows ids nobody had: {listing.ids - known}")
        if listing.ids & gone:
            problems.append(f"user list shows ids of users gone: {listing.ids & gone}")
    return figures


def check_mail(soak: Soak, bounds: dict, problems: list[str]) -> Counter:
    """Every accepted message read once, returned, or left with a gone sender."""
    figures: Counter[str] = Counter()
    by_id = {c.id: c for c in soak.conns if c.id is not None}
    reads: dict[str, list[tuple[Conn, str]]] = defaultdict(list)
    returns: dict[str, list[tuple[Conn, str]]] = defaultdict(list)
    told: Counter[Conn] = Counter()
    for conn in soak.conns:
        in_mailbox = False
        for item in conn.items:
            if item.kind != LINE:
                in_mailbox = False
                continue
            text = item.text
            if text == "My messages:":
                in_mailbox = True
            elif in_mailbox and (m := READ_LINE.match(text)):
                reads[m.group(1)].append((conn, m.group(2)))
            elif m := RETURNED.match(text):
                returns[m.group(2)].append((conn, m.group(1)))
            elif NEW_MESSAGE.match(text):
                told[conn] += 1
    stored: Counter[Conn] = Counter()
    known = set()
    for pm in soak.pms:
        known.add(pm.text)
        recipient = by_id.get(pm.recipient_id)
        figures[f"refused: {pm.outcome}" if pm.outcome != "sent" else "accepted"] += 1
        if pm.outcome == "no user":
            if (
                recipient is not None
                and recipient.login_at < pm.sent_at
                and (recipient.leave_at is None or recipient.leave_at > pm.answer_at)
            ):
                problems.append(f"{pm.text}: 'no user' for {recipient.name}, online")
            continue
        if pm.outcome != "sent":
            continue
        if recipient is None:
            problems.append(
                f"{pm.text}: accepted for id {pm.recipient_id}, never a user"
            )
            continue
        if recipient in bounds and bounds[recipient][1] < pm.sent_at:
            problems.append(f"{pm.text}: accepted for {recipient.name}, gone")
        stored[recipient] += 1
        sender = pm.sender
        read, back = reads.get(pm.text, []), returns.get(pm.text, [])
        if len(read) + len(back) > 1:
            problems.append(f"{pm.text}: read {len(read)} times, returned {len(back)}")
            continue
        if read:
            reader, from_name = read[0]
            if reader is not recipient or from_name != sender.name:
                problems.append(
                    f"{pm.text}: for {recipient.name}, read by {reader.name}"
                )
            figures["read once"] += 1
            continue
        if back:
            returned_to, to_name = back[0]
            if returned_to is not sender or to_name != recipient.name:
                problems.append(f"{pm.text}: returned to the wrong user or name")
            elif (
                recipient.leave_at is None
                or back_item_time(sender, pm) < recipient.leave_at
            ):
                problems.append(f"{pm.text}: returned before {recipient.name} left")
            figures["returned to sender"] += 1
            continue
        # Neither read nor returned.
        if recipient.leave_at is None or recipient.final_read:
            problems.append(f"{pm.text}: lost; {recipient.name} never read it")
            continue
        r_low, r_high = bounds[recipient]
        if sender is recipient:
            figures["to themselves, unread when they left"] += 1
            continue
        if sender.leave_at is None:
            problems.append(f"{pm.text}: lost; {sender.name} was never told")
            continue
        if sender.read_to_the_end:
            s_low, s_high = bounds[sender]
            if r_high < s_low:
                problems.append(f"{pm.text}: lost; {sender.name} was never told")
            elif s_high < r_low:
                figures["sender gone"] += 1
            else:
                figures["left together"] += 1
        else:
            if r_high < sender.horizon:
                problems.append(f"{pm.text}: lost; {sender.name} was never told")
            elif sender.leave_at < r_low:
                figures["sender gone"] += 1
            else:
                figures["left together"] += 1
    stray = (set(reads) | set(returns)) - known
    if stray:
        problems.append(
            f"messages read or returned that nobody sent: {sorted(stray)[:5]}"
        )
    for conn in soak.conns:
        if conn.read_to_the_end and told[conn] != stored[conn]:
            problems.append(
                f"{conn.name} was told of {told[conn]} messages, got {stored[conn]}"
            )
        if conn.leave_way == "final" and not conn.final_read:
            problems.append(f"{conn.name} did not read its mailbox at the end")
    figures["messages"] = len(soak.pms)
    return figures


def back_item_time(sender: Conn, pm: Pm) -> float:
    for item in sender.items:
        if item.kind == LINE and item.text.endswith(f"It said: {pm.text}"):
            return item.at
    return float("inf")


@attrs.define
class Segment:
    """One member's time in one room, as that member saw it."""

    conn: Conn
    room: str
    present: set[str]
    events: list[tuple[str, str, str]] = attrs.Factory(list)  # kind, name, text
    ended: bool = False


def room_segments(conn: Conn) -> list[Segment]:
    segments = []
    segment: Segment | None = None
    for item in conn.items:
        if item.kind != LINE:
            continue
        text = item.text
        if text.startswith("Chat Room "):
            segment = Segment(conn, text.removeprefix("Chat Room "), {conn.name})
            segments.append(segment)
        elif text.startswith("Joined to chat room "):
            segment = Segment(conn, text.removeprefix("Joined to chat room "), set())
            segments.append(segment)
        elif segment is None:
            continue
        elif text.startswith("In this room: "):
            segment.present = set(text.removeprefix("In this room: ").split(", "))
        elif room_ended(text, segment.room):
            segment.ended = True
            segment = None
        elif m := JOINED.match(text):
            segment.events.append(("joined", m.group(1), ""))
        elif m := LEFT.match(text):
            segment.events.append(("left", m.group(1), ""))
        elif m := SAID.match(text):
            segment.events.append(("said", m.group(1), m.group(2)))
    return segments


def check_rooms(soak: Soak, problems: list[str]) -> Counter:
    """Every room line reached every member present when said, and no one else."""
    figures: Counter[str] = Counter()
    by_room: dict[str, list[Segment]] = defaultdict(list)
    for conn in soak.conns:
        for segment in room_segments(conn):
            by_room[segment.room].append(segment)
    said = {text: (conn, room) for conn, room, text in soak.room_lines}
    for room, segments in by_room.items():
        figures["rooms"] += 1
        members = {s.conn.name: s for s in segments}
        if len(members) != len(segments):
            problems.append(f"{room}: a member was in it twice")
        # What each member saw: the lines, their order, who was present.
        seen: dict[str, dict[str, int]] = {}
        views: dict[str, dict[str, frozenset[str]]] = {}
        for segment in segments:
            present = set(segment.present)
            snapshot = frozenset(present)
            order: dict[str, int] = {}
            view: dict[str, frozenset[str]] = {}
            for kind, name, text in segment.events:
                if kind == "joined":
                    present.add(name)
                    snapshot = frozenset(present)
                elif kind == "left":
                    present.discard(name)
                    snapshot = frozenset(present)
                else:
                    if said.get(text, (None, None))[1] != room:
                        problems.append(f"{room}: {text!r} was not said there")
                    order[text] = len(order)
                    view[text] = snapshot
            seen[segment.conn.name] = order
            views[segment.conn.name] = view
        lines = [(c, t) for c, r, t in soak.room_lines if r == room]
        for speaker, text in lines:
            figures["room lines"] += 1
            present = views.get(speaker.name, {}).get(text)
            if present is None:
                problems.append(f"{room}: {speaker.name} did not see its own {text!r}")
                continue
            reference = seen[speaker.name]
            for view in views.values():
                if text in view and view[text] != present:
                    problems.append(f"{room}: members disagree on who heard {text!r}")
            for name, segment in members.items():
                got = text in seen[name]
                if name in present and got:
                    figures["deliveries"] += 1
                elif name in present:
                    later = [
                        t for t in seen[name] if reference.get(t, -1) > reference[text]
                    ]
                    if segment.ended or later:
                        problems.append(f"{room}: {name} missed {text!r}")
                    else:
                        figures["missed after dropping"] += 1
                elif got:
                    problems.append(f"{room}: {name} heard {text!r} while absent")
    return figures


async def main(reactor: Any, *argv: str) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds")
    parser.add_argument("--margin-kib", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(list(argv))
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    options = [
        "--max-per-address", str(args.clients * 4),
        "--line-rate", "50",
        "--mailbox-size", "5",
    ]  # fmt: skip
    problems: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="menuchat-soak-") as tmp,
        ServerProcess(Path(tmp) / "menuchat.log", options) as server,
    ):
        print(f"server: pid {server.pid}, port {server.port}, options {options}")
        print(f"{args.clients} clients for {args.seconds:.0f} s, seed {args.seed}")
        soak = Soak(reactor, server.port, args)
        started = time.monotonic()
        soak.deadline = started + args.seconds
        rss: list[tuple[float, int]] = []
        sampler = task.LoopingCall(
            lambda: rss.append((time.monotonic() - started, server.rss_kib()))
        )
        sampler.clock = reactor
        sampler.start(1.0)
        observing = defer.ensureDeferred(soak.observe())
        slots = [defer.ensureDeferred(soak.slot(n)) for n in range(args.clients)]
        remaining = await defer.gatherResults(slots).addTimeout(
            args.seconds + 3 * WAIT, reactor
        )
        observer = await observing
        sampler.stop()
        rss_end = server.rss_kib()
        staying = [c for c in remaining if c is not None]
        await soak.finish([*staying, observer])
        server.wait_until_idle(WAIT)
        rss_idle = server.rss_kib()
        log = server.log()
        status = server.terminate()

    rss_warm = next((kib for t, kib in rss if t >= args.warmup), rss[-1][1])
    bounds = logout_bounds(soak)
    mail = check_mail(soak, bounds, problems)
    rooms = check_rooms(soak, problems)
    lists = check_listings(soak, bounds, problems)
    ways = Counter(c.leave_way for c in soak.conns)

    print(
        f"users: {len(soak.conns)} logins; left by "
        + ", ".join(f"{way}: {n}" for way, n in sorted(ways.items(), key=str))
    )
    print("actions: " + ", ".join(f"{a} {n}" for a, n in sorted(soak.actions.items())))
    print(
        f"private messages: {mail['messages']} sent; {mail['accepted']} accepted,"
        f" {mail['refused: no user']} refused (no such user),"
        f" {mail['refused: full']} refused (mailbox full)"
    )
    print(
        f"  accepted: {mail['read once']} read once, {mail['returned to sender']}"
        f" returned to their sender, {mail['sender gone']} sender gone,"
        f" {mail['left together']} left together (order not observable),"
        f" {mail['to themselves, unread when they left']} to themselves, unread"
        " when they left"
    )
    print(
        f"room lines: {rooms['room lines']} said in {rooms['rooms']} rooms,"
        f" {rooms['deliveries']} deliveries to members present,"
        f" {rooms['missed after dropping']} not received by members who dropped"
        " abruptly just after"
    )
    print(f"user lists checked: {lists['user lists']}")
    print(
        f"server RSS: {rss_warm} KiB after {args.warmup:.0f} s warm-up, {rss_end} KiB"
        f" at the end ({rss_end - rss_warm:+d} KiB, margin {args.margin_kib} KiB),"
        f" {rss_idle} KiB once everyone left; peak {max(k for _, k in rss)} KiB"
    )
    print(
        "  samples: "
        + ", ".join(f"{t:.0f}s {k}" for t, k in rss[:: max(1, len(rss) // 12)])
    )
    print(f"server exit status {status}; Traceback in log: {'Traceback' in log}")
    if rss_end - rss_warm > args.margin_kib:
        problems.append(f"RSS grew by {rss_end - rss_warm} KiB after warm-up")
    if "Traceback" in log:
        problems.append("traceback in the server log")
    problems += soak.failures
    if problems:
        print(f"FAIL: {len(problems)} problems")
        for problem in problems[:30]:
            print(f"  {problem}")
        raise SystemExit(1)
    print("OK")


if __name__ == "__main__":
    task.react(main, sys.argv[1:])
