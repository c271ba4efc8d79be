"""The limits of a server: defaults and what values they accept."""

import attrs
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits


class LimitsTests(SynchronousTestCase):
    def test_limits_refuse_impossible_values(self):
        for bad in [{"line_burst": 0}, {"max_clients": -1}, {"line_rate": -1.0}]:
            with self.assertRaises((ValueError, TypeError)):
                Limits(**bad)

    def test_counts_must_be_whole_numbers_of_at_least_one(self):
        for field in attrs.fields(Limits):
            if field.type not in (int, "int") or field.name == "room_history":
                continue
            for bad in (0, -1, 1.5, "3"):
                with self.assertRaises((ValueError, TypeError), msg=field.name):
                    Limits(**{field.name: bad})
            assert getattr(Limits(**{field.name: 1}), field.name) == 1

    def test_room_history_may_be_zero_but_not_negative(self):
        assert Limits(room_history=0).room_history == 0
        for bad in (-1, 1.5, "3"):
            with self.assertRaises((ValueError, TypeError)):
                Limits(room_history=bad)

    def test_amounts_may_be_zero_but_not_negative(self):
        for name in ("line_rate", "login_timeout", "idle_timeout", "close_timeout"):
            assert getattr(Limits(**{name: 0}), name) == 0
            assert getattr(Limits(**{name: 2.5}), name) == 2.5
            with self.assertRaises(ValueError, msg=name):
                Limits(**{name: -0.5})

    def test_frozen(self):
        with self.assertRaises(attrs.exceptions.FrozenInstanceError):
            Limits().max_clients = 5
