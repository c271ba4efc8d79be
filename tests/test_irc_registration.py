"""IRC registration through in-memory transports: NICK/USER and the welcome
burst, CAP, SASL PLAIN, PASS, nick collisions, PING/PONG, QUIT, timeouts."""

import base64

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from menuchat.frontends.irc.base import Gateway
from tests.irc_support import World, lines
from tests.support import Wire


def commands(received):
    return [line.split()[1] for line in received]


class WelcomeTests(SynchronousTestCase):
    def setUp(self):
        self.world = World()

    def test_nick_and_user_get_the_whole_welcome_burst(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"NICK nina\r\nUSER nina 0 * :Nina N\r\n")
        received = lines(transport)
        assert commands(received) == [
            "001", "002", "003", "004", "005",
            "251", "252", "254", "255", "265", "266",
            "375", "372", "372", "372", "372", "376",
        ]  # fmt: skip
        assert received[0].startswith(":irc.test 001 nina :Welcome")
        assert "nina!1@irc.test" in received[0]
        isupport = received[4].split()
        for token in [
            "CASEMAPPING=rfc7613",
            "CHANTYPES=#",
            "NICKLEN=32",
            "CHANNELLEN=33",
            "UTF8ONLY",
            "CHANLIMIT=#:1",
            "PREFIX=(o)@",
        ]:
            assert token in isupport
        assert received[4].endswith(":are supported by this server")
        assert [u.name for u in self.world.hub.users()] == ["nina"]

    def test_user_before_nick_registers_too(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"USER x 0 * :X\r\nNICK nina\r\n")
        assert " 001 nina " in transport.take().decode()

    def test_pipelined_registration_and_join_in_one_packet(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(
            b"CAP LS 302\r\nNICK pipe\r\nUSER p 0 * :P\r\nCAP END\r\n"
            b"JOIN #lobby\r\nPRIVMSG #lobby :hi\r\nQUIT :done\r\n"
        )
        received = lines(transport)
        assert received[0].startswith(":irc.test CAP * LS :")
        assert ":pipe!1@irc.test JOIN :#lobby" in received
        assert received[-1] == "ERROR :Closing Link: pipe (Quit: done)"
        assert not transport.connected

    def test_byte_by_byte_input(self):
        protocol, transport = self.world.connect()
        for byte in "NICK zoë\r\nUSER z 0 * :Zoë 😃\r\nWHOIS zoë\r\n".encode():
            protocol.dataReceived(bytes([byte]))
        text = transport.take().decode()
        assert " 001 zoë " in text
        assert ":irc.test 311 zoë zoë 1 irc.test * :Zoë 😃" in text

    def test_commands_before_registration_get_451(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"JOIN #lobby\r\nPRIVMSG x :y\r\n")
        assert lines(transport) == [
            ":irc.test 451 * :You have not registered",
            ":irc.test 451 * :You have not registered",
        ]

    def test_unknown_command_gets_421(self):
        protocol, transport = self.world.register("nina")
        protocol.dataReceived(b"FROBNICATE now\r\n")
        assert lines(transport) == [":irc.test 421 nina FROBNICATE :Unknown command"]

    def test_user_needs_four_parameters_and_a_username(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"NICK n\r\nUSER u 0 *\r\nUSER u 0 * :\r\n")
        assert lines(transport) == [
            ":irc.test 461 n USER :Not enough parameters",
            ":irc.test 461 n USER :Not enough parameters",
        ]

    def test_user_and_pass_after_registration_get_462(self):
        protocol, transport = self.world.register("nina")
        protocol.dataReceived(b"USER a 0 * :b\r\nPASS x\r\n")
        assert lines(transport) == [":irc.test 462 nina :You may not reregister"] * 2

    def test_empty_lines_are_ignored(self):
        protocol, transport = self.world.register("nina")
        protocol.dataReceived(b"\r\n   \r\n\n")
        assert lines(transport) == []


class NickTests(SynchronousTestCase):
    def setUp(self):
        self.world = World()

    def test_nick_without_a_name_gets_431(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"NICK\r\n")
        assert commands(lines(transport)) == ["431"]

    def test_erroneous_nicks_get_432(self):
        protocol, transport = self.world.connect()
        for nick in ["#chan", "a!b", "a@b", "x" * 33, "&amp", "st*r"]:
            protocol.dataReceived(f"NICK {nick}\r\n".encode())
            (reply,) = lines(transport)
            assert reply.split()[1] == "432", (nick, reply)

    def test_a_nick_used_on_irc_gets_433_at_nick_time(self):
        self.world.register("nina")
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"NICK NINA\r\nUSER n 0 * :N\r\n")
        assert lines(transport) == [":irc.test 433 * NINA :Nickname is already in use"]
        protocol.dataReceived(b"NICK nina2\r\n")
        assert " 001 nina2 " in transport.take().decode()

    def test_a_menu_users_name_is_taken_for_irc(self):
        self.world.menu_user("bob")
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"NICK Bob\r\nUSER b 0 * :B\r\n")
        assert commands(lines(transport)) == ["433"]

    def test_an_irc_nick_is_taken_for_the_menu(self):
        self.world.register("bob")
        _, _wire = self.world.connect()  # keep the ports apart
        from twisted.internet.address import IPv4Address

        from tests.support import Wire

        address = IPv4Address("TCP", "127.0.0.1", 1)
        menu = self.world.menu.buildProtocol(address)
        transport = Wire(peerAddress=address)
        transport.clock = self.world.clock
        menu.makeConnection(transport)
        menu.dataReceived(b"BOB\r\n")
        assert b"taken" in transport.take()

    def test_two_registering_at_once_with_one_nick_one_wins(self):
        first, first_wire = self.world.connect()
        second, second_wire = self.world.connect()
        first.dataReceived(b"NICK same\r\n")
        second.dataReceived(b"NICK same\r\n")
        first.dataReceived(b"USER a 0 * :A\r\n")
        second.dataReceived(b"USER a 0 * :A\r\n")
        assert " 001 same " in first_wire.take().decode()
        assert lines(second_wire) == [
            ":irc.test 433 * same :Nickname is already in use"
        ]

    def test_a_nick_change_after_registration_is_refused(self):
        protocol, transport = self.world.register("nina")
        protocol.dataReceived(b"NICK other\r\nNICK nina\r\n")
        assert commands(lines(transport)) == ["447"]

    def test_a_nick_change_to_a_nick_in_use_gets_433(self):
        self.world.register("alice")
        protocol, transport = self.world.register("bob")
        protocol.dataReceived(b"NICK ALICE\r\nNICK Bob\r\n")
        assert lines(transport) == [
            ":irc.test 433 bob ALICE :Nickname is already in use",
            ":irc.test 447 bob Bob :Nick changes are not supported:"
            " reconnect with the new nick",
        ]


