"""Text that languages need passes; what moves a terminal does not.

Message text keeps the zero-width joiner and non-joiner; bidi overrides,
escapes and other controls are still removed. A name with a no-break or
ideographic space is refused for a space, not for control characters.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.errors import TokenProblem
from menuchat.core.names import token_problem
from menuchat.frontends.menu.dialogue import clean

ZWJ, ZWNJ = "\u200d", "\u200c"


class CleanTests(SynchronousTestCase):
    def test_emoji_family_keeps_its_joiners(self) -> None:
        family = "\U0001f468" + ZWJ + "\U0001f469" + ZWJ + "\U0001f467"
        self.assertEqual(clean(f"hi {family}"), f"hi {family}")

    def test_persian_keeps_the_non_joiner(self) -> None:
        word = "می" + ZWNJ + "خواهم"
        self.assertEqual(clean(word), word)

    def test_bidi_overrides_escapes_and_controls_still_go(self) -> None:
        self.assertEqual(
            clean("a\u202eb\u2066c" + ZWJ + "\x1b[31mred\x07\x08!"),
            "abc" + ZWJ + "red!",
        )

    def test_other_zero_width_format_characters_go(self) -> None:
        self.assertEqual(clean("a\u200bb\u2060c\ufeffd"), "abcd")


class NameSpaceTests(SynchronousTestCase):
    def test_no_break_space_is_a_space(self) -> None:
        self.assertIs(token_problem("Nina\u00a0B"), TokenProblem.SPACE)

    def test_ideographic_space_is_a_space(self) -> None:
        self.assertIs(token_problem("李\u3000明"), TokenProblem.SPACE)

    def test_controls_and_joiners_in_names_are_still_refused(self) -> None:
        self.assertIs(token_problem("Ni\x07na"), TokenProblem.CONTROL)
        self.assertIs(token_problem("Ni" + ZWJ + "na"), TokenProblem.CONTROL)
