"""The account dialogue over the menu protocol: register, log in, change, delete."""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.core import errors
from menuchat.frontends.menu import texts
from menuchat.frontends.menu.factory import MenuChatProtocol
from menuchat.store import Account
from menuchat.store.memory import MemoryStore
from tests.support import PROMPT, make_factory

HIDE_INPUT = b"\xff\xfb\x01"  # IAC WILL ECHO
SHOW_INPUT = b"\xff\xfc\x01"  # IAC WONT ECHO


class AccountDialogueTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.store = MemoryStore()
        self.factory = make_factory(self.clock, Limits(line_rate=0), self.store)
        self.port = 1000

    def connect(
        self, host: str = "127.0.0.1"
    ) -> tuple[MenuChatProtocol, StringTransport]:
        self.port += 1
        address = IPv4Address("TCP", host, self.port)
        protocol = self.factory.buildProtocol(address)
        assert isinstance(protocol, MenuChatProtocol)
        transport = StringTransport(peerAddress=address)
        protocol.makeConnection(transport)
        return protocol, transport

    def say(
        self, protocol: MenuChatProtocol, transport: StringTransport, *lines: str
    ) -> bytes:
        transport.clear()
        protocol.dataReceived("".join(f"{line}\r\n" for line in lines).encode())
        self.clock.advance(0)
        return transport.value()

    def register(self, name: str = "Nina", password: str = "secret12"):  # type: ignore[no-untyped-def]
        nina, wire = self.connect()
        self.say(nina, wire, name)
        out = self.say(nina, wire, "8", password, password)
        self.assertIn(b"is registered to you", out)
        return nina, wire

    def test_the_menu_offers_the_account(self) -> None:
        nina, wire = self.connect()
        out = self.say(nina, wire, "Nina")
        self.assertIn(b"7. List chat rooms\r\n8. My account\r\n", out)

    def test_a_guest_registers_with_the_password_hidden(self) -> None:
        nina, wire = self.connect()
        self.say(nina, wire, "Nina")
        out = self.say(nina, wire, "8")
        self.assertIn(b"You are a guest", out)
        self.assertTrue(out.endswith(HIDE_INPUT + b"New password: "), out)
        out = self.say(nina, wire, "secret12")
        self.assertTrue(out.endswith(b"Password again: "), out)
        out = self.say(nina, wire, "secret12")
        self.assertTrue(out.startswith(SHOW_INPUT), out)
        self.assertIn(b"The name Nina is registered to you", out)
        self.assertTrue(out.endswith(b"Your option <enter a number>: "))

    def test_the_password_is_asked_twice_and_has_a_minimum_length(self) -> None:
        nina, wire = self.connect()
        self.say(nina, wire, "Nina")
        out = self.say(nina, wire, "8", "short")
        self.assertIn(b"Error: a password has at least 8 characters", out)
        out = self.say(nina, wire, "8", "secret12", "secret13")
        self.assertIn(b"Error: the two passwords differ", out)
        self.assertIsNone(self.successResultOf(self.store.find_account("nina")))

    def test_a_registered_name_asks_for_its_password(self) -> None:
        nina, wire = self.register()
        self.say(nina, wire, "6")
        again, wire = self.connect()
        out = self.say(again, wire, "nina")
        self.assertTrue(out.endswith(HIDE_INPUT + b"Password: "), out)
        out = self.say(again, wire, "secret12")
        self.assertIn(b"Client Name: Nina\r\nClient ID: 1\r\n", out)

    def test_a_wrong_password_goes_back_to_the_name_prompt(self) -> None:
        nina, wire = self.register()
        self.say(nina, wire, "6")
        again, wire = self.connect()
        out = self.say(again, wire, "Nina", "wrong-one")
        self.assertIn(b"Error: wrong password for Nina", out)
        self.assertTrue(out.endswith(b"Your id key (i.e your name): "), out)
        # A guest cannot take the registered name either.
        self.assertEqual(self.factory.hub.users(), [])

    def test_guessing_is_slowed_down_for_the_guesser_only(self) -> None:
        nina, wire = self.register()
        self.say(nina, wire, "6")
        guesser, gwire = self.connect()
        for _ in range(3):
            self.say(guesser, gwire, "Nina", "wrong-one")
        out = self.say(guesser, gwire, "Nina", "wrong-two")
        self.assertNotIn(b"wrong password", out)  # the answer waits
        other, owire = self.connect()
        self.assertIn(b"Client Name: Jose", self.say(other, owire, "Jose"))
        self.clock.advance(2)
        self.assertIn(b"wrong password", gwire.value())

    def test_mail_waits_for_an_offline_registered_user(self) -> None:
        nina, wire = self.register()
        self.say(nina, wire, "6")
        jose, jwire = self.connect()
        self.say(jose, jwire, "Jose")
        out = self.say(jose, jwire, "2", "See you tomorrow", "nina")
        self.assertIn(b"Message sent!", out)
        again, wire = self.connect()
        out = self.say(again, wire, "Nina", "secret12")
        self.assertIn(b"You have 1 unread messages.\r\n", out)
        out = self.say(again, wire, "3")
        self.assertIn(b"See you tomorrow (from: Jose)", out)

    def test_a_registered_user_with_no_mail_is_told_of_none(self) -> None:
        nina, wire = self.register()
        self.say(nina, wire, "6")
        again, wire = self.connect()
        out = self.say(again, wire, "Nina", "secret12")
        user = self.factory.hub.online("Nina")
        assert user is not None
        welcome = texts.WELCOME.format(name="Nina", id=user.id)
        expected = welcome + texts.MENU + texts.OPTION_PROMPT  # no mail count
        self.assertTrue(out.endswith(expected.encode()), out)

    def test_a_guests_mail_is_still_dropped_when_it_leaves(self) -> None:
        ana, awire = self.connect()
        self.say(ana, awire, "Ana")
        jose, jwire = self.connect()
        self.say(jose, jwire, "Jose")
        self.say(jose, jwire, "2", "hello", "Ana")
        self.say(ana, awire, "6")
        self.assertIn(b"Your message to Ana was not read", jwire.value())
        out = self.say(jose, jwire, "2", "again", "Ana")
        self.assertIn(b"Error: no user has the id or name 'Ana'", out)

    def test_change_password_then_delete_the_account(self) -> None:
        nina, wire = self.register()
        out = self.say(nina, wire, "8")
        self.assertIn(b"Account Nina (id 1):\r\n1. Change password", out)
        out = self.say(nina, wire, "1", "newsecret", "newsecret")
        self.assertIn(b"Your password is changed.", out)
        out = self.say(nina, wire, "8", "2", "no")
        self.assertIn(b"Error: the account was not deleted.", out)
        out = self.say(nina, wire, "8", "2", "DELETE")
        self.assertIn(b"The account Nina and its mail are deleted", out)
        self.assertIsNone(self.successResultOf(self.store.find_account("nina")))
        self.say(nina, wire, "6")
        again, wire = self.connect()
        out = self.say(again, wire, "Nina")
        self.assertIn(b"Client Name: Nina", out)
        self.assertNotIn(b"Client ID: 1\r\n", out)

    def test_a_telnet_answer_to_the_echo_offer_is_not_refused(self) -> None:
        nina, wire = self.connect()
        self.say(nina, wire, "Nina")
        self.say(nina, wire, "8")
        wire.clear()
        nina.dataReceived(b"\xff\xfd\x01")  # IAC DO ECHO: telnet accepts
        self.clock.advance(0)
        self.assertEqual(wire.value(), b"")

    def test_the_guest_is_told_what_registering_takes(self) -> None:
        nina, wire = self.connect()
        self.say(nina, wire, "Nina")
        self.assertEqual(
            self.say(nina, wire, "8"),
            b"You are a guest. To register the name Nina, choose a password of"
            b" at least 8 characters; an empty line goes back to the menu.\r\n"
            + HIDE_INPUT
            + b"New password: ",
        )

    def test_an_empty_password_goes_back_to_the_menu_showing_input(self) -> None:
        nina, wire = self.connect()
        self.say(nina, wire, "Nina")
        self.say(nina, wire, "8")
        self.assertEqual(
            self.say(nina, wire, ""),
            b"\r\n" + SHOW_INPUT + b"Back to the menu.\r\n" + PROMPT,
        )
        self.assertIn(b"Users in server: Nina:1", self.say(nina, wire, "1"))

    def test_a_short_password_is_refused_showing_input(self) -> None:
        nina, wire = self.connect()
        self.say(nina, wire, "Nina")
        self.say(nina, wire, "8")
        self.assertEqual(
            self.say(nina, wire, "short"),
            b"\r\n"
            + SHOW_INPUT
            + b"Error: a password has at least 8 characters; nothing was"
            b" changed.\r\n" + PROMPT,
        )

    def test_differing_passwords_are_refused_showing_input(self) -> None:
        nina, wire = self.connect()
        self.say(nina, wire, "Nina")
        self.say(nina, wire, "8", "secret12")
        self.assertEqual(
            self.say(nina, wire, "secret13"),
            SHOW_INPUT
            + b"\r\nError: the two passwords differ; nothing was changed.\r\n"
            + PROMPT,
        )

    def test_the_account_menu_goes_back_on_3_or_an_empty_line(self) -> None:
        nina, wire = self.register()
        for choice in ("3", ""):
            self.say(nina, wire, "8")
            self.assertEqual(
                self.say(nina, wire, choice), b"Back to the menu.\r\n" + PROMPT
            )
        self.assertIn(b"Users in server: Nina:1", self.say(nina, wire, "1"))

    def test_an_unknown_account_choice_is_quoted_in_part(self) -> None:
        nina, wire = self.register()
        self.say(nina, wire, "8")
        self.assertEqual(
            self.say(nina, wire, "9" * 50),
            b"Error: '"
            + b"9" * 40
            + b"' is not a choice; back to the menu.\r\n"
            + PROMPT,
        )

    def test_the_password_line_shows_input_again(self) -> None:
        nina, wire = self.register()
        self.say(nina, wire, "6")
        again, wire = self.connect()
        self.say(again, wire, "Nina")
        out = self.say(again, wire, "secret12")
        self.assertTrue(out.startswith(SHOW_INPUT + b"\r\n"), out)

    def test_a_registered_name_taken_while_its_password_is_typed(self) -> None:
        nina, wire = self.register()
        self.say(nina, wire, "6")
        slow, slow_wire = self.connect()
        self.say(slow, slow_wire, "Nina")
        fast, fast_wire = self.connect()
        self.assertIn(
            b"Client Name: Nina", self.say(fast, fast_wire, "Nina", "secret12")
        )
        self.assertEqual(
            self.say(slow, slow_wire, "secret12"),
            SHOW_INPUT + b"\r\nError: the name 'Nina' is taken. Choose another.\r\n"
            b"Your id key (i.e your name): ",
        )

    def test_guesses_from_one_address_do_not_slow_down_another(self) -> None:
        for name in ("Nina", "Jose"):
            user, wire = self.register(name)
            self.say(user, wire, "6")
        guesser, gwire = self.connect("10.0.0.1")
        for _ in range(4):
            self.say(guesser, gwire, "Nina", "wrong-one")
        self.assertNotIn(b"wrong password", self.say(guesser, gwire, "Jose", "wrong"))
        other, owire = self.connect("10.0.0.2")
        self.assertIn(b"wrong password", self.say(other, owire, "Jose", "wrong-two"))

    def test_a_changed_password_is_the_one_that_logs_in(self) -> None:
        nina, wire = self.register()
        self.say(nina, wire, "8", "1", "newsecret", "newsecret")
        self.say(nina, wire, "6")
        again, wire = self.connect()
        self.assertIn(b"wrong password", self.say(again, wire, "Nina", "secret12"))
        self.assertIn(b"Client Name: Nina", self.say(again, wire, "Nina", "newsecret"))

    def test_a_deleted_account_leaves_a_guest_who_may_register_again(self) -> None:
        nina, wire = self.register()
        self.say(nina, wire, "8", "2", "DELETE")
        self.assertIs(self.factory.hub.online("Nina").registered, False)
        self.assertIn(b"You are a guest", self.say(nina, wire, "8"))

    def test_a_name_registered_meanwhile_is_not_registered_again(self) -> None:
        nina, wire = self.connect()
        self.say(nina, wire, "Nina")
        # Another server on the same store registered the name meanwhile.
        self.successResultOf(
            self.store.create_account(Account(99, "Nina", "nina", "hash", 1.0))
        )
        out = self.say(nina, wire, "8", "secret12", "secret12")
        self.assertIn(
            b"Error: the name 'Nina' was registered meanwhile; nothing was changed.",
            out,
        )

    def test_a_store_refusing_a_change_or_deletion_is_a_fault_told_as_such(
        self,
    ) -> None:
        nina, wire = self.register()

        def refuse(*args: object) -> Deferred[None]:
            return fail(errors.UnknownUser(1))

        self.store.set_password = refuse  # type: ignore[method-assign]
        self.store.delete_account = refuse  # type: ignore[method-assign]
        failed = (
            b"Error: the server could not do that just now; nothing was"
            b" changed.\r\n" + PROMPT
        )
        out = self.say(nina, wire, "8", "1", "newsecret", "newsecret")
        self.assertTrue(out.endswith(failed), out)
        out = self.say(nina, wire, "8", "2", "DELETE")
        self.assertTrue(out.endswith(failed), out)
        self.assertEqual(len(self.flushLoggedErrors(errors.UnknownUser)), 2)

    def test_a_long_line_at_a_password_prompt_shows_input_again(self) -> None:
        long = "x" * 3000
        too_long = b"Error: that line was longer than 2048 bytes and was discarded.\r\n"
        nina, wire = self.connect()
        self.say(nina, wire, "Nina")
        self.say(nina, wire, "8")
        self.assertEqual(self.say(nina, wire, long), SHOW_INPUT + too_long + PROMPT)
        self.say(nina, wire, "8", "secret12")
        self.assertEqual(self.say(nina, wire, long), SHOW_INPUT + too_long + PROMPT)
        self.say(nina, wire, "8", "secret12", "secret12", "6")
        again, wire = self.connect()
        self.say(again, wire, "Nina")
        self.assertEqual(
            self.say(again, wire, long),
            SHOW_INPUT + too_long + b"Your id key (i.e your name): ",
        )
        self.assertIn(b"Client Name: Jose", self.say(again, wire, "Jose"))

    def test_telnet_agreeing_to_see_its_input_again_is_not_answered(self) -> None:
        # A telnet client acknowledges the withdrawn ECHO (IAC WONT ECHO)
        # with IAC DONT ECHO: the two ends agree, nothing more is said.
        dont_echo = b"\xff\xfe\x01"
        nina, wire = self.connect()
        self.say(nina, wire, "Nina")
        for lines in (
            ["8", ""],
            ["8", "short"],
            ["8", "secret12", "secret13"],
            ["8", "secret12", "secret12"],
        ):
            self.assertIn(SHOW_INPUT, self.say(nina, wire, *lines))
            wire.clear()
            nina.dataReceived(dont_echo)
            self.clock.advance(0)
            self.assertEqual(wire.value(), b"", lines)
        self.say(nina, wire, "6")
        again, wire = self.connect()
        self.say(again, wire, "Nina")
        self.assertIn(SHOW_INPUT, self.say(again, wire, "secret12"))
        wire.clear()
        again.dataReceived(dont_echo)
        self.clock.advance(0)
        self.assertEqual(wire.value(), b"")
