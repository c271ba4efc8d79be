"""PRIVMSG and NOTICE through the IRC gateway: room lines, mail both ways
with menu users, echo-message, and the line rules (512 bytes, UTF-8)."""

from twisted.internet.defer import Deferred, fail
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.events import Message
from menuchat.frontends.irc.factory import IRCProtocol
from menuchat.net.admission import Refusal
from tests.irc_support import World, lines
from tests.support import resolved


class MessageCase(SynchronousTestCase):
    def setUp(self):
        self.world = World()
        self.ana, self.ana_wire = self.world.register("ana")
        self.ben, self.ben_wire = self.world.register("ben")


class RoomLineTests(MessageCase):
    def test_a_channel_message_reaches_the_others_not_the_sender(self):
        self.ana.dataReceived(b"JOIN #r\r\n")
        self.ben.dataReceived(b"JOIN #r\r\n")
        bob, bob_wire = self.world.menu_user("bob")
        bob.dataReceived(b"5\r\nr\r\n")
        self.ana_wire.clear()
        bob_wire.clear()
        self.ben_wire.clear()
        self.ben.dataReceived(b"PRIVMSG #r :hello \x02all\x02 \xf0\x9f\x98\x83\r\n")
        assert lines(self.ana_wire) == [":ben!2@irc.test PRIVMSG #r :hello all 😃"]
        assert lines(self.ben_wire) == []
        assert bob_wire.take().decode() == "ben> hello all 😃\r\n"

    def test_echo_message_sends_the_senders_own_lines_back(self):
        self.ana.dataReceived(b"CAP REQ :echo-message\r\nJOIN #r\r\n")
        self.ana_wire.clear()
        self.ana.dataReceived(b"PRIVMSG #r :me too\r\n")
        assert lines(self.ana_wire) == [":ana!1@irc.test PRIVMSG #r :me too"]

    def test_notice_to_a_channel_is_a_room_line_shown_as_a_notice(self):
        # irctest's testNotice: the other members get a NOTICE, not a PRIVMSG.
        self.ana.dataReceived(b"JOIN #r\r\n")
        self.ben.dataReceived(b"CAP REQ echo-message\r\nJOIN #r\r\n")
        bob, bob_wire = self.world.menu_user("bob")
        bob.dataReceived(b"5\r\nr\r\n")
        self.ana_wire.clear()
        self.ben_wire.clear()
        bob_wire.clear()
        self.ben.dataReceived(b"NOTICE #r :note\r\nPRIVMSG #r :line\r\n")
        said = [":ben!2@irc.test NOTICE #r :note", ":ben!2@irc.test PRIVMSG #r :line"]
        assert lines(self.ana_wire) == said
        assert lines(self.ben_wire) == said  # echo-message
        assert bob_wire.take().decode() == "ben> note\r\nben> line\r\n"

    def test_actions_go_both_ways_and_other_ctcp_is_dropped(self):
        self.ana.dataReceived(b"JOIN #r\r\n")
        bob, bob_wire = self.world.menu_user("bob")
        bob.dataReceived(b"5\r\nr\r\n")
        self.ana_wire.clear()
        bob_wire.clear()
        self.ana.dataReceived(b"PRIVMSG #r :\x01ACTION waves\x01\r\n")
        self.ana.dataReceived(b"PRIVMSG #r :\x01VERSION\x01\r\n")
        assert bob_wire.take() == b"ana> /me waves\r\n"
        bob.dataReceived(b"//me nods\r\n")
        assert lines(self.ana_wire) == [
            ":bob!3@irc.test PRIVMSG #r :\x01ACTION nods\x01"
        ]

    def test_cannot_send_to_a_channel_one_is_not_in(self):
        self.ana.dataReceived(b"JOIN #r\r\n")
        self.ben.dataReceived(b"PRIVMSG #r :x\r\nPRIVMSG #none :x\r\nNOTICE #r :x\r\n")
        assert lines(self.ben_wire) == [
            ":irc.test 404 ben #r :Cannot send to channel",
            ":irc.test 403 ben #none :No such channel",
        ]

    def test_missing_recipient_or_text(self):
        self.ana.dataReceived(b"PRIVMSG\r\nPRIVMSG ben\r\nPRIVMSG ben :\r\nNOTICE\r\n")
        assert [line.split()[1] for line in lines(self.ana_wire)] == [
            "411",
            "412",
            "412",
        ]


