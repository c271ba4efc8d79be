"""Names are one name whatever look-alike script spells them (UTS #39)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.errors import TokenProblem
from menuchat.core.names import token_key, token_problem


class ConfusableTests(SynchronousTestCase):
    def test_look_alikes_from_other_scripts_share_a_key(self) -> None:
        for name, alike in [
            ("alice", "\u0430lice"),  # Cyrillic a
            ("paypal", "\u0440\u0430\u0443\u0440\u0430l"),  # Cyrillic p, a, y
            ("Bob", "B0b"),  # digit zero
            ("Nina", "NINA"),
            ("Jos\u00e9", "Jose\u0301"),  # precomposed and combining accent
            ("Jose", "\uff2a\uff4f\uff53\uff45"),  # fullwidth
        ]:
            self.assertEqual(token_key(name), token_key(alike), (name, alike))

    def test_different_names_keep_different_keys(self) -> None:
        for name, other in [("Jose", "Jos\u00e9"), ("Nina", "Nino"), ("李", "季")]:
            self.assertNotEqual(token_key(name), token_key(other), (name, other))

    def test_names_of_only_invisible_characters_are_refused(self) -> None:
        for name in ("\u3164", "\u2800\u2800", "\u115f\u1160", "\u0301"):
            self.assertIs(token_problem(name), TokenProblem.INVISIBLE, repr(name))
        self.assertIsNone(token_problem("a\u3164"))

    def test_the_table_is_read_by_prepare_once(self) -> None:
        from menuchat.core import names

        names._prototypes.cache_clear()
        names.prepare()
        names.prepare()
        info = names._prototypes.cache_info()
        assert (info.misses, info.currsize) == (1, 1)
        assert token_key("\u0430") == "a"
