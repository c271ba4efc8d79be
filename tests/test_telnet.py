"""The telnet filter: commands out of the byte stream, every option refused."""

from twisted.trial.unittest import SynchronousTestCase

from menuchat.frontends.menu.telnet import SUBNEGOTIATION_LIMIT, TelnetFilter

IAC_DO_ECHO = b"\xff\xfd\x01"
IAC_WONT_ECHO = b"\xff\xfc\x01"
IAC_WILL_NAWS = b"\xff\xfb\x1f"
IAC_DONT_NAWS = b"\xff\xfe\x1f"
# A window-size subnegotiation for an 80 x 10 terminal: its 10 is a LF byte.
NAWS_80_BY_10 = b"\xff\xfa\x1f\x00\x50\x00\x0a\xff\xf0"
IAC_IP = b"\xff\xf4"

# Text and commands of every kind, as telnet sends them when it connects.
STREAM = (
    b"Ni"
    + IAC_DO_ECHO
    + IAC_WILL_NAWS
    + NAWS_80_BY_10
    + b"na"
    + IAC_IP
    + b"\xff\xfc\x03"  # IAC WONT SUPPRESS-GO-AHEAD: no answer
    + b"\xff\xfe\x05"  # IAC DONT STATUS: no answer
    + b"\xff\xff"  # an escaped data byte 255
    + b"\r\n"
)
STREAM_TEXT = b"Nina\r\n"
STREAM_ANSWERS = IAC_WONT_ECHO + IAC_DONT_NAWS


def feed_all(chunks):
    """Feed C{chunks} to one filter; the text and answers, joined."""
    telnet = TelnetFilter()
    text, answers = b"", b""
    for chunk in chunks:
        more_text, more_answers = telnet.feed(chunk)
        text += more_text
        answers += more_answers
    return text, answers


class RefusalTests(SynchronousTestCase):
    """A DO is answered WONT, a WILL is answered DONT; WONT and DONT are not."""

    def test_do_echo_is_answered_wont_echo(self):
        assert TelnetFilter().feed(IAC_DO_ECHO) == (b"", IAC_WONT_ECHO)

    def test_will_is_answered_dont(self):
        assert TelnetFilter().feed(IAC_WILL_NAWS) == (b"", IAC_DONT_NAWS)

    def test_wont_and_dont_get_no_answer(self):
        assert TelnetFilter().feed(b"\xff\xfc\x01\xff\xfe\x01") == (b"", b"")

    def test_several_requests_in_one_read_are_answered_in_order(self):
        requests = b"\xff\xfd\x06" + IAC_WILL_NAWS + IAC_DO_ECHO + b"\xff\xfb\x18"
        assert TelnetFilter().feed(requests) == (
            b"",
            b"\xff\xfc\x06" + IAC_DONT_NAWS + IAC_WONT_ECHO + b"\xff\xfe\x18",
        )


class StreamTests(SynchronousTestCase):
    """Commands are taken out wherever they fall, however the reads are cut."""

    def test_one_read(self):
        assert feed_all([STREAM]) == (STREAM_TEXT, STREAM_ANSWERS)

    def test_text_without_commands_passes_unchanged(self):
        text = "Zoë 🙂 says hi\r\n".encode()
        assert TelnetFilter().feed(text) == (text, b"")

    def test_split_into_two_reads_at_every_point(self):
        for cut in range(1, len(STREAM)):
            chunks = [STREAM[:cut], STREAM[cut:]]
            assert feed_all(chunks) == (STREAM_TEXT, STREAM_ANSWERS), cut

    def test_byte_by_byte(self):
        chunks = [STREAM[n : n + 1] for n in range(len(STREAM))]
        assert feed_all(chunks) == (STREAM_TEXT, STREAM_ANSWERS)

    def test_a_split_request_is_answered_once_whole(self):
        telnet = TelnetFilter()
        assert telnet.feed(b"a\xff") == (b"a", b"")
        assert telnet.feed(b"\xfd") == (b"", b"")
        assert telnet.feed(b"\x01b") == (b"b", IAC_WONT_ECHO)

    def test_several_subnegotiations_in_one_read(self):
        terminal_type = b"\xff\xfa\x18\x00VT100\xff\xf0"
        data = NAWS_80_BY_10 + b"a" + terminal_type + NAWS_80_BY_10 + b"b\n"
        assert TelnetFilter().feed(data) == (b"ab\n", b"")

    def test_a_subnegotiation_keeps_its_line_feed_byte(self):
        assert feed_all([b"x", NAWS_80_BY_10[:6], NAWS_80_BY_10[6:]]) == (b"x", b"")

    def test_an_escaped_255_and_two_byte_commands_are_dropped(self):
        assert TelnetFilter().feed(b"a\xff\xffb\xff\xf4c\xff\xf1d") == (b"abcd", b"")


class SubnegotiationLimitTests(SynchronousTestCase):
    """An unfinished subnegotiation is kept up to SUBNEGOTIATION_LIMIT bytes."""

    def test_the_limit(self):
        assert SUBNEGOTIATION_LIMIT == 1024

    def test_one_of_exactly_the_limit_is_kept_until_its_end(self):
        telnet = TelnetFilter()
        opening = b"\xff\xfa\x18" + b"x" * (SUBNEGOTIATION_LIMIT - 3)
        assert len(opening) == SUBNEGOTIATION_LIMIT
        assert telnet.feed(opening) == (b"", b"")
        assert telnet.feed(b"\xff\xf0ok") == (b"ok", b"")

    def test_text_after_a_kept_one_is_part_of_it(self):
        telnet = TelnetFilter()
        telnet.feed(b"\xff\xfa\x18" + b"x" * (SUBNEGOTIATION_LIMIT - 3))
        assert telnet.feed(b"ok") == (b"", b"")

    def test_one_byte_over_the_limit_is_dropped(self):
        telnet = TelnetFilter()
        opening = b"\xff\xfa\x18" + b"x" * (SUBNEGOTIATION_LIMIT - 2)
        assert telnet.feed(b"before" + opening) == (b"before", b"")
        # Nothing is held: what follows is text again.
        assert telnet.feed(b"ok") == (b"ok", b"")

    def test_one_growing_past_the_limit_over_reads_is_dropped(self):
        telnet = TelnetFilter()
        assert telnet.feed(b"\xff\xfa\x18") == (b"", b"")
        for _ in range(SUBNEGOTIATION_LIMIT // 100):
            assert telnet.feed(b"y" * 100) == (b"", b"")
        assert telnet.feed(b"y" * 100) == (b"", b"")  # past the limit: dropped
        assert telnet.feed(b"ok") == (b"ok", b"")

    def test_one_begun_late_in_a_long_read_is_kept_until_its_end(self):
        # The limit counts the subnegotiation's bytes, not the text before it.
        telnet = TelnetFilter()
        text = b"x" * (2 * SUBNEGOTIATION_LIMIT)
        assert telnet.feed(text + b"\xff\xfa\x18abc") == (text, b"")
        assert telnet.feed(b"def\xff\xf0ok") == (b"ok", b"")

    def test_an_empty_one_ends_at_its_first_iac_se(self):
        assert TelnetFilter().feed(b"\xff\xfa\xff\xf0ok") == (b"ok", b"")