class MailTests(MessageCase):
    def test_a_private_message_to_an_irc_user_arrives_at_once_and_is_read(self):
        self.ana.dataReceived(b"PRIVMSG ben :psst\r\n")
        assert lines(self.ben_wire) == [":ana!1@irc.test PRIVMSG ben :psst"]
        assert lines(self.ana_wire) == []
        assert self.world.hub.unread(self.world.hub.user(2)).result == 0
        assert self.world.hub.private_messages == 1

    def test_a_private_message_leaves_in_the_senders_read(self):
        # Not with the turn's output, which waits for every read of the turn.
        self.ana.dataReceived(b"PRIVMSG ben :now\r\n")
        assert self.ben_wire.io.getvalue() == b":ana!1@irc.test PRIVMSG ben :now\r\n"

    def test_mail_to_an_irc_user_is_handed_over_not_kept(self):
        # Nothing is kept for the store to take back: it is read on arrival.
        delivered = []
        store = self.world.store
        real_deliver = store.deliver

        def deliver(message: Message, limit: int) -> Deferred[int]:
            delivered.append(message)
            return real_deliver(message, limit)

        store.deliver = deliver  # type: ignore[method-assign]
        self.ana.dataReceived(b"PRIVMSG ben :direct\r\n")
        assert lines(self.ben_wire) == [":ana!1@irc.test PRIVMSG ben :direct"]
        assert delivered == []
        self.world.menu_user("bob")
        self.ana.dataReceived(b"PRIVMSG bob :kept\r\n")  # a menu user's: kept
        assert [m.text for m in delivered] == ["kept"]

    def registered_login_with_a_slow_take(self):
        """Reg logs in with mail waiting, and the store's take of it does
        not answer before the test says so."""
        self.world.account("Reg", "password1")
        resolved(self.world.hub.send_to(self.world.hub.user(1), "Reg", "old"))
        takes: list[tuple[Deferred[list[Message]], list[Message]]] = []
        store = self.world.store
        real_take = store.take_mail

        def slow_take(user_id: int) -> Deferred[list[Message]]:
            # Taken from the mailbox now; the answer comes when the test says.
            taken: Deferred[list[Message]] = Deferred()
            takes.append((taken, resolved(real_take(user_id))))
            return taken

        store.take_mail = slow_take  # type: ignore[method-assign]
        reg, reg_wire = self.world.connect()
        reg.dataReceived(b"PASS :password1\r\nNICK Reg\r\nUSER r 0 * :R\r\n")
        return reg_wire, takes

    def test_mail_that_comes_while_a_take_is_pending_is_taken_after_it(self):
        reg_wire, takes = self.registered_login_with_a_slow_take()
        assert len(takes) == 1
        self.ana.dataReceived(b"PRIVMSG reg :new 1\r\n")
        self.ana.dataReceived(b"PRIVMSG reg :new 2\r\n")
        assert len(takes) == 1  # one take at a time; the new mail waits for it
        first, old = takes[0]
        first.callback(old)
        assert len(takes) == 2  # the mail that came meanwhile: taken next
        second, new = takes[1]
        second.callback(new)
        received = lines(reg_wire)
        assert [line for line in received if " PRIVMSG " in line] == [
            ":ana!1@irc.test PRIVMSG Reg :old",
            ":ana!1@irc.test PRIVMSG Reg :new 1",
            ":ana!1@irc.test PRIVMSG Reg :new 2",
        ]
        self.ana.dataReceived(b"PRIVMSG reg :after\r\n")  # handed over again
        assert len(takes) == 2
        assert lines(reg_wire) == [":ana!1@irc.test PRIVMSG Reg :after"]

    def test_a_failed_take_is_logged_and_the_mail_still_comes(self):
        self.world.account("Reg", "password1")
        resolved(self.world.hub.send_to(self.world.hub.user(1), "Reg", "kept"))
        store = self.world.store
        real_take = store.take_mail
        store.take_mail = lambda user_id: fail(RuntimeError("disk"))  # type: ignore[method-assign]
        reg, reg_wire = self.world.connect()
        with capturedLogs() as events:
            reg.dataReceived(b"PASS :password1\r\nNICK Reg\r\nUSER r 0 * :R\r\n")
        assert [e["log_format"] for e in events if "log_failure" in e] == [
            "Taking mail failed"
        ]
        self.flushLoggedErrors(RuntimeError)
        assert " 001 Reg " in reg_wire.take().decode()
        store.take_mail = real_take  # type: ignore[method-assign]
        bob, _ = self.world.menu_user("bob")
        bob.dataReceived(b"2\r\nnow\r\nReg\r\n")
        # Reg reads mail as it comes again; what the failed take left is
        # still in the mailbox, kept for the next login.
        assert lines(reg_wire) == [":bob!3@irc.test PRIVMSG Reg :now"]
        assert resolved(self.world.hub.unread(self.world.hub.online("Reg"))) == 1

    def test_irc_to_menu_waits_in_the_mailbox(self):
        bob, bob_wire = self.world.menu_user("bob")
        self.ana.dataReceived(b"PRIVMSG Bob :read me with option 3\r\n")
        assert b"New message from ana:1" in bob_wire.take()
        bob.dataReceived(b"3\r\n")
        assert b"read me with option 3 (from: ana)" in bob_wire.take()

    def test_menu_to_irc_is_a_privmsg(self):
        bob, bob_wire = self.world.menu_user("bob")
        bob.dataReceived(b"2\r\nhi ana\r\nana\r\n")
        assert b"Message sent!" in bob_wire.take()
        assert lines(self.ana_wire) == [":bob!3@irc.test PRIVMSG ana :hi ana"]

    def test_echo_message_for_private_messages(self):
        self.ana.dataReceived(b"CAP REQ echo-message\r\n")
        self.ana_wire.clear()
        self.ana.dataReceived(b"PRIVMSG ben :mirrored\r\n")
        assert lines(self.ana_wire) == [":ana!1@irc.test PRIVMSG ben :mirrored"]

    def test_no_such_nick(self):
        self.ana.dataReceived(b"PRIVMSG nobody :x\r\nNOTICE nobody :x\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test 401 ana nobody :No such nick/channel"
        ]

    def test_a_registered_user_offline_gets_it_later(self):
        self.world.account("Reg", "password1")
        self.ana.dataReceived(b"PRIVMSG reg :later\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test 301 ana Reg :is offline: your message waits in their mailbox"
        ]

    def test_a_full_mailbox(self):
        world = World(mailbox_size=1)
        ana, ana_wire = world.register("ana")
        world.menu_user("bob")
        ana.dataReceived(b"PRIVMSG bob :one\r\nPRIVMSG bob :two\r\n")
        assert lines(ana_wire) == [
            ":irc.test FAIL PRIVMSG MAILBOX_FULL :bob's mailbox is full"
        ]

    def test_unread_mail_of_a_leaver_is_told_to_the_sender(self):
        _bob, bob_wire = self.world.menu_user("bob")
        self.ana.dataReceived(b"PRIVMSG bob :unread\r\n")
        bob_wire.loseConnection()
        assert lines(self.ana_wire) == [
            ":irc.test NOTICE ana :Your message to bob was not read, they left: unread"
        ]

    def test_userhost_and_ison(self):
        self.world.menu_user("bob")
        self.ana.dataReceived(b"USERHOST ben bob x\r\nISON ben nobody bob\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test 302 ana :ben=+2@irc.test bob=+3@irc.test",
            ":irc.test 303 ana :ben bob",
        ]


