"""The dialogue of each server under test, so one scenario runs against both.

A driver turns the scenario's steps (log in, create or join a room, send room
lines, send and read a private message) into what its server expects on the
wire. `MenuchatDriver` speaks menuchat's wire contract (DESIGN.md);
`FloorDriver` speaks bench/floor.py's four-line dialogue; `IrcDriver` speaks
IRC (menuchat's gateway) and `NgircdDriver` the same for ngIRCd, with the
operator step that lifts its flood limits.

Room lines: the menu and the floor echo a sender's own line back to it
(``echoes_own``); IRC servers do not, so there the sender is left out of the
count and paces itself on another member's receipts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from bench.loop import Conn, DialogueTask

NAME_PROMPT = b"Your id key (i.e your name): "
PASSWORD_PROMPT = b"Password: "
OPTION_PROMPT = b"Your option <enter a number>: "
_CLIENT_ID = re.compile(rb"Client ID: (\d+)")

#: Called with the receive time of each private-message notice.
NoticeCallback = Callable[[float, "int | None"], None]
#: Called with the number of private messages just read.
ReadCallback = Callable[[int], None]


class MenuchatDriver:
    """menuchat's menu dialogue (a user waits for each prompt, as in telnet)."""

    kind = "menuchat"
    fail = b"Error: "
    #: Whether the sender gets a confirmation ("Message sent!") per message.
    confirms_pm = True
    #: Whether a room line comes back to its own sender.
    echoes_own = True

    def room_line(self, text: bytes) -> bytes:
        """What a member sends to say ``text`` in its room."""
        return text + b"\n"

    def room_line_to(self, room: bytes, text: bytes) -> bytes:
        """The same, for a member of ``room`` (a member is in one room)."""
        return text + b"\n"

    def room_marker(self, text: bytes) -> bytes:
        """How a member sees ``text`` said in its room."""
        return b"> " + text

    def login(self, conn: Conn, name: bytes) -> DialogueTask:
        """Answer the name prompt; done at the option prompt after the menu."""
        yield NAME_PROMPT
        conn.send(name + b"\n")
        got = yield OPTION_PROMPT
        m = _CLIENT_ID.search(got)
        if m is None:
            raise ValueError(f"no 'Client ID:' in {got[-300:]!r}")
        conn.user_id = int(m.group(1))

    def login_registered(
        self, conn: Conn, name: bytes, password: bytes
    ) -> DialogueTask:
        """A registered name: the name, then the password; done at the menu."""
        yield NAME_PROMPT
        conn.send(name + b"\n")
        yield PASSWORD_PROMPT
        conn.send(password + b"\n")
        got = yield OPTION_PROMPT
        m = _CLIENT_ID.search(got)
        if m is None:
            raise ValueError(f"no 'Client ID:' in {got[-300:]!r}")
        conn.user_id = int(m.group(1))

    def create_room(self, conn: Conn, room: bytes) -> DialogueTask:
        """Option 4; done after the room header's last line."""
        conn.send(b"4\n")
        yield b"Enter new chat room id: "
        conn.send(room + b"\n")
        yield b"Type 'exit' to close the chat room."
        yield b"\n"

    def join_room(self, conn: Conn, room: bytes) -> DialogueTask:
        """Option 5; done after the join header's last line."""
        conn.send(b"5\n")
        yield b"Enter chat room id to join: "
        conn.send(room + b"\n")
        yield b"Type 'bye' to exit this chat room."
        yield b"\n"

    def pm_payload(self, recipient: Conn, text: bytes) -> bytes:
        """Option 2 with its two answers, pipelined in one write."""
        return b"2\n%s\n%d\n" % (text, recipient.user_id)

    def watch_pm_sender(self, conn: Conn, on_sent: ReadCallback) -> None:
        """Count the sender's "Message sent!" confirmations; fail on an error."""
        conn.on_data = _LineWatcher(
            conn, lambda line: _sender_line(conn, line, on_sent)
        ).data

    def read_pms(
        self, conn: Conn, on_notice: NoticeCallback, on_read: ReadCallback
    ) -> None:
        """On each "New message from" notice, read the mailbox with option 3."""
        conn.on_data = _MailReader(conn, on_notice, on_read).data


def _sender_line(conn: Conn, line: bytes, on_sent: ReadCallback) -> None:
    if b"Message sent!" in line:
        on_sent(1)
    elif b"Error: " in line:
        conn.loop.fail(f"{conn.name.decode()}: {line.decode(errors='replace')!r}")


class _LineWatcher:
    """Split received text into lines and hand each to ``on_line``."""

    def __init__(self, conn: Conn, on_line: Callable[[bytes], None]) -> None:
        self.on_line = on_line
        self.tail = bytes(conn.buf)
        conn.buf.clear()

    def data(self, conn: Conn, data: bytes) -> None:
        lines = (self.tail + data).split(b"\n")
        self.tail = lines.pop()
        for line in lines:
            self.on_line(line)


