"""How the menu shows hub events (frontends/menu/view.py)."""

from __future__ import annotations

import time

from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.events import HistoryLine
from menuchat.frontends.menu.view import history_line

NOON = time.mktime((2019, 8, 5, 12, 0, 0, 0, 0, -1))


class HistoryLineTests(SynchronousTestCase):
    def test_a_line_of_today_shows_its_time(self) -> None:
        line = HistoryLine("Alice", "Hello", NOON - 15 * 60)
        assert history_line(line, NOON) == "[11:45] Alice> Hello\r\n"

    def test_an_older_line_shows_its_date_too(self) -> None:
        line = HistoryLine("Alice", "Hello", NOON - 24 * 3600)
        assert history_line(line, NOON) == "[2019-08-04 12:00] Alice> Hello\r\n"


class JoinTests(SynchronousTestCase):
    def test_a_joiner_sees_topic_members_then_history_then_live_lines(self) -> None:
        from tests.menu_people import PeopleCase

        case = PeopleCase()
        case.setUp()
        nina = case.person("Nina")
        nina.say("/create lobby", "/topic Welcome", "first", "second")
        said = case.person("Jose").say("/join lobby")
        stamp = time.strftime("%H:%M", time.localtime(case.clock.seconds()))
        assert said == (
            "Joined to chat room lobby\r\n"
            "Type 'bye' to exit this chat room.\r\n"
            "Topic: Welcome\r\n"
            "In this room: Nina, Jose\r\n"
            f"[{stamp}] Nina> first\r\n"
            f"[{stamp}] Nina> second\r\n"
        )


class Counted(str):
    """A text whose format() calls are counted: how often it is rendered."""

    calls = 0

    def format(self, *args: object, **kwargs: object) -> str:
        type(self).calls += 1
        return str.format(self, *args, **kwargs)


class RenderOnceTests(SynchronousTestCase):
    """A room event is rendered once for all its members, not once each."""

    def setUp(self) -> None:
        from tests.menu_people import PeopleCase

        self.case = PeopleCase()
        self.case.setUp()
        self.nina = self.case.person("Nina")
        self.nina.say("/create lobby")
        for name in ("Jose", "Ana"):
            self.case.person(name).say("/join lobby")
        Counted.calls = 0

    def test_a_room_line(self) -> None:
        from menuchat.frontends.menu import texts

        self.patch(texts, "ROOM_LINE", Counted(texts.ROOM_LINE))
        self.nina.say("hello")
        assert Counted.calls == 1

    def test_a_member_joining(self) -> None:
        from menuchat.frontends.menu import texts

        self.patch(texts, "MEMBER_JOINED", Counted(texts.MEMBER_JOINED))
        self.case.person("Eve").say("/join lobby")
        assert Counted.calls == 1

    def test_a_member_leaving(self) -> None:
        from menuchat.core.events import LeaveReason
        from menuchat.frontends.menu import view

        left = dict(view.LEFT)
        left[LeaveReason.LEFT] = Counted(left[LeaveReason.LEFT])
        self.patch(view, "LEFT", left)
        eve = self.case.person("Eve")
        eve.say("/join lobby")
        eve.say("bye")
        assert Counted.calls == 1

    def test_a_room_change(self) -> None:
        from menuchat.core.events import Change
        from menuchat.frontends.menu import view

        changed = dict(view.CHANGED)
        changed[Change.TOPIC] = Counted(changed[Change.TOPIC])
        self.patch(view, "CHANGED", changed)
        self.nina.say("/topic maths")
        assert Counted.calls == 1


class MailNoticeTests(SynchronousTestCase):
    def test_mail_read_in_the_turn_it_came_is_not_noticed_after(self) -> None:
        from tests.menu_people import PeopleCase

        case = PeopleCase()
        case.setUp()
        nina = case.person("Nina")
        jose = case.person("Jose")
        jose.protocol.dataReceived(b"/msg nina hi\r\n")
        nina.protocol.dataReceived(b"3\r\n")  # in the same turn
        said = nina.read()
        # The notice left with Jose's read, before Nina's listing.
        assert said.count("New message") == 1
        assert said.index("New message") < said.index("hi (from: Jose)")

    def test_a_notice_still_to_come_is_dropped_once_the_mail_is_read(
        self,
    ) -> None:
        from tests.menu_people import PeopleCase

        case = PeopleCase()
        case.setUp()
        nina = case.person("Nina")
        jose = case.person("Jose")
        assert jose.protocol.session is not None and nina.protocol.session
        # Mail that comes outside a read (a store's late answer) is told at
        # the turn's end; a read of the mailbox before then shows it.
        case.factory.hub.send_to(jose.protocol.session.user, "Nina", "hi")
        nina.protocol.dataReceived(b"3\r\n")
        said = nina.read()
        assert "hi (from: Jose)" in said
        assert "New message" not in said