class AccountTests(SynchronousTestCase):
    def setUp(self):
        self.world = World()
        self.world.account("Reg", "correct horse")

    def test_a_registered_nick_without_authentication_gets_433(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"NICK reg\r\nUSER r 0 * :R\r\n")
        (reply,) = lines(transport)
        assert reply.startswith(":irc.test 433 * reg :Nickname is registered")
        assert transport.connected

    def test_pass_logs_a_registered_nick_in(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"PASS :correct horse\r\nNICK reg\r\nUSER r 0 * :R\r\n")
        assert " 001 Reg " in transport.take().decode()
        (user,) = self.world.hub.users()
        assert (user.name, user.id, user.registered) == ("Reg", 900, True)

    def test_a_wrong_pass_gets_464_and_error(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"PASS wrong\r\nNICK reg\r\nUSER r 0 * :R\r\n")
        received = lines(transport)
        assert commands(received[:1]) == ["464"]
        assert received[1].startswith("ERROR :")
        assert not transport.connected

    def test_pass_for_a_guest_nick_is_ignored(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"PASS whatever\r\nNICK guest\r\nUSER g 0 * :G\r\n")
        assert " 001 guest " in transport.take().decode()

    def sasl(self, protocol, transport, password):
        protocol.dataReceived(b"CAP LS 302\r\nNICK someone\r\nUSER r 0 * :R\r\n")
        assert "sasl=PLAIN" in transport.take().decode()
        protocol.dataReceived(b"CAP REQ :sasl\r\n")
        assert lines(transport) == [":irc.test CAP someone ACK :sasl"]
        protocol.dataReceived(b"AUTHENTICATE PLAIN\r\n")
        assert lines(transport) == ["AUTHENTICATE :+"]
        token = base64.b64encode(f"\0reg\0{password}".encode()).decode()
        protocol.dataReceived(f"AUTHENTICATE {token}\r\n".encode())
        return lines(transport)

    def test_sasl_plain_logs_in_and_the_nick_becomes_the_account(self):
        protocol, transport = self.world.connect()
        assert commands(self.sasl(protocol, transport, "correct horse")) == [
            "900",
            "903",
        ]
        protocol.dataReceived(b"CAP END\r\n")
        assert ":irc.test 001 Reg :Welcome" in transport.take().decode()
        # In the hub as this connection: a message to Reg comes here.
        ana, _ = self.world.register("ana")
        ana.dataReceived(b"PRIVMSG reg :hello\r\n")
        assert lines(transport) == [":ana!1@irc.test PRIVMSG Reg :hello"]

    def test_sasl_with_a_wrong_password_gets_904(self):
        protocol, transport = self.world.connect()
        assert commands(self.sasl(protocol, transport, "nope")) == ["904"]
        protocol.dataReceived(b"CAP END\r\n")
        assert " 001 someone " in transport.take().decode()

    def test_sasl_mechanisms_abort_and_after_registration(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"AUTHENTICATE EXTERNAL\r\n")
        assert commands(lines(transport)) == ["908", "904"]
        protocol.dataReceived(b"AUTHENTICATE PLAIN\r\nAUTHENTICATE *\r\n")
        assert commands(lines(transport)[1:]) == ["906"]
        protocol.dataReceived(b"NICK n\r\nUSER n 0 * :N\r\n")
        transport.clear()
        protocol.dataReceived(b"AUTHENTICATE PLAIN\r\n")
        # Not authenticated, so not 907: SASL only comes before registering.
        assert lines(transport) == [":irc.test 462 n :You may not reregister"]

    def test_sasl_after_registering_with_sasl_gets_907(self):
        protocol, transport = self.world.connect()
        self.sasl(protocol, transport, "correct horse")
        protocol.dataReceived(b"CAP END\r\n")
        transport.clear()
        protocol.dataReceived(b"AUTHENTICATE PLAIN\r\n")
        assert lines(transport) == [
            ":irc.test 907 Reg :You have already authenticated using SASL"
        ]

    def test_registration_waits_for_cap_end(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"CAP LS\r\nNICK n\r\nUSER n 0 * :N\r\n")
        assert lines(transport) == [
            ":irc.test CAP * LS :echo-message multi-prefix sasl"
        ]
        protocol.dataReceived(b"CAP LIST\r\nCAP REQ :bogus\r\nCAP END\r\n")
        received = lines(transport)
        assert received[:2] == [
            ":irc.test CAP n LIST :",
            ":irc.test CAP n NAK :bogus",
        ]
        assert received[2].startswith(":irc.test 001 n ")

    def test_mail_waiting_for_a_registered_user_comes_at_login(self):
        bob, _ = self.world.menu_user("bob")
        bob.dataReceived(b"/msg Reg while you were out\r\n")
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"PASS :correct horse\r\nNICK reg\r\nUSER r 0 * :R\r\n")
        received = lines(transport)
        assert received[-1] == ":bob!1@irc.test PRIVMSG Reg :while you were out"
        assert self.world.hub.unread(self.world.hub.users()[1]).result == 0