_UNREAD = re.compile(rb"\((\d+) unread\)")


class _MailReader:
    """A recipient that reads its mailbox whenever a notice says it has mail.

    The prompt after "My messages:" ends a listing; prompts have no line end,
    so they are stripped from the front of the text that follows them.
    """

    def __init__(
        self, conn: Conn, on_notice: NoticeCallback, on_read: ReadCallback
    ) -> None:
        self.conn = conn
        self.on_notice = on_notice
        self.on_read = on_read
        self.tail = bytes(conn.buf)
        conn.buf.clear()
        self.notices = 0
        self.read = 0
        self.asked = False
        self.more = False
        self.listing = False

    def data(self, conn: Conn, data: bytes) -> None:
        now = time.time()
        lines = (self.tail + data).split(b"\n")
        self.tail = self._strip_prompts(lines.pop())
        for line in lines:
            line = self._strip_prompts(line)
            if b"New message from " in line:
                # One notice may tell of several messages: "(N unread)".
                found = _UNREAD.search(line)
                self.notices += 1
                self.on_notice(now, int(found.group(1)) if found else None)
                if self.asked:
                    self.more = True
                else:
                    self._ask()
            elif b"My messages:" in line:
                self.listing = True
            elif self.listing and b"(from: " in line:
                self.read += 1
                self.on_read(1)
            elif b"Error: " in line:
                conn.loop.fail(
                    f"{conn.name.decode()}: {line.decode(errors='replace')!r}"
                )

    def _strip_prompts(self, text: bytes) -> bytes:
        while text.startswith(OPTION_PROMPT):
            text = text[len(OPTION_PROMPT) :]
            if self.listing:
                self.listing = False
                self.asked = False
                if self.more:
                    self.more = False
                    self._ask()
        return text

    def _ask(self) -> None:
        self.asked = True
        self.conn.send(b"3\n")


class FloorDriver:
    """bench/floor.py's dialogue: NAME, JOIN room, room lines, TO name text."""

    kind = "floor"
    fail = b"TAKEN"
    confirms_pm = False
    echoes_own = True

    def room_line(self, text: bytes) -> bytes:
        """What a member sends to say ``text`` in its room."""
        return text + b"\n"

    def room_line_to(self, room: bytes, text: bytes) -> bytes:
        """The same, for a member of ``room`` (a member is in one room)."""
        return text + b"\n"

    def room_marker(self, text: bytes) -> bytes:
        """How a member sees ``text`` said in its room."""
        return b"> " + text

    def login(self, conn: Conn, name: bytes) -> DialogueTask:
        """Wait for the greeting, send the name; done at "OK"."""
        yield b"HELLO\r\n"
        conn.send(name + b"\n")
        yield b"OK\r\n"

    def login_registered(
        self, conn: Conn, name: bytes, password: bytes
    ) -> DialogueTask:
        """The floor has no accounts: a registered user logs in by name alone."""
        return self.login(conn, name)

    def create_room(self, conn: Conn, room: bytes) -> DialogueTask:
        """The floor has no owners: creating is joining."""
        return self.join_room(conn, room)

    def join_room(self, conn: Conn, room: bytes) -> DialogueTask:
        """Send JOIN; done at "JOINED"."""
        conn.send(b"JOIN " + room + b"\n")
        yield b"JOINED\r\n"

    def pm_payload(self, recipient: Conn, text: bytes) -> bytes:
        """One "TO name text" line."""
        return b"TO %s %s\n" % (recipient.name, text)

    def watch_pm_sender(self, conn: Conn, on_sent: ReadCallback) -> None:
        """The floor confirms nothing and sends the sender nothing back."""
        conn.on_data = _LineWatcher(conn, lambda line: None).data

    def read_pms(
        self, conn: Conn, on_notice: NoticeCallback, on_read: ReadCallback
    ) -> None:
        """Each "FROM" line is both the notice and the message."""

        def data(c: Conn, data: bytes) -> None:
            n = data.count(b"\n")
            if n:
                now = time.time()
                for _ in range(n):
                    on_notice(now, None)
                on_read(n)

        conn.on_data = data