class LineRuleTests(MessageCase):
    def test_a_line_of_512_bytes_is_taken(self):
        head = b"PRIVMSG ben :"
        body = b"a" * (510 - len(head))
        self.ana.dataReceived(head + body + b"\r\n")
        (received,) = lines(self.ben_wire)
        assert len(received.encode()) <= 510
        assert body.decode().startswith(received.split(" :", 1)[1])

    def test_a_longer_line_gets_417_and_the_connection_goes_on(self):
        self.ana.dataReceived(b"PRIVMSG ben :" + b"a" * 600 + b"\r\nPING x\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test 417 ana :Input line was too long",
            ":irc.test PONG irc.test :x",
        ]
        assert lines(self.ben_wire) == []

    def test_the_menu_keeps_its_own_line_limit(self):
        bob, bob_wire = self.world.menu_user("bob")
        bob.dataReceived(b"/msg ana " + b"b" * 1000 + b"\r\n")
        assert b"Message sent!" in bob_wire.take()
        (received,) = lines(self.ana_wire)
        assert len(received.encode()) == 510

    def test_output_is_cut_on_a_character_boundary(self):
        bob, _ = self.world.menu_user("bob")
        bob.dataReceived("/msg ana x{}\r\n".format("é" * 400).encode())
        data = self.ana_wire.take()
        assert len(data) <= 512
        text = data.decode()  # never half a character
        assert text.endswith("é\r\n")

    def test_invalid_utf8_gets_fail_and_the_connection_goes_on(self):
        self.ana.dataReceived(b"JOIN #r\r\n")
        self.ana_wire.clear()
        self.ana.dataReceived(b"PRIVMSG #r hi\xaa\r\nPING ok\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test FAIL PRIVMSG INVALID_UTF8 :Message rejected, your IRC software"
            " MUST use UTF-8 encoding",
            ":irc.test PONG irc.test :ok",
        ]

    def test_a_character_split_across_reads_is_whole(self):
        data = "PRIVMSG ben :€uro\r\n".encode()
        split = data.index(b"\xe2") + 1
        self.ana.dataReceived(data[:split])
        self.ana.dataReceived(data[split:])
        assert lines(self.ben_wire) == [":ana!1@irc.test PRIVMSG ben :€uro"]

    def test_refusals_are_error_lines(self):
        protocol = IRCProtocol()
        for refusal in Refusal:
            text = protocol.refusal_text(refusal)
            assert text.startswith("ERROR :Closing Link: (") and text.endswith("\r\n")
        assert protocol.not_tls_text().startswith("ERROR :")

    def test_a_refused_connection_gets_its_error(self):
        world = World(max_per_address=1)
        world.connect()
        _, transport = world.connect()
        assert (
            transport.value() == b"ERROR :Closing Link: (too many connections"
            b" from your address)\r\n"
        )