class ConnectionTests(SynchronousTestCase):
    def test_ping_is_answered_with_its_token(self):
        world = World()
        protocol, transport = world.register("nina")
        protocol.dataReceived(b"PING abcdef\r\nPING :two words\r\nPING\r\n")
        assert lines(transport) == [
            ":irc.test PONG irc.test :abcdef",
            ":irc.test PONG irc.test :two words",
            ":irc.test 409 nina :No origin specified",
        ]

    def test_ping_before_registration(self):
        world = World()
        protocol, transport = world.connect()
        protocol.dataReceived(b"PING x\r\n")
        assert lines(transport) == [":irc.test PONG irc.test :x"]

    def test_the_server_pings_a_silent_client_and_drops_it_if_unanswered(self):
        world = World(Gateway(server="irc.test", created="t", ping_interval=30))
        protocol, transport = world.register("nina")
        world.clock.advance(20)
        protocol.dataReceived(b"PONG x\r\n")
        world.clock.advance(20)
        assert lines(transport) == []
        world.clock.advance(10)
        assert lines(transport) == ["PING :irc.test"]
        protocol.dataReceived(b"PONG :irc.test\r\n")
        world.clock.advance(30)
        assert lines(transport) == ["PING :irc.test"]
        world.clock.advance(30)
        received = lines(transport)
        assert received[0].startswith("ERROR :Closing Link: nina (Ping timeout")
        assert not transport.connected
        assert world.hub.users() == []
        assert world.clock.getDelayedCalls() == []

    def test_quit_says_error_and_the_room_hears_quit(self):
        world = World()
        owner, owner_wire = world.register("owner")
        leaver, leaver_wire = world.register("leaver")
        owner.dataReceived(b"JOIN #r\r\n")
        leaver.dataReceived(b"JOIN #r\r\n")
        owner_wire.clear()
        leaver_wire.clear()
        leaver.dataReceived(b"QUIT :off to bed\r\n")
        assert lines(leaver_wire) == ["ERROR :Closing Link: leaver (Quit: off to bed)"]
        assert lines(owner_wire) == [":leaver!2@irc.test QUIT :Quit: off to bed"]
        owner_wire.loseConnection()
        assert world.clock.getDelayedCalls() == []

    def test_registration_timeout(self):
        world = World(login_timeout=5)
        _protocol, transport = world.connect()
        world.clock.advance(5)
        assert lines(transport) == ["ERROR :Closing Link: * (Registration timed out)"]
        assert not transport.connected

    def test_a_dropped_connection_leaves_the_hub(self):
        world = World()
        _, transport = world.register("nina")
        transport.loseConnection()
        assert world.hub.users() == []
        assert world.clock.getDelayedCalls() == []

    def test_server_stopping_says_error(self):
        world = World()
        protocol, transport = world.register("nina")
        protocol.server_stopping()
        assert lines(transport) == ["ERROR :Closing Link: nina (Server shutting down)"]


