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
