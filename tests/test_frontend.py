"""Tests for menuchat.net.frontend: what a front-end's connections share."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.net.admission import Admission, Refusal
from menuchat.net.frontend import LineFactory
from menuchat.net.stats import ConnectionStats


class Fixed(LineFactory):
    """A front-end with a protocol-fixed line limit, as IRC's."""

    def line_limit(self) -> int:
        return 510


class LineFactoryTests(SynchronousTestCase):
    def test_the_line_limit_is_the_servers_option(self) -> None:
        factory = LineFactory(Clock(), Limits(max_line_length=77))
        self.assertEqual(factory.line_limit(), 77)
        self.assertEqual(Fixed(Clock(), Limits(max_line_length=77)).line_limit(), 510)

    def test_caps_come_from_the_limits_when_no_admission_is_shared(self) -> None:
        factory = LineFactory(Clock(), Limits(max_clients=3, max_per_address=2))
        self.assertEqual(factory.admission.max_clients, 3)
        self.assertEqual(factory.admission.max_per_address, 2)

    def test_two_front_ends_share_one_admission_and_one_count(self) -> None:
        limits = Limits(max_clients=1)
        admission = Admission(limits.max_clients, limits.max_per_address)
        stats = ConnectionStats()
        menu = LineFactory(Clock(), limits, admission, stats)
        irc = Fixed(Clock(), limits, admission, stats)
        self.assertIs(menu.admission, irc.admission)
        self.assertIs(menu.stats, irc.stats)
        # One client on the menu's port fills the server for the IRC port.
        self.assertIsNone(menu.admission.admit(object(), "10.0.0.1"))
        self.assertIs(irc.admission.admit(object(), "10.0.0.2"), Refusal.SERVER_FULL)

    def test_each_front_end_has_its_own_counts_unless_shared(self) -> None:
        one = LineFactory(Clock(), Limits())
        other = LineFactory(Clock(), Limits())
        self.assertIsNot(one.stats, other.stats)

    def test_refusals_are_summed_on_the_factorys_clock(self) -> None:
        clock = Clock()
        factory = LineFactory(clock, Limits())
        factory.refusal_log.refused(Refusal.SERVER_FULL)
        self.assertEqual(len(clock.getDelayedCalls()), 1)