class PasswordTransportTests(SynchronousTestCase):
    """--password-transport tls: no password from a plain, remote connection."""

    def setUp(self):
        self.world = World(
            gateway=Gateway(server="irc.test", created="today", passwords_need_tls=True)
        )
        self.world.account("Reg", "correct horse")

    def remote(self):
        protocol, transport = self.world.connect()
        transport.peerAddr = IPv4Address("TCP", "203.0.113.9", 4000)
        return protocol, transport

    def test_pass_from_afar_is_refused_and_told_why(self):
        protocol, transport = self.remote()
        protocol.dataReceived(b"PASS :correct horse\r\nNICK reg\r\nUSER r 0 * :R\r\n")
        received = lines(transport)
        assert "only over TLS" in received[0], received
        assert commands(received[1:2]) == ["464"]
        assert self.world.hub.users() == []

    def test_sasl_from_afar_is_refused(self):
        protocol, transport = self.remote()
        protocol.dataReceived(b"CAP LS 302\r\nNICK someone\r\nUSER r 0 * :R\r\n")
        protocol.dataReceived(b"CAP REQ :sasl\r\nAUTHENTICATE PLAIN\r\n")
        transport.take()
        token = base64.b64encode(b"\0reg\0correct horse").decode()
        protocol.dataReceived(f"AUTHENTICATE {token}\r\n".encode())
        received = lines(transport)
        assert "only over TLS" in received[0], received
        assert received[1:] == [":irc.test 904 someone :SASL authentication failed"]

    def test_from_this_machine_a_password_is_taken(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"PASS :correct horse\r\nNICK reg\r\nUSER r 0 * :R\r\n")
        assert " 001 Reg " in transport.take().decode()


class EdgeTests(SynchronousTestCase):
    """What the session says at its edges: odd input, timeouts, goodbyes."""

    def test_the_creation_date_and_version_in_the_welcome(self):
        world = World(Gateway(server="irc.test", version="menuchat-9"))
        world.clock.advance(1_700_000_000)
        from menuchat.frontends.irc.factory import IRCFactory

        world.irc = IRCFactory(
            world.hub,
            world.accounts,
            world.clock,
            world.limits,
            gateway=Gateway(server="irc.test", version="menuchat-9"),
        )
        protocol, transport = world.connect()
        protocol.dataReceived(b"NICK nina\r\nUSER nina 0 * :Nina N\r\n")
        received = lines(transport)
        assert received[1] == (
            ":irc.test 002 nina :Your host is irc.test, running version menuchat-9"
        )
        assert received[2] == (
            ":irc.test 003 nina :This server was created 2023-11-14 22:13:20"
        )
        assert received[3] == ":irc.test 004 nina irc.test menuchat-9 i bnqt :bqo"

    def test_an_unknown_command_is_named_up_to_32_characters(self):
        world = World()
        protocol, transport = world.register("nina")
        protocol.dataReceived(b"FROB" + b"X" * 40 + b"\r\n")
        assert lines(transport) == [
            ":irc.test 421 nina FROB" + "X" * 28 + " :Unknown command"
        ]

    def test_invalid_utf8_without_a_readable_command(self):
        world = World()
        protocol, transport = world.register("nina")
        protocol.dataReceived(b":\xff\r\n\xff\xff x\r\n")
        failed = (
            ":irc.test FAIL * INVALID_UTF8 :Message rejected, your IRC software"
            " MUST use UTF-8 encoding"
        )
        assert lines(transport) == [failed, failed]

    def test_an_idle_client_is_told_so(self):
        world = World(
            Gateway(server="irc.test", created="t", ping_interval=0), idle_timeout=60
        )
        _, transport = world.register("nina")
        world.clock.advance(60)
        assert lines(transport) == ["ERROR :Closing Link: nina (Idle timeout)"]

    def test_a_timeout_after_the_shutdown_notice_changes_nothing(self):
        from twisted.internet.testing import StringTransport

        world = World(
            Gateway(server="irc.test", created="t", ping_interval=0),
            idle_timeout=30,
            close_timeout=0,
        )
        protocol = world.irc.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        transport = StringTransport()  # notes the close; the peer never reads
        protocol.makeConnection(transport)
        protocol.dataReceived(b"NICK nina\r\nUSER nina 0 * :Nina\r\n")
        world.irc.admission.shutdown()
        world.clock.advance(0)
        said = transport.value()
        assert said.endswith(b"(Server shutting down)\r\n")
        world.clock.advance(30)  # the idle timeout, while the close waits
        assert transport.value() == said
        # Still in the hub until the connection is gone, as for any drop.
        assert [u.name for u in world.hub.users()] == ["nina"]
        protocol.connectionLost(Failure(ConnectionDone()))
        assert world.hub.users() == []

    def test_a_client_whose_connection_drops_is_heard_quitting(self):
        world = World()
        owner, owner_wire = world.register("owner")
        dropper, dropper_wire = world.register("dropper")
        owner.dataReceived(b"JOIN #r\r\n")
        dropper.dataReceived(b"JOIN #r\r\n")
        owner_wire.clear()
        dropper_wire.loseConnection()
        assert lines(owner_wire) == [":dropper!2@irc.test QUIT :Connection closed"]