class StoreFaultTests(MessageCase):
    """A store that fails is a fault: logged, and the client told."""

    def test_a_message_the_store_fails_to_keep(self):
        from twisted.internet.defer import fail
        from twisted.logger import capturedLogs

        self.world.account("carl", "secret12", user_id=77)
        self.patch(
            self.world.store, "deliver", lambda *args: fail(RuntimeError("disk full"))
        )
        with capturedLogs() as events:
            self.ana.dataReceived(b"PRIVMSG carl :are you there?\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test FAIL PRIVMSG STORE_FAILED :The server could not do that;"
            " nothing changed"
        ]
        (failed,) = [e for e in events if "log_failure" in e]
        assert failed["log_format"] == "IRC request failed"
        assert failed["log_failure"].check(RuntimeError)
        assert len(self.flushLoggedErrors(RuntimeError)) == 1

    def test_a_store_that_cannot_answer_is_logged_in_one_line(self):
        from twisted.internet.defer import fail
        from twisted.logger import LogLevel, capturedLogs, formatEvent

        from menuchat.store import StoreError

        self.world.account("carl", "secret12", user_id=77)
        self.patch(
            self.world.store,
            "deliver",
            lambda *args: fail(StoreError("chat.sqlite3: its process ended")),
        )
        with capturedLogs() as events:
            self.ana.dataReceived(b"PRIVMSG carl :are you there?\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test FAIL PRIVMSG STORE_FAILED :The server could not do that;"
            " nothing changed"
        ]
        assert [formatEvent(e) for e in events] == [
            "IRC request failed: chat.sqlite3: its process ended"
        ]
        assert [e["log_level"] for e in events] == [LogLevel.warn]

    def test_a_logout_the_store_fails(self):
        from twisted.internet.defer import fail
        from twisted.logger import capturedLogs

        self.patch(
            self.world.store, "drop_mail", lambda *args: fail(RuntimeError("disk full"))
        )
        with capturedLogs() as events:
            self.ben_wire.loseConnection()
        (failed,) = [e for e in events if "log_failure" in e]
        assert failed["log_format"] == "Logout failed"
        assert failed["log_failure"].check(RuntimeError)
        assert len(self.flushLoggedErrors(RuntimeError)) == 1
        assert [u.name for u in self.world.hub.users()] == ["ana"]

    def test_mail_the_store_fails_to_hand_over(self):
        from twisted.internet.defer import fail
        from twisted.logger import capturedLogs

        # Mail waits for carl, registered and away; the store fails to hand
        # it over when he comes.
        self.world.account("carl", "secret12", user_id=77)
        self.ana.dataReceived(b"PRIVMSG carl :while you were out\r\n")
        self.patch(
            self.world.store, "take_mail", lambda *args: fail(RuntimeError("disk full"))
        )
        carl, _ = self.world.connect()
        with capturedLogs() as events:
            carl.dataReceived(b"PASS secret12\r\nNICK carl\r\nUSER carl 0 * :Carl\r\n")
            self.world.clock.advance(0)
        (failed,) = [e for e in events if "log_failure" in e]
        assert failed["log_format"] == "Taking mail failed"
        assert failed["log_failure"].check(RuntimeError)
        assert len(self.flushLoggedErrors(RuntimeError)) == 1