class IrcDriver:
    """IRC: NICK/USER, JOIN #room, PRIVMSG to the room or to a nick.

    Registration waits for 001, then for the answer to a PING sent after it,
    so the rest of the welcome burst (ISUPPORT, LUSERS, MOTD) is read before
    anything is measured. A JOIN is done at 366 (end of NAMES). Nothing
    confirms a private message to its sender; the recipient gets it as a
    PRIVMSG line at once, which is both the notice and the message.
    """

    kind = "irc"
    #: ERR_NICKNAMEINUSE before registration (target "*"): the bench's
    #: nicks are unique, so this is a failure.
    fail = b" 433 * "
    confirms_pm = False
    echoes_own = False

    def __init__(self) -> None:
        self.room = b""

    def login(self, conn: Conn, name: bytes) -> DialogueTask:
        """NICK and USER at once; done when the welcome burst is read."""
        conn.send(b"NICK %s\r\nUSER %s 0 * :bench\r\n" % (name, name))
        yield b" 001 "
        yield from self.after_welcome(conn, name)
        conn.send(b"PING :bench-ready\r\n")
        yield b"bench-ready\r\n"

    def after_welcome(self, conn: Conn, name: bytes) -> DialogueTask:
        """Anything to do between 001 and the end of registration."""
        return
        yield

    def create_room(self, conn: Conn, room: bytes) -> DialogueTask:
        """JOIN creates a channel (menuchat: its joiner owns it)."""
        return self.join_room(conn, room)

    def join_room(self, conn: Conn, room: bytes) -> DialogueTask:
        """JOIN #room; done at RPL_ENDOFNAMES."""
        self.room = b"#" + room
        conn.send(b"JOIN %s\r\n" % self.room)
        yield b" 366 "
        yield b"\n"

    def room_line(self, text: bytes) -> bytes:
        """A PRIVMSG to the channel."""
        return b"PRIVMSG %s :%s\r\n" % (self.room, text)

    def room_line_to(self, room: bytes, text: bytes) -> bytes:
        """A PRIVMSG to channel #``room`` (a client may be in several)."""
        return b"PRIVMSG #%s :%s\r\n" % (room, text)

    def room_marker(self, text: bytes) -> bytes:
        """Others see ``:nick!user@host PRIVMSG #room :text``."""
        return b"PRIVMSG %s :%s" % (self.room, text)

    def pm_payload(self, recipient: Conn, text: bytes) -> bytes:
        """One PRIVMSG to the recipient's nick."""
        return b"PRIVMSG %s :%s\r\n" % (recipient.name, text)

    def watch_pm_sender(self, conn: Conn, on_sent: ReadCallback) -> None:
        """Nothing comes back but errors (no such nick, flood, ERROR)."""
        conn.on_data = _LineWatcher(conn, lambda line: _irc_line(conn, line)).data

    def read_pms(
        self, conn: Conn, on_notice: NoticeCallback, on_read: ReadCallback
    ) -> None:
        """Each PRIVMSG line is both the notice and the message."""

        def on_line(line: bytes) -> None:
            if b" PRIVMSG " in line:
                on_notice(time.time(), None)
                on_read(1)
            else:
                _irc_line(conn, line)

        conn.on_data = _LineWatcher(conn, on_line).data


#: Numerics that mean a bench line was refused: no such nick/channel,
#: cannot send to channel, too many targets, not on channel; and ERROR.
_IRC_ERRORS = re.compile(rb"^(:\S+ (401|403|404|407|442) |ERROR )")


def _irc_line(conn: Conn, line: bytes) -> None:
    if line.startswith(b"PING "):
        conn.send(b"PONG " + line[5:].rstrip(b"\r") + b"\r\n")
    elif _IRC_ERRORS.match(line):
        conn.loop.fail(f"{conn.name.decode()}: {line.decode(errors='replace')!r}")


#: The operator block bench.servers writes into ngIRCd's configuration.
NGIRCD_OPER = (b"bench", b"bench")


class NgircdDriver(IrcDriver):
    """ngIRCd: as IRC, but each client becomes an operator and sets user mode
    +F ("relaxed flood protection"), the only way ngIRCd lets a client send
    more than about 3 commands or 256 bytes a second without being delayed."""

    kind = "ngircd"

    def after_welcome(self, conn: Conn, name: bytes) -> DialogueTask:
        """OPER, then MODE +F on itself; done when the mode is confirmed."""
        conn.send(b"OPER %s %s\r\nMODE %s +F\r\n" % (*NGIRCD_OPER, name))
        yield b" 381 "
        # OPER itself may announce +o first; wait for the change that has F.
        while True:
            yield b" MODE %s " % name
            change = yield b"\n"
            if b"F" in change:
                return


class MenuchatClusterDriver(MenuchatDriver):
    """menuchat's dialogue against several nodes of one server.

    A room created on one node reaches the others' mirrors through Redis a
    moment later: a join on another node that comes before it is told there
    is no such room, and asks again.
    """

    def join_room(self, conn: Conn, room: bytes) -> DialogueTask:
        """Option 5 until the room is there; done after the join header."""
        while True:
            conn.send(b"5\n")
            yield b"Enter chat room id to join: "
            conn.send(room + b"\n")
            first = yield b"\n"
            if b"Joined to chat room" in first:
                break
            if b"there is no chat room" not in first:
                raise ValueError(f"joining {room!r}: {first[-300:]!r}")
            yield OPTION_PROMPT
        yield b"Type 'bye' to exit this chat room."
        yield b"\n"


DRIVERS = {
    "menuchat": MenuchatDriver,
    "menuchat-cluster": MenuchatClusterDriver,
    "floor": FloorDriver,
    "irc": IrcDriver,
    "ngircd": NgircdDriver,
}