class LeavingDetailTests(SynchronousTestCase):
    """What the room hears when a member's connection is closed for it."""

    def setUp(self):
        self.world = World(Gateway(server="irc.test", created="t", ping_interval=30))
        self.ana, self.ana_wire = self.world.register("ana")
        self.ben, self.ben_wire = self.world.register("ben")
        self.ben.dataReceived(b"JOIN #r\r\n")  # ben owns the room
        self.ana.dataReceived(b"JOIN #r\r\n")
        self.ana_wire.clear()
        self.ben_wire.clear()

    def test_a_ping_timeout_says_how_long_and_the_room_hears_it(self):
        self.world.clock.advance(30)
        self.ben.dataReceived(b"PONG :irc.test\r\n")
        self.world.clock.advance(30)
        assert lines(self.ana_wire) == [
            "PING :irc.test",
            "ERROR :Closing Link: ana (Ping timeout: 60 seconds)",
        ]
        assert lines(self.ben_wire) == [
            "PING :irc.test",
            ":ana!1@irc.test QUIT :Ping timeout",
            "PING :irc.test",  # ben answered, so is pinged again
        ]

    def test_a_disconnect_by_an_operator_is_what_the_room_hears(self):
        from menuchat.core.names import token_key
        from tests.support import FakeMember, resolved

        account = self.world.account("Olga", "secret12", user_id=99)
        self.world.hub.operators = frozenset({token_key("Olga")})
        olga = resolved(self.world.hub.login("Olga", FakeMember(), account))
        self.world.hub.disconnect(olga, "ana")
        assert lines(self.ben_wire) == [
            ":ana!1@irc.test QUIT :Closing Link: ana (Disconnected by Olga)"
        ]

    def test_a_session_that_quit_is_closed_for_good(self):
        from menuchat.frontends.irc.base import State

        session = self.ana.session
        self.ana.dataReceived(b"QUIT\r\n")
        assert session.state is State.CLOSED
        session.server_stopping()  # says nothing more
        assert lines(self.ana_wire) == ["ERROR :Closing Link: ana (Quit: Client quit)"]


class LookupTests(SynchronousTestCase):
    def test_lusers_counts_users_operators_and_channels_and_motd_is_whole(self):
        from menuchat.core.names import token_key

        world = World()
        ana, ana_wire = world.register("ana")
        world.register("ben")
        world.account("Olga", "secret12", user_id=99)
        world.hub.operators = frozenset({token_key("Olga")})
        olga, _ = world.connect()
        olga.dataReceived(b"PASS :secret12\r\nNICK Olga\r\nUSER o 0 * :O\r\n")
        ana.dataReceived(b"JOIN #lobby\r\n")
        ana_wire.clear()
        ana.dataReceived(b"LUSERS\r\nMOTD\r\n")
        assert lines(ana_wire) == [
            ":irc.test 251 ana :There are 3 users and 0 invisible on 1 servers",
            ":irc.test 252 ana 1 :operator(s) online",
            ":irc.test 254 ana 1 :channels formed",
            ":irc.test 255 ana :I have 3 clients and 0 servers",
            ":irc.test 265 ana :Current local users: 3",
            ":irc.test 266 ana :Current global users: 3",
            ":irc.test 375 ana :- irc.test Message of the day -",
            ":irc.test 372 ana :- Welcome to menuchat. Its rooms are channels here:"
            " #lobby is room lobby.",
            ":irc.test 372 ana :- Menu users (telnet) are here too; a private"
            " message waits in the",
            ":irc.test 372 ana :- recipient's mailbox until read. One channel at"
            " a time.",
            ":irc.test 372 ana :- Registered names log in with SASL PLAIN or PASS.",
            ":irc.test 376 ana :End of /MOTD command",
        ]