class MessageRefusalTests(MessageCase):
    def test_a_message_without_recipient_or_text(self):
        self.ana.dataReceived(
            b"PRIVMSG\r\nPRIVMSG ben\r\nPRIVMSG ben :\x02\x02\r\n"
            b"PRIVMSG ben,carl :hi\r\n"
        )
        assert lines(self.ana_wire) == [
            ":irc.test 411 ana :No recipient given (PRIVMSG)",
            ":irc.test 412 ana :No text to send",
            ":irc.test 412 ana :No text to send",
        ]
        # Of several targets, the first is taken.
        assert lines(self.ben_wire) == [":ana!1@irc.test PRIVMSG ben :hi"]


class MailDetailTests(MessageCase):
    def test_notice_to_a_nick_is_a_notice_and_echoed_as_one(self):
        self.ana.dataReceived(b"CAP REQ echo-message\r\n")
        self.ana_wire.clear()
        self.ana.dataReceived(b"NOTICE ben :quietly\r\nPRIVMSG ben :loudly\r\n")
        assert lines(self.ana_wire) == [
            ":ana!1@irc.test NOTICE ben :quietly",
            ":ana!1@irc.test PRIVMSG ben :loudly",
        ]
        # Nothing answers a NOTICE automatically: a bot among ben's scripts
        # must see it as one.
        assert lines(self.ben_wire) == [
            ":ana!1@irc.test NOTICE ben :quietly",
            ":ana!1@irc.test PRIVMSG ben :loudly",
        ]

    def test_a_notice_kept_in_a_mailbox_is_its_text(self):
        bob, bob_wire = self.world.menu_user("bob")
        self.ana.dataReceived(b"NOTICE bob :for the menu\r\n")
        assert b"New message from ana:1" in bob_wire.take()
        bob.dataReceived(b"3\r\n")
        assert b"for the menu (from: ana)" in bob_wire.take()
        self.world.account("Reg", "password1")
        self.ana.dataReceived(b"NOTICE reg :waits\r\n")
        reg, reg_wire = self.world.connect()
        reg.dataReceived(b"PASS password1\r\nNICK Reg\r\nUSER r 0 * :R\r\n")
        assert ":ana!1@irc.test PRIVMSG Reg :waits" in lines(reg_wire)

    def test_a_blank_message_to_a_nick_is_no_text(self):
        self.ana.dataReceived(b"PRIVMSG ben :   \r\nNOTICE ben :   \r\n")
        assert lines(self.ana_wire) == [":irc.test 412 ana :No text to send"]
        assert lines(self.ben_wire) == []

    def test_userhost_answers_for_five_nicks_at_most(self):
        for name in ("cat", "dan", "eve", "fay"):
            self.world.menu_user(name)
        self.ana.dataReceived(b"USERHOST ana ben cat dan eve fay\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test 302 ana :ana=+1@irc.test ben=+2@irc.test cat=+3@irc.test"
            " dan=+4@irc.test eve=+5@irc.test"
        ]

    def test_old_mail_shows_when_it_was_sent(self):
        from menuchat.frontends.menu.base import format_time

        self.world.account("Reg", "password1")
        self.world.clock.advance(1000)
        self.ana.dataReceived(b"PRIVMSG reg :old news\r\n")
        self.world.clock.advance(1)
        self.ana.dataReceived(b"PRIVMSG reg :fresh\r\n")
        self.world.clock.advance(60)  # "old news" is 61 s old, "fresh" 60 s
        reg, reg_wire = self.world.connect()
        reg.dataReceived(b"PASS :password1\r\nNICK Reg\r\nUSER r 0 * :R\r\n")
        received = [line for line in lines(reg_wire) if " PRIVMSG " in line]
        assert received == [
            f":ana!1@irc.test PRIVMSG Reg :[{format_time(1000)}] old news",
            ":ana!1@irc.test PRIVMSG Reg :fresh",
        ]

    def test_mail_taken_after_the_client_left_is_not_written(self):
        reg_wire, takes = MailTests.registered_login_with_a_slow_take(self)
        reg_wire.clear()
        reg_wire.loseConnection()  # gone while the store takes its mail
        assert self.world.hub.online("Reg") is None
        (taking, old) = takes[0]
        taking.callback(old)
        self.world.clock.advance(0)
        assert reg_wire.take() == b""

    def test_a_notice_to_an_id_is_a_notice(self):
        self.ana.dataReceived(b"NOTICE 2 :by id\r\nPRIVMSG 2 :loud\r\n")
        assert lines(self.ben_wire) == [
            ":ana!1@irc.test NOTICE ben :by id",
            ":ana!1@irc.test PRIVMSG ben :loud",
        ]
