"""The naming rules shared by user names and room ids."""

from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.errors import InvalidName, InvalidRoomId, TokenProblem
from menuchat.core.names import (
    MAX_TOKEN_LENGTH,
    check_token,
    token_key,
    token_problem,
)


class TokenProblemTests(SynchronousTestCase):
    """token_problem() names the first rule a token breaks."""

    def test_valid_tokens_have_none(self):
        for token in ["Nina", "Zoë🙂", "x" * MAX_TOKEN_LENGTH, "a.b-c_d", "٣"]:
            assert token_problem(token) is None, token

    def test_empty(self):
        assert token_problem("") is TokenProblem.EMPTY

    def test_one_character_over_the_limit(self):
        assert MAX_TOKEN_LENGTH == 32
        assert token_problem("x" * 33) is TokenProblem.TOO_LONG

    def test_control_and_format_characters(self):
        for token in ["a\x07", "a\tb", "\x1b[2J", "rtl\u202e", "zw\u200bj", "nl\n"]:
            assert token_problem(token) is TokenProblem.CONTROL, token

    def test_space(self):
        assert token_problem("two words") is TokenProblem.SPACE

    def test_comma_and_colon(self):
        for token in ["a,b", "a:b", ":", ","]:
            assert token_problem(token) is TokenProblem.PUNCTUATION, token

    def test_only_marks_is_invisible(self):
        # A combining mark (Mn) or an enclosing one (Me) shows nothing alone.
        for token in ["\u0301", "\u20dd", "\u20dd\u0301"]:
            assert token_problem(token) is TokenProblem.INVISIBLE, repr(token)
        assert token_problem("a\u20dd") is None

    def test_length_is_checked_before_content(self):
        assert token_problem(" " * 40) is TokenProblem.TOO_LONG


class CheckTokenTests(SynchronousTestCase):
    """check_token() raises the error class it is given, with the problem."""

    def test_raises_the_given_class_with_token_and_problem(self):
        for what in (InvalidName, InvalidRoomId):
            with self.assertRaises(what) as caught:
                check_token("a b", what)
            assert caught.exception.token == "a b"
            assert caught.exception.problem is TokenProblem.SPACE

    def test_a_valid_token_passes(self):
        assert check_token("lobby", InvalidRoomId) is None


class TokenKeyTests(SynchronousTestCase):
    """token_key() makes the same name in another case or spelling equal."""

    def test_letter_case(self):
        assert token_key("NINA") == token_key("nina") == token_key("Nina")

    def test_unicode_case_folding(self):
        assert token_key("STRASSE") == token_key("straße")

    def test_composed_and_decomposed_accents(self):
        assert token_key("Jos\u00e9") == token_key("Jose\u0301")

    def test_fullwidth_letters(self):
        assert token_key("\uff2a\uff4f\uff53\u00e9") == token_key("José")

    def test_ascii_marks_are_the_same_as_their_look_alikes(self):
        # ";" and "%" have look-alikes outside ASCII (a Greek question
        # mark, an Arabic percent sign): an ASCII name with them is keyed
        # as any other spelling of it.
        assert token_key("x;y") == token_key("x\u037ey") == "x;y"
        assert token_key("a%b") == token_key("a\u066ab")
        assert token_key("a%b") != token_key("a&b")

    def test_different_names_stay_different(self):
        assert token_key("Nina") != token_key("Nino")