class CapDetailTests(SynchronousTestCase):
    def test_cap_subcommands_in_full_and_registration_waits_for_end(self):
        world = World()
        protocol, transport = world.connect()
        protocol.dataReceived(
            b"CAP\r\nCAP LS\r\nCAP LS 302\r\nCAP LS 301\r\nCAP LS x\r\n"
            b"CAP REQ :echo-message sasl\r\nCAP LIST\r\nCAP REQ :-echo-message\r\n"
            b"CAP LIST\r\nCAP REQ :bogus sasl\r\nCAP REQ\r\nCAP FOO\r\n"
            b"NICK zed\r\nUSER z 0 * :Z\r\n"
        )
        assert lines(transport) == [
            ":irc.test 461 * CAP :Not enough parameters",
            ":irc.test CAP * LS :echo-message multi-prefix sasl",
            ":irc.test CAP * LS :echo-message multi-prefix sasl=PLAIN",  # 302 and later
            ":irc.test CAP * LS :echo-message multi-prefix sasl",
            ":irc.test CAP * LS :echo-message multi-prefix sasl",
            ":irc.test CAP * ACK :echo-message sasl",
            ":irc.test CAP * LIST :echo-message sasl",
            ":irc.test CAP * ACK :-echo-message",
            ":irc.test CAP * LIST :sasl",
            ":irc.test CAP * NAK :bogus sasl",
            ":irc.test CAP * NAK :",
            ":irc.test 410 * FOO :Invalid CAP command",
        ]
        # A capability with one "-" before it, not two, and nothing else.
        protocol.dataReceived(b"CAP REQ :Xsasl\r\nCAP REQ :--sasl\r\nCAP LIST\r\n")
        assert lines(transport) == [
            ":irc.test CAP zed NAK :Xsasl",
            ":irc.test CAP zed NAK :--sasl",
            ":irc.test CAP zed LIST :sasl",
        ]
        protocol.dataReceived(b"CAP END\r\n")
        assert lines(transport)[0] == (
            ":irc.test 001 zed :Welcome to the menuchat IRC gateway, zed!1@irc.test"
        )

    def test_multi_prefix_is_acked_whole_or_refused_whole(self):
        # irctest's testNakWhole: a REQ is acknowledged or refused as a whole.
        world = World()
        protocol, transport = world.connect()
        protocol.dataReceived(
            b"CAP LS 302\r\nCAP REQ :foo multi-prefix bar\r\n"
            b"CAP REQ :multi-prefix bar\r\nCAP REQ :multi-prefix\r\n"
            b"NICK ana\r\nUSER a 0 * :A\r\nCAP END\r\nJOIN #den\r\n"
        )
        received = lines(transport)
        assert received[1:4] == [
            ":irc.test CAP * NAK :foo multi-prefix bar",
            ":irc.test CAP * NAK :multi-prefix bar",
            ":irc.test CAP * ACK :multi-prefix",
        ]
        # One prefix at most: what NAMES shows is every prefix there is.
        assert ":irc.test 353 ana = #den :@ana" in received
        protocol.dataReceived(b"CAP LIST\r\n")
        assert lines(transport) == [":irc.test CAP ana LIST :multi-prefix"]


class SaslDetailTests(SynchronousTestCase):
    def test_sasl_refusals_and_success_in_full(self):
        world = World()
        world.account("Reg", "password1")
        protocol, transport = world.connect()

        def plain(text: str) -> bytes:
            return (
                b"AUTHENTICATE PLAIN\r\nAUTHENTICATE "
                + base64.b64encode(text.encode())
                + b"\r\n"
            )

        protocol.dataReceived(
            b"AUTHENTICATE\r\nAUTHENTICATE X\r\n"
            b"AUTHENTICATE PLAIN\r\nAUTHENTICATE *\r\n"
            b"AUTHENTICATE PLAIN\r\nAUTHENTICATE " + b"a" * 401 + b"\r\n"
            b"AUTHENTICATE PLAIN\r\nAUTHENTICATE !!!\r\n"
            + plain("x\0Reg\0password1")  # another authorisation identity
            + plain("\0Reg\0nope")
            + plain("Reg\0Reg\0password1")
            + b"AUTHENTICATE PLAIN\r\nPASS\r\n"
        )
        more = "AUTHENTICATE :+"
        failed = ":irc.test 904 * :SASL authentication failed"
        assert lines(transport) == [
            ":irc.test 461 * AUTHENTICATE :Not enough parameters",
            ":irc.test 908 * PLAIN :are available SASL mechanisms",
            failed,
            more,
            ":irc.test 906 * :SASL authentication aborted",
            more,
            ":irc.test 905 * :SASL message too long",
            more,
            failed,
            more,
            failed,
            more,
            failed,
            more,
            ":irc.test 900 * Reg!900@irc.test Reg :You are now logged in as Reg",
            ":irc.test 903 * :SASL authentication successful",
            ":irc.test 907 * :You have already authenticated using SASL",
            ":irc.test 461 * PASS :Not enough parameters",
        ]


