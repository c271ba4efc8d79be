"""The IRC wire format: parsing, formatting, cutting, nicks."""

from twisted.trial.unittest import SynchronousTestCase

from menuchat.frontends.irc.wire import (
    from_irc,
    irc_nick,
    line,
    mask,
    nick_problem,
    parse,
    to_irc,
)


class WireTests(SynchronousTestCase):
    def test_parse(self):
        assert parse("privmsg #r :hello there") == ("PRIVMSG", ["#r", "hello there"])
        assert parse("@label=x PING a") == ("PING", ["a"])
        assert parse("   ") is None
        assert parse("") is None

    def test_line_puts_the_last_parameter_after_a_colon(self):
        assert line("s", "001", "nick", "Hi there") == b":s 001 nick :Hi there\r\n"
        assert line(None, "PING", "s") == b"PING :s\r\n"

    def test_a_long_line_is_cut_to_512_bytes_on_a_character(self):
        data = line("s", "PRIVMSG", "n", "😃" * 200)
        assert len(data) <= 512
        assert data.endswith("😃\r\n".encode())

    def test_nicks_irc_reserves_characters_of(self):
        assert irc_nick("plain") == "plain"
        assert irc_nick("a!b@c") == "a_b_c"
        assert irc_nick("#chan") == "_chan"
        assert irc_nick("+v") == "_v"
        assert nick_problem("a!b") and nick_problem("#x") and not nick_problem("zoë")
        assert mask("a@b", 7, "host") == "a_b!7@host"

    def test_text_from_and_to_irc(self):
        assert from_irc("\x0304red\x03 \x02bold\x02") == "red bold"
        assert from_irc("\x01ACTION waves\x01") == "/me waves"
        assert from_irc("\x01VERSION\x01") is None
        assert from_irc("tab\there\x07") == "tab here"
        assert to_irc("/me waves") == "\x01ACTION waves\x01"
        assert to_irc("plain") == "plain"

    def test_a_cut_in_the_middle_of_a_character_drops_that_character(self):
        # 13 bytes before the text, then 2-byte characters: byte 510 falls
        # inside one.
        data = line(None, "PRIVMSG", "#ro", "é" * 300)
        assert data == b"PRIVMSG #ro :" + "é".encode() * 248 + b"\r\n"

    def test_trailing_whitespace_other_than_spaces_is_content(self):
        assert parse("PRIVMSG #r :hi\t") == ("PRIVMSG", ["#r", "hi\t"])

    def test_a_comma_is_no_part_of_a_nick(self):
        assert nick_problem("a,b")

    def test_an_action_keeps_its_last_letters(self):
        assert from_irc("\x01ACTION says X\x01") == "/me says X"