class RegistrationRefusalTests(SynchronousTestCase):
    def register(self, world: World, data: bytes) -> list[str]:
        protocol, transport = world.connect()
        protocol.dataReceived(data)
        return lines(transport)

    def test_each_refused_registration_in_full(self):
        world = World()
        world.account("Reg", "password1")
        world.register("ana")
        user = b"USER a 0 * :A\r\n"
        assert self.register(world, b"NICK ana\r\n" + user) == [
            ":irc.test 433 * ana :Nickname is already in use"
        ]
        assert self.register(world, b"NICK #bad\r\n" + user) == [
            ":irc.test 432 * #bad :Erroneous nickname"
        ]
        assert self.register(world, b"NICK reg\r\n" + user) == [
            ":irc.test 433 * reg :Nickname is registered: log in with SASL PLAIN"
            " or PASS, or choose another"
        ]
        assert self.register(world, b"PASS :wrong1234\r\nNICK reg\r\n" + user) == [
            ":irc.test 464 * :Password incorrect",
            "ERROR :Closing Link: reg (Bad password)",
        ]

    def test_sasl_logs_in_under_the_accounts_name_once(self):
        world = World()
        world.account("Reg", "password1")
        sasl = b"AUTHENTICATE PLAIN\r\nAUTHENTICATE "
        sasl += base64.b64encode(b"\0Reg\0password1") + b"\r\n"
        first = self.register(world, sasl + b"NICK other\r\nUSER a 0 * :A\r\n")
        assert first[3] == (
            ":irc.test 001 Reg :Welcome to the menuchat IRC gateway, Reg!900@irc.test"
        )
        again = self.register(world, sasl + b"NICK other\r\nUSER a 0 * :A\r\n")
        assert again[3:] == [
            ":irc.test 433 * other :Your account is connected already",
            "ERROR :Closing Link: other (Account already connected)",
        ]


class UserDetailTests(SynchronousTestCase):
    def test_user_once_and_the_first_100_characters_of_the_real_name(self):
        world = World()
        ana, ana_wire = world.register("ana")
        protocol, transport = world.connect()
        real = "R" * 101
        protocol.dataReceived(f"NICK zed\r\nUSER z 0 * :{real}\r\n".encode())
        assert " 001 zed " in transport.take().decode()
        protocol.dataReceived(b"USER z 0 * :again\r\n")
        assert lines(transport) == [":irc.test 462 zed :You may not reregister"]
        ana.dataReceived(b"WHOIS zed\r\n")
        assert lines(ana_wire)[0] == f":irc.test 311 ana zed 2 irc.test * :{real[:100]}"


def plain(credentials: str) -> bytes:
    """SASL PLAIN credentials in base64, as AUTHENTICATE sends them."""
    return base64.b64encode(credentials.encode())


LOGGED_IN = [
    ":irc.test 900 * Reg!900@irc.test Reg :You are now logged in as Reg",
    ":irc.test 903 * :SASL authentication successful",
]


class SaslChunkTests(SynchronousTestCase):
    """AUTHENTICATE in chunks of 400: a full chunk means more is coming."""

    def authenticate(self, password: str) -> list[str]:
        world = World()
        world.account("Reg", password)
        protocol, transport = world.connect()
        token = plain(f"\0Reg\0{password}")
        chunks = [token[i : i + 400] for i in range(0, len(token), 400)]
        if len(chunks[-1]) == 400:
            chunks.append(b"+")
        protocol.dataReceived(
            b"AUTHENTICATE PLAIN\r\n"
            + b"".join(b"AUTHENTICATE " + chunk + b"\r\n" for chunk in chunks)
        )
        received = lines(transport)
        assert received[0] == "AUTHENTICATE :+"
        return received[1:]

    def test_exactly_400_characters_and_then_a_plus(self):
        password = "p" * 295  # with "\0Reg\0", 300 bytes: 400 in base64
        assert len(plain(f"\0Reg\0{password}")) == 400
        assert self.authenticate(password) == LOGGED_IN

    def test_three_chunks_make_one_message(self):
        password = "p" * 600  # 808 characters: 400, 400 and 8
        assert self.authenticate(password) == LOGGED_IN

    def test_a_character_outside_base64_fails(self):
        world = World()
        world.account("Reg", "password1")
        protocol, transport = world.connect()
        token = plain("\0Reg\0password1")
        protocol.dataReceived(
            b"AUTHENTICATE PLAIN\r\nAUTHENTICATE "
            + token[:4]
            + b"."
            + token[4:]
            + b"\r\n"
        )
        assert lines(transport) == [
            "AUTHENTICATE :+",
            ":irc.test 904 * :SASL authentication failed",
        ]


class GuessingTests(SynchronousTestCase):
    """Wrong passwords slow down the address they come from, and no other."""

    A, B = "198.51.100.1", "198.51.100.2"

    def setUp(self):
        self.world = World()
        self.world.account("Reg", "password1")
        self.world.account("Other", "password2", user_id=901)
        self.world.account("Third", "password3", user_id=902)

    def pass_login(self, host: str, nick: str, password: str) -> tuple[object, Wire]:
        protocol, transport = self.world.connect(host)
        protocol.dataReceived(
            f"PASS :{password}\r\nNICK {nick}\r\nUSER u 0 * :U\r\n".encode()
        )
        return protocol, transport

    def sasl_login(self, transport_protocol, name: str, password: str) -> list[str]:
        protocol, transport = transport_protocol
        protocol.dataReceived(
            b"AUTHENTICATE PLAIN\r\nAUTHENTICATE "
            + plain(f"\0{name}\0{password}")
            + b"\r\n"
        )
        return lines(transport)[1:]

    def test_pass_guesses_slow_their_address_only(self):
        for _ in range(3):
            _, transport = self.pass_login(self.A, "reg", "wrong")
            assert lines(transport) == [
                ":irc.test 464 * :Password incorrect",
                "ERROR :Closing Link: reg (Bad password)",
            ]
        _, elsewhere = self.pass_login(self.B, "other", "password2")
        assert " 001 Other " in elsewhere.take().decode()
        _, same = self.pass_login(self.A, "third", "password3")
        assert lines(same) == []
        self.world.clock.advance(2)
        assert " 001 Third " in same.take().decode()

    def test_sasl_guesses_slow_their_address_only(self):
        guesser = self.world.connect(self.A)
        for _ in range(3):
            assert self.sasl_login(guesser, "Reg", "wrong") == [
                ":irc.test 904 * :SASL authentication failed"
            ]
        elsewhere = self.world.connect(self.B)
        assert self.sasl_login(elsewhere, "Other", "password2")[0].startswith(
            ":irc.test 900 * Other!901@irc.test Other "
        )
        same = self.world.connect(self.A)
        assert self.sasl_login(same, "Other", "password2") == []
        self.world.clock.advance(2)
        assert commands(lines(same[1])) == ["900", "903"]

    def test_a_connection_gone_while_its_login_waits_is_not_left_in(self):
        for _ in range(3):
            self.pass_login(self.A, "reg", "wrong")
        _, transport = self.pass_login(self.A, "reg", "password1")
        assert lines(transport) == []  # the answer waits two seconds
        transport.loseConnection()
        self.world.clock.advance(2)
        assert self.world.hub.users() == []
        assert self.world.clock.getDelayedCalls() == []


class RegistrationFaultTests(SynchronousTestCase):
    """A store that fails during registration: logged, and the client told."""

    def setUp(self):
        from twisted.internet.defer import fail

        self.world = World()
        self.patch(
            self.world.store,
            "find_account",
            lambda key: fail(RuntimeError("disk gone")),
        )

    def test_sasl_when_the_store_fails(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(
            b"AUTHENTICATE PLAIN\r\nAUTHENTICATE " + plain("\0Reg\0pw") + b"\r\n"
        )
        assert lines(transport) == [
            "AUTHENTICATE :+",
            ":irc.test FAIL AUTHENTICATE STORE_FAILED :The server could not do that;"
            " nothing changed",
        ]
        assert len(self.flushLoggedErrors(RuntimeError)) == 1

    def test_nick_when_the_store_fails(self):
        protocol, transport = self.world.connect()
        protocol.dataReceived(b"NICK nina\r\nUSER n 0 * :N\r\n")
        assert lines(transport) == [
            ":irc.test FAIL NICK STORE_FAILED :The server could not do that;"
            " nothing changed",
        ]
        assert len(self.flushLoggedErrors(RuntimeError)) == 1


class LoginDetailTests(SynchronousTestCase):
    def test_an_active_client_is_not_dropped_as_idle(self):
        world = World(
            Gateway(server="irc.test", created="t", ping_interval=0), idle_timeout=60
        )
        protocol, transport = world.register("nina")
        world.clock.advance(50)
        protocol.dataReceived(b"PING x\r\n")
        world.clock.advance(50)
        assert lines(transport) == [":irc.test PONG irc.test :x"]
        world.clock.advance(10)
        assert lines(transport) == ["ERROR :Closing Link: nina (Idle timeout)"]

    def test_the_login_is_logged_with_name_and_id(self):
        from twisted.logger import capturedLogs

        world = World()
        world.register("ana")
        with capturedLogs() as events:
            world.register("nina")
        (login,) = [e for e in events if e.get("event") == "login"]
        assert (login["name"], login["id"]) == ("nina", 2)

    def test_an_account_whose_name_the_rules_now_refuse(self):
        # Stored before invisible names were refused: it unlocks, but that
        # name cannot be in the hub.
        world = World()
        world.account("\u3164\u3164", "password1")
        protocol, transport = world.connect()
        protocol.dataReceived(
            b"AUTHENTICATE PLAIN\r\nAUTHENTICATE "
            + plain("\0\u3164\u3164\0password1")
            + b"\r\nNICK someone\r\nUSER s 0 * :S\r\n"
        )
        assert lines(transport)[-1] == ":irc.test 432 * someone :Erroneous nickname"
        assert world.hub.users() == []
