"""IRC channels as menuchat rooms: JOIN, PART, NAMES, TOPIC, LIST, WHO,
WHOIS, KICK and MODE, with IRC and menu users in the same room."""

from twisted.trial.unittest import SynchronousTestCase

from menuchat.frontends.irc.wire import line
from tests.irc_support import World, lines


class ChannelCase(SynchronousTestCase):
    def setUp(self):
        self.world = World()
        self.ana, self.ana_wire = self.world.register("ana")
        self.ben, self.ben_wire = self.world.register("ben")

    def both_in(self, channel=b"#lobby"):
        self.ana.dataReceived(b"JOIN " + channel + b"\r\n")
        self.ben.dataReceived(b"JOIN " + channel + b"\r\n")
        self.ana_wire.clear()
        self.ben_wire.clear()


class JoinTests(ChannelCase):
    def test_join_creates_the_room_and_the_joiner_is_its_operator(self):
        self.ana.dataReceived(b"JOIN #lobby\r\n")
        assert lines(self.ana_wire) == [
            ":ana!1@irc.test JOIN :#lobby",
            ":irc.test 353 ana = #lobby :@ana",
            ":irc.test 366 ana #lobby :End of /NAMES list",
        ]
        room = self.world.hub.room("lobby")
        assert room.owner_name == "ana"

    def test_joining_an_open_room_tells_everyone(self):
        self.ana.dataReceived(b"JOIN #lobby\r\nTOPIC #lobby :hello all\r\n")
        self.ana_wire.clear()
        self.ben.dataReceived(b"JOIN #LOBBY\r\n")
        assert lines(self.ben_wire) == [
            ":ben!2@irc.test JOIN :#lobby",
            ":irc.test 332 ben #lobby :hello all",
            ":irc.test 353 ben = #lobby :@ana ben",
            ":irc.test 366 ben #lobby :End of /NAMES list",
        ]
        assert lines(self.ana_wire) == [":ben!2@irc.test JOIN :#lobby"]

    def test_one_channel_at_a_time(self):
        self.ana.dataReceived(b"JOIN #one\r\nJOIN #two\r\nJOIN #one\r\n")
        assert lines(self.ana_wire)[3:] == [
            ":irc.test 405 ana #two :You may be in one channel at a time:"
            " PART #one first"
        ]

    def test_bad_channel_names(self):
        self.ana.dataReceived(b"JOIN lobby\r\nJOIN #a:b\r\nJOIN\r\n")
        assert [line.split()[1] for line in lines(self.ana_wire)] == [
            "403",
            "403",
            "461",
        ]

    def test_a_full_room(self):
        world = World(max_room_members=1)
        a, _ = world.register("a")
        b, b_wire = world.register("b")
        a.dataReceived(b"JOIN #r\r\n")
        b.dataReceived(b"JOIN #r\r\n")
        assert lines(b_wire) == [
            ":irc.test 471 b #r :Cannot join channel (room is full)"
        ]

    def test_history_is_shown_to_a_joiner(self):
        self.ana.dataReceived(b"JOIN #lobby\r\nPRIVMSG #lobby :earlier\r\n")
        self.ben.dataReceived(b"JOIN #lobby\r\n")
        last = lines(self.ben_wire)[-1]
        assert last.startswith(":irc.test NOTICE #lobby :[")
        assert last.endswith("] <ana> earlier")

    def test_a_menu_user_joining_and_speaking(self):
        self.ana.dataReceived(b"JOIN #lobby\r\n")
        self.ana_wire.clear()
        bob, bob_wire = self.world.menu_user("bob")
        bob.dataReceived(b"5\r\nlobby\r\nhi from the menu\r\n")
        assert lines(self.ana_wire) == [
            ":bob!3@irc.test JOIN :#lobby",
            ":bob!3@irc.test PRIVMSG #lobby :hi from the menu",
        ]
        assert b"In this room: ana, bob" in bob_wire.take()


class PartTests(ChannelCase):
    def test_a_member_parts_with_a_message(self):
        self.both_in()
        self.ben.dataReceived(b"PART #lobby :see you\r\n")
        assert lines(self.ben_wire) == [":ben!2@irc.test PART #lobby :see you"]
        assert lines(self.ana_wire) == [":ben!2@irc.test PART #lobby :see you"]

    def test_the_owner_parting_hands_the_room_over(self):
        self.both_in()
        self.ana.dataReceived(b"PART #lobby :bye everyone\r\n")
        # The PART comes first, as on any server (irctest's testBasicPart
        # takes the first line after a PART to be it), then the new op.
        assert lines(self.ana_wire) == [":ana!1@irc.test PART #lobby :bye everyone"]
        assert lines(self.ben_wire) == [
            ":ana!1@irc.test PART #lobby :bye everyone",
            ":irc.test MODE #lobby +o :ben",
        ]
        assert self.world.hub.room("lobby").owner_name == "ben"

    def test_after_handing_a_room_over_its_owner_gives_the_next_at_once(self):
        self.both_in()
        self.ana.dataReceived(b"PART #lobby\r\n")
        self.ben.dataReceived(b"PART #lobby\r\n")  # the room closes
        self.ana.dataReceived(b"JOIN #next\r\n")
        self.ben.dataReceived(b"JOIN #next\r\n")
        self.ana_wire.clear()
        self.ben_wire.clear()
        # Ana stays connected: handing a room over is over once it is done,
        # and her next +o is shown as it happens, not held for a PART.
        self.ana.dataReceived(b"MODE #next +o ben\r\n")
        change = ":ana!1@irc.test MODE #next -o+o ana :ben"
        assert lines(self.ben_wire) == [change]
        assert lines(self.ana_wire) == [change]

    def test_the_owner_quitting_is_a_quit_then_the_new_op(self):
        self.both_in()
        self.ana.dataReceived(b"QUIT :gone\r\n")
        assert lines(self.ben_wire) == [
            ":ana!1@irc.test QUIT :Quit: gone",
            ":irc.test MODE #lobby +o :ben",
        ]
        self.ben.dataReceived(b"MODE #lobby +o ana\r\nNAMES #lobby\r\n")
        assert lines(self.ben_wire) == [
            ":irc.test 401 ben ana :No such nick/channel",
            ":irc.test 353 ben = #lobby :@ben",
            ":irc.test 366 ben #lobby :End of /NAMES list",
        ]

    def test_the_owner_parting_alone_closes_the_room(self):
        self.ana.dataReceived(b"JOIN #lobby\r\n")
        self.ana_wire.clear()
        self.ana.dataReceived(b"PART #lobby\r\n")
        assert lines(self.ana_wire) == [":ana!1@irc.test PART :#lobby"]
        assert self.world.hub.rooms() == []

    def test_part_errors(self):
        self.ana.dataReceived(b"JOIN #lobby\r\n")
        self.ana_wire.clear()
        self.ben.dataReceived(b"PART #lobby\r\nPART #nowhere\r\nPART\r\n")
        assert [line.split()[1] for line in lines(self.ben_wire)] == [
            "442",
            "403",
            "461",
        ]

    def test_a_menu_owner_closing_the_room_kicks_irc_members(self):
        bob, _ = self.world.menu_user("bob")
        bob.dataReceived(b"4\r\nden\r\n")
        self.ana.dataReceived(b"JOIN #den\r\n")
        self.ana_wire.clear()
        bob.dataReceived(b"exit\r\n")
        assert lines(self.ana_wire) == [
            ":bob!3@irc.test KICK #den ana :Room closed by its owner"
        ]
        assert self.world.hub.user(1).room is None

    def test_a_menu_member_leaving_and_dropping(self):
        self.ana.dataReceived(b"JOIN #den\r\n")
        bob, _bob_wire = self.world.menu_user("bob")
        carl, carl_wire = self.world.menu_user("carl")
        bob.dataReceived(b"5\r\nden\r\nbye\r\n")
        carl.dataReceived(b"5\r\nden\r\n")
        self.ana_wire.clear()
        carl_wire.loseConnection()
        assert lines(self.ana_wire) == [":carl!4@irc.test QUIT :Connection closed"]


class NamesTopicListTests(ChannelCase):
    def test_names(self):
        self.both_in()
        self.ana.dataReceived(b"NAMES #lobby\r\nNAMES #none\r\nNAMES\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test 353 ana = #lobby :@ana ben",
            ":irc.test 366 ana #lobby :End of /NAMES list",
            ":irc.test 366 ana #none :End of /NAMES list",
            ":irc.test 353 ana = #lobby :@ana ben",
            ":irc.test 366 ana * :End of /NAMES list",
        ]

    def test_many_names_are_split_into_lines_of_512_bytes(self):
        world = World()
        owner, wire = world.register("o")
        owner.dataReceived(b"JOIN #big\r\n")
        for n in range(40):
            member, _ = world.register(f"member-with-a-long-name-{n:02}")
            member.dataReceived(b"JOIN #big\r\n")
        wire.clear()
        owner.dataReceived(b"NAMES #big\r\n")
        received = lines(wire)
        assert len(received) > 2
        assert all(len(line.encode()) <= 510 for line in received)
        names = " ".join(r.split(" :", 1)[1] for r in received if " 353 " in r)
        assert len(names.split()) == 41

    def test_topic(self):
        self.both_in()
        self.ana.dataReceived(b"TOPIC #lobby\r\nTOPIC #lobby :new topic\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test 331 ana #lobby :No topic is set",
            ":ana!1@irc.test TOPIC #lobby :new topic",
        ]
        assert lines(self.ben_wire) == [":ana!1@irc.test TOPIC #lobby :new topic"]
        self.ben.dataReceived(b"TOPIC #lobby\r\nTOPIC #lobby :mine\r\n")
        received = lines(self.ben_wire)
        assert received[0] == ":irc.test 332 ben #lobby :new topic"
        assert received[1].startswith(":irc.test 333 ben #lobby ana ")
        assert received[2] == (":irc.test 482 ben #lobby :You're not channel operator")

    def test_topic_errors(self):
        self.ana.dataReceived(b"JOIN #lobby\r\n")
        self.ana_wire.clear()
        self.ben.dataReceived(b"TOPIC #none\r\nTOPIC #lobby :x\r\nTOPIC\r\n")
        assert [line.split()[1] for line in lines(self.ben_wire)] == [
            "403",
            "442",
            "461",
        ]

    def test_list(self):
        self.both_in()
        self.ana.dataReceived(b"TOPIC #lobby :talk\r\n")
        self.ben_wire.clear()
        self.ben.dataReceived(b"LIST\r\n")
        assert lines(self.ben_wire) == [
            ":irc.test 321 ben Channel :Users  Name",
            ":irc.test 322 ben #lobby 2 :talk",
            ":irc.test 323 ben :End of /LIST",
        ]


class JoinSyncTests(ChannelCase):
    """What irssi asks after a JOIN before it calls the channel synced: each
    query is answered in the read that asked, ended by the numeric irssi
    waits for (324 and 329, 315, 368), with no later turn needed."""

    def answered(self, protocol, transport, line):
        transport.clear()
        protocol.dataReceived(line)
        return [
            sent.decode()
            for sent in transport.io.getvalue().split(b"\r\n")[:-1]  # no flush
        ]

    def test_irssis_join_sync_queries_are_answered_at_once(self):
        self.ana.dataReceived(b"JOIN #lobby\r\n")
        said = self.answered(self.ben, self.ben_wire, b"JOIN #lobby\r\n")
        assert said[0] == ":ben!2@irc.test JOIN :#lobby"
        assert said[-1] == ":irc.test 366 ben #lobby :End of /NAMES list"
        assert self.answered(self.ben, self.ben_wire, b"MODE #lobby\r\n") == [
            ":irc.test 324 ben #lobby :+nt",
            ":irc.test 329 ben #lobby :0",
        ]
        who = self.answered(self.ben, self.ben_wire, b"WHO #lobby\r\n")
        # irssi takes its own user and host from its line of the WHO reply.
        assert ":irc.test 352 ben #lobby 2 irc.test irc.test ben H :0 Real ben" in who
        assert who[-1] == ":irc.test 315 ben #lobby :End of WHO list"
        assert self.answered(self.ben, self.ben_wire, b"MODE #lobby b\r\n") == [
            ":irc.test 368 ben #lobby :End of channel ban list"
        ]

    def test_the_queries_pipelined_with_the_join_are_answered_in_order(self):
        said = self.answered(
            self.ana,
            self.ana_wire,
            b"JOIN #lobby\r\nMODE #lobby\r\nWHO #lobby\r\nMODE #lobby b\r\n",
        )
        ends = [
            line.split()[1]
            for line in said
            if line.split()[1] in {"366", "324", "329", "315", "368"}
        ]
        assert ends == ["366", "324", "329", "315", "368"]


class WhoTests(ChannelCase):
    def test_who_a_channel_and_a_nick(self):
        self.both_in()
        _bob, _ = self.world.menu_user("bob")
        self.ana.dataReceived(b"WHO #lobby\r\nWHO bob\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test 352 ana #lobby 1 irc.test irc.test ana H@ :0 Real ana",
            ":irc.test 352 ana #lobby 2 irc.test irc.test ben H :0 Real ben",
            ":irc.test 315 ana #lobby :End of WHO list",
            ":irc.test 352 ana * 3 irc.test irc.test bob H :0 menu user",
            ":irc.test 315 ana bob :End of WHO list",
        ]

    def test_whois(self):
        self.both_in()
        self.ben.dataReceived(b"WHOIS ana\r\nWHOIS nobody\r\n")
        assert lines(self.ben_wire) == [
            ":irc.test 311 ben ana 1 irc.test * :Real ana",
            ":irc.test 319 ben ana :@#lobby",
            ":irc.test 312 ben ana irc.test :menuchat, rooms and mailboxes for"
            " menu and IRC users",
            ":irc.test 318 ben ana :End of /WHOIS list",
            ":irc.test 401 ben nobody :No such nick/channel",
            ":irc.test 318 ben nobody :End of /WHOIS list",
        ]

    def test_menu_names_irc_cannot_hold_are_shown_safely(self):
        self.ana.dataReceived(b"JOIN #lobby\r\n")
        odd, _ = self.world.menu_user("#odd!one")
        odd.dataReceived(b"5\r\nlobby\r\nhello\r\n")
        assert lines(self.ana_wire)[-2:] == [
            ":_odd_one!3@irc.test JOIN :#lobby",
            ":_odd_one!3@irc.test PRIVMSG #lobby :hello",
        ]
        self.ana.dataReceived(b"WHOIS _odd_one\r\nPRIVMSG _odd_one :hi\r\n")
        assert lines(self.ana_wire)[0] == (
            ":irc.test 311 ana _odd_one 3 irc.test * :menu user"
        )
        assert self.world.hub.unread(self.world.hub.user(3)).result == 1


class ModerationTests(ChannelCase):
    def test_kick(self):
        self.both_in()
        self.ana.dataReceived(b"KICK #lobby ben :behave\r\n")
        kick = ":ana!1@irc.test KICK #lobby ben :behave"
        assert lines(self.ana_wire) == [kick]
        assert lines(self.ben_wire) == [kick]
        assert self.world.hub.room("lobby").members == (self.world.hub.user(1),)

    def test_kick_errors(self):
        self.both_in()
        _bob, _ = self.world.menu_user("bob")
        self.ben.dataReceived(
            b"KICK #lobby ana\r\nKICK #lobby nobody\r\n"
            b"KICK #none ana\r\nKICK #lobby\r\n"
        )
        assert [line.split()[1] for line in lines(self.ben_wire)] == [
            "482",
            "401",
            "403",
            "461",
        ]
        self.ana.dataReceived(b"KICK #lobby bob\r\n")
        assert [line.split()[1] for line in lines(self.ana_wire)] == ["441"]

    def test_mode_queries(self):
        self.both_in()
        self.ana.dataReceived(b"MODE #lobby\r\nMODE #lobby b\r\nMODE ana\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test 324 ana #lobby :+nt",
            ":irc.test 329 ana #lobby :0",
            ":irc.test 368 ana #lobby :End of channel ban list",
            ":irc.test 221 ana :+",
        ]
        self.ana.dataReceived(b"MODE ana +i\r\nMODE ana +i-x\r\nMODE ana\r\n")
        assert lines(self.ana_wire) == [
            ":ana!1@irc.test MODE ana :+i",
            ":irc.test 501 ana :Unknown MODE flag",
            ":irc.test 221 ana :+i",
        ]
        self.ana.dataReceived(b"MODE ben\r\nMODE #none\r\nMODE #lobby +k key\r\n")
        assert [line.split()[1] for line in lines(self.ana_wire)] == [
            "502",
            "403",
            "472",
        ]

    def test_mode_plus_o_hands_the_room_over(self):
        self.both_in()
        self.ana.dataReceived(b"MODE #lobby +o ben\r\n")
        change = ":ana!1@irc.test MODE #lobby -o+o ana :ben"
        assert lines(self.ana_wire) == [change]
        assert lines(self.ben_wire) == [change]
        self.ana.dataReceived(b"MODE #lobby +o ana\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test 482 ana #lobby :You're not channel operator"
        ]

    def test_mode_plus_q_mutes_and_minus_q_unmutes(self):
        self.both_in()
        self.ana.dataReceived(b"MODE #lobby +q ben!*@*\r\n")
        muted = ":ana!1@irc.test MODE #lobby +q :ben!*@*"
        assert lines(self.ana_wire) == [muted]
        assert lines(self.ben_wire) == [muted]
        self.ben.dataReceived(b"PRIVMSG #lobby :can I?\r\n")
        assert lines(self.ben_wire) == [
            ":irc.test 404 ben #lobby :Cannot send to channel (you are muted)"
        ]
        self.ana.dataReceived(b"MODE #lobby q\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test 728 ana #lobby q :ben!*@*",
            ":irc.test 729 ana #lobby q :End of channel quiet list",
        ]
        self.ana.dataReceived(b"MODE #lobby -q ben\r\n")
        assert lines(self.ben_wire) == [":ana!1@irc.test MODE #lobby -q :ben!*@*"]
        self.ben.dataReceived(b"PRIVMSG #lobby :now?\r\n")
        assert lines(self.ana_wire)[-1] == ":ben!2@irc.test PRIVMSG #lobby :now?"

    def test_a_menu_owner_muting_an_irc_user(self):
        bob, _ = self.world.menu_user("bob")
        bob.dataReceived(b"4\r\nden\r\n")
        self.ana.dataReceived(b"JOIN #den\r\n")
        self.ana_wire.clear()
        bob.dataReceived(b"/mute ana\r\n")
        assert lines(self.ana_wire) == [":bob!3@irc.test MODE #den +q :ana!*@*"]


class OperatorEventTests(ChannelCase):
    """An operator's broadcast and disconnect, as IRC clients see them."""

    def operator(self):
        from menuchat.core.names import token_key
        from tests.support import FakeMember, resolved

        account = self.world.account("Olga", "secret12", user_id=99)
        self.world.hub.operators = frozenset({token_key("Olga")})
        return resolved(self.world.hub.login("Olga", FakeMember(), account))

    def test_a_broadcast_is_a_notice_from_the_server(self):
        self.world.hub.broadcast(self.operator(), "restart at noon")
        assert lines(self.ana_wire) == [
            ":irc.test NOTICE ana :Broadcast from Olga: restart at noon"
        ]

    def test_a_disconnect_says_by_whom(self):
        self.world.hub.disconnect(self.operator(), "ana")
        assert lines(self.ana_wire) == [
            "ERROR :Closing Link: ana (Disconnected by Olga)"
        ]


class RenderOnceTests(ChannelCase):
    """A room event is rendered once for all the IRC members, not once each."""

    def setUp(self):
        super().setUp()
        self.carl, self.carl_wire = self.world.register("carl")
        self.both_in()
        self.carl.dataReceived(b"JOIN #lobby\r\n")
        from menuchat.frontends.irc import audience, view

        self.rendered = []

        def counted(*args):
            self.rendered.append(args[1])
            return line(*args)

        self.patch(view, "line", counted)
        self.patch(audience, "line", counted)  # room lines, told together

    def test_a_line(self):
        self.carl.dataReceived(b"PRIVMSG #lobby :hi\r\n")
        assert self.rendered == ["PRIVMSG"]

    def test_a_join_and_a_part(self):
        dave, _ = self.world.register("dave")
        dave.dataReceived(b"JOIN #lobby\r\nPART #lobby\r\n")
        assert self.rendered == ["JOIN", "PART"]

    def test_a_topic_and_a_mute(self):
        self.ana.dataReceived(b"TOPIC #lobby :maths\r\nMODE #lobby +q ben\r\n")
        assert self.rendered == ["TOPIC", "MODE"]


class EventDetailTests(ChannelCase):
    """Hub events in the cases the usual paths pass by."""

    def test_a_kick_without_a_reason_gives_the_kicker_as_reason(self):
        self.both_in()
        self.ana.dataReceived(b"KICK #lobby ben\r\n")
        assert lines(self.ben_wire) == [":ana!1@irc.test KICK #lobby ben :ana"]

    def test_a_room_closed_by_a_gone_owner_is_a_kick_from_its_nick(self):
        # A kept room whose owner is offline: no mask to give, the nick alone.
        from menuchat.core.events import CloseReason, RoomClosed

        session = self.ana.session
        session.room_closed(RoomClosed("den", "Gone", CloseReason.OWNER_CLOSED))
        self.ben.session.room_closed(RoomClosed("den", "ana", CloseReason.OWNER_LEFT))
        assert lines(self.ana_wire) == [":Gone KICK #den ana :Room closed by its owner"]
        assert lines(self.ben_wire) == [
            ":ana!1@irc.test KICK #den ben :Room closed: its owner left"
        ]

    def test_the_topic_of_a_room_joined_has_no_setter_yet(self):
        self.ana.dataReceived(b"JOIN #lobby\r\nTOPIC #lobby :plans\r\n")
        self.ben.dataReceived(b"JOIN #lobby\r\n")
        self.ben_wire.clear()
        self.ben.dataReceived(b"TOPIC #lobby\r\n")
        assert lines(self.ben_wire) == [":irc.test 332 ben #lobby :plans"]

    def test_an_owner_change_with_no_owner_known_is_plain_plus_o(self):
        # An owner change heard with no previous owner to take +o from: by
        # a session never in a room, or whose room closed.
        from menuchat.core.events import Change, CloseReason, RoomChanged, RoomClosed

        self.ben.session.room_changed(RoomChanged("den", Change.OWNER, "ana", "ben"))
        assert lines(self.ben_wire) == [":ana!1@irc.test MODE #den +o :ben"]
        self.ana.dataReceived(b"JOIN #lobby\r\n")
        session = self.ana.session
        session.room_closed(RoomClosed("lobby", "ana", CloseReason.OWNER_CLOSED))
        self.ana_wire.clear()
        session.room_changed(RoomChanged("lobby", Change.OWNER, "ben", "ana"))
        assert lines(self.ana_wire) == [":ben!2@irc.test MODE #lobby +o :ana"]

    def test_a_room_line_told_to_the_session_alone(self):
        # Members without a shared audience are told line by line.
        from menuchat.core.events import room_line

        self.both_in()
        session = self.ana.session
        session.room_line(room_line("ben", "hello", 0.0, "lobby", 2))
        session.room_line(room_line("ana", "mine", 0.0, "lobby", 1))
        assert lines(self.ana_wire) == [":ben!2@irc.test PRIVMSG #lobby :hello"]
        self.ana.dataReceived(b"CAP REQ echo-message\r\n")
        self.ana_wire.clear()
        session.room_line(room_line("ana", "mine", 0.0, "lobby", 1))
        assert lines(self.ana_wire) == [":ana!1@irc.test PRIVMSG #lobby :mine"]

    def test_a_session_alone_has_an_audience_of_its_server(self):
        from menuchat.frontends.irc.base import Gateway
        from menuchat.frontends.irc.session import IRCSession

        world = self.world
        session = IRCSession(
            world.hub, self.ana, world.accounts, world.clock, Gateway(server="s.test")
        )
        assert session.audience.server == "s.test"


class WhoDetailTests(ChannelCase):
    def test_whois_shows_the_channel_with_the_owners_at_sign(self):
        self.both_in()
        self.ana.dataReceived(b"WHOIS\r\nWHOIS :\r\nWHOIS ben,ana\r\nWHOIS x ana\r\n")
        about = ":irc.test 312 ana {} irc.test :menuchat, rooms and mailboxes for"
        about += " menu and IRC users"
        assert lines(self.ana_wire) == [
            ":irc.test 431 ana :No nickname given",
            ":irc.test 431 ana :No nickname given",
            ":irc.test 311 ana ben 2 irc.test * :Real ben",
            ":irc.test 319 ana ben :#lobby",
            about.format("ben"),
            ":irc.test 318 ana ben :End of /WHOIS list",
            ":irc.test 311 ana ana 1 irc.test * :Real ana",
            ":irc.test 319 ana ana :@#lobby",
            about.format("ana"),
            ":irc.test 318 ana ana :End of /WHOIS list",
        ]

    def test_who_without_a_target_or_of_no_channel_lists_no_one(self):
        self.both_in()
        self.ana.dataReceived(b"WHO\r\nWHO :\r\nWHO #none\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test 315 ana * :End of WHO list",
            ":irc.test 315 ana * :End of WHO list",
            ":irc.test 315 ana #none :End of WHO list",
        ]


class ReplyTextTests(ChannelCase):
    """Refusals and listings line by line, with their parameters and text."""

    def test_refusals_and_listings_in_full(self):
        self.both_in()
        carl, _ = self.world.register("carl")
        carl.dataReceived(b"JOIN #den\r\n")
        self.ana.dataReceived(b"TOPIC #lobby :tea\r\nTOPIC #lobby :\x02\x02\r\n")
        self.ana_wire.clear()
        self.ana.dataReceived(
            b"NICK\r\nNICK bob\r\nNICK ana\r\nUSER a 0 * :A\r\n"
            b"TOPIC\r\nTOPIC #none\r\nTOPIC #den :x\r\nTOPIC #lobby\r\n"
            b"KICK #lobby\r\nLIST #den,#lobby\r\nLIST #den\r\nNAMES #den,#lobby\r\n"
        )
        assert lines(self.ana_wire) == [
            ":irc.test 431 ana :No nickname given",
            ":irc.test 447 ana bob :Nick changes are not supported:"
            " reconnect with the new nick",
            ":irc.test 462 ana :You may not reregister",
            ":irc.test 461 ana TOPIC :Not enough parameters",
            ":irc.test 403 ana #none :No such channel",
            ":irc.test 442 ana #den :You're not on that channel",
            ":irc.test 331 ana #lobby :No topic is set",  # cleared
            ":irc.test 461 ana KICK :Not enough parameters",
            ":irc.test 321 ana Channel :Users  Name",
            ":irc.test 322 ana #lobby 2 :",
            ":irc.test 322 ana #den 1 :",
            ":irc.test 323 ana :End of /LIST",
            ":irc.test 321 ana Channel :Users  Name",
            ":irc.test 322 ana #den 1 :",
            ":irc.test 323 ana :End of /LIST",
            ":irc.test 353 ana = #den :@carl",
            ":irc.test 366 ana #den :End of /NAMES list",
            ":irc.test 353 ana = #lobby :@ana ben",
            ":irc.test 366 ana #lobby :End of /NAMES list",
        ]

    def test_the_topic_setter_and_time_after_a_topic_change(self):
        self.both_in()
        self.world.clock.advance(5)
        self.ben.dataReceived(b"TOPIC #lobby\r\n")
        self.ana.dataReceived(b"TOPIC #lobby :tea\r\n")
        self.ben_wire.clear()
        self.ben.dataReceived(b"TOPIC #lobby\r\n")
        assert lines(self.ben_wire) == [
            ":irc.test 332 ben #lobby :tea",
            ":irc.test 333 ben #lobby ana :5",
        ]


class ModeReplyTests(ChannelCase):
    def test_mode_refusals_and_lists_in_full(self):
        self.both_in()
        self.ana.dataReceived(
            b"MODE\r\nMODE :\r\nMODE #none +n\r\nMODE nobody\r\nMODE #lobby nt\r\n"
            b"MODE #lobby -n\r\nMODE #lobby +q\r\nMODE #lobby b\r\n"
            b"MODE #lobby +bq x\r\nMODE #lobby -o ben\r\nMODE #lobby +o\r\n"
        )
        assert lines(self.ana_wire) == [
            ":irc.test 461 ana MODE :Not enough parameters",
            ":irc.test 461 ana MODE :Not enough parameters",
            ":irc.test 403 ana #none :No such channel",
            ":irc.test 401 ana nobody :No such nick/channel",
            ":irc.test 472 ana -n :is not a mode of this server",
            ":irc.test 729 ana #lobby q :End of channel quiet list",
            ":irc.test 368 ana #lobby :End of channel ban list",
            ":irc.test 472 ana +b :is not a mode of this server",
            ":irc.test 401 ana x :No such nick/channel",
            ":irc.test 472 ana -o :is not a mode of this server",
            ":irc.test 461 ana MODE :Not enough parameters",
        ]


class PartKickReplyTests(ChannelCase):
    def test_part_and_kick_refusals_in_full(self):
        self.both_in()
        carl, _ = self.world.register("carl")
        carl.dataReceived(b"JOIN #den\r\n")
        self.ben.dataReceived(
            b"PART\r\nPART #x,#den\r\nKICK #lobby ana\r\nKICK #lobby carl\r\n"
            b"KICK #lobby zz\r\nKICK #den carl\r\n"
        )
        assert lines(self.ben_wire) == [
            ":irc.test 461 ben PART :Not enough parameters",
            ":irc.test 403 ben #x :No such channel",
            ":irc.test 442 ben #den :You're not on that channel",
            ":irc.test 482 ben #lobby :The room's owner cannot be moderated",
            ":irc.test 441 ben carl #lobby :They aren't on that channel",
            ":irc.test 401 ben zz :No such nick/channel",
            ":irc.test 442 ben #den :You're not on that channel",
        ]

    def test_a_part_with_an_empty_message_says_none(self):
        self.both_in()
        self.ben.dataReceived(b"PART #lobby :\x02\x02\r\n")
        assert lines(self.ana_wire) == [":ben!2@irc.test PART :#lobby"]


class JoinReplyTests(SynchronousTestCase):
    def test_join_refusals_in_full_and_each_channel_tried_in_turn(self):
        world = World(max_rooms=1)
        ana, ana_wire = world.register("ana")
        ben, ben_wire = world.register("ben")
        ana.dataReceived(b"JOIN\r\nJOIN :\r\nJOIN 0\r\nJOIN nochan,#a\r\nJOIN #b\r\n")
        assert lines(ana_wire) == [
            ":irc.test 461 ana JOIN :Not enough parameters",
            ":irc.test 461 ana JOIN :Not enough parameters",
            ":irc.test 403 ana nochan :No such channel",
            ":ana!1@irc.test JOIN :#a",
            ":irc.test 353 ana = #a :@ana",
            ":irc.test 366 ana #a :End of /NAMES list",
            ":irc.test 405 ana #b :You may be in one channel at a time: PART #a first",
        ]
        ben.dataReceived(b"JOIN #den,#A\r\n")
        assert lines(ben_wire) == [
            ":irc.test 405 ben #den :The server holds as many rooms as it may",
            ":ben!2@irc.test JOIN :#a",
            ":irc.test 353 ben = #a :@ana ben",
            ":irc.test 366 ben #a :End of /NAMES list",
        ]


class JoinPathTests(ChannelCase):
    """JOIN where the room is opened elsewhere, slowly, or not at all."""

    def open_elsewhere(self, opener):
        """Open rooms as a cluster does when another node opened it first."""
        from twisted.internet.defer import fail

        from menuchat.core import errors

        hub = self.world.hub
        real = hub.open_room

        def open_room(user, room_id):
            if opener is not None:
                real(opener, room_id)
            return fail(errors.RoomTaken(room_id))

        self.patch(hub, "open_room", open_room)

    def test_a_room_another_node_opened_first_is_joined(self):
        self.open_elsewhere(self.world.hub.online("ben"))
        self.ana.dataReceived(b"JOIN #r\r\n")
        received = lines(self.ana_wire)
        assert received[0] == ":ana!1@irc.test JOIN :#r"
        assert self.world.hub.online("ana").room.id == "r"

    def test_a_room_opened_elsewhere_and_gone_again_is_no_such_channel(self):
        self.open_elsewhere(None)
        self.ana.dataReceived(b"JOIN #r\r\n")
        assert lines(self.ana_wire) == [":irc.test 403 ana #r :No such channel"]

    def test_a_store_failing_to_open_a_room(self):
        from twisted.internet.defer import fail

        self.patch(
            self.world.hub, "open_room", lambda user, room_id: fail(RuntimeError("x"))
        )
        self.ana.dataReceived(b"JOIN #r\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test FAIL JOIN STORE_FAILED :The server could not do that;"
            " nothing changed"
        ]
        assert len(self.flushLoggedErrors(RuntimeError)) == 1

    def test_channels_after_one_being_opened_are_tried_once_it_is(self):
        from twisted.internet.defer import Deferred

        hub = self.world.hub
        real = hub.open_room
        waiting = Deferred()
        self.patch(
            hub,
            "open_room",
            lambda user, room_id: waiting.addCallback(lambda _: real(user, room_id)),
        )
        self.ana.dataReceived(b"JOIN #a,#b,#c\r\n")
        assert lines(self.ana_wire) == []
        waiting.callback(None)
        received = lines(self.ana_wire)
        assert received[0] == ":ana!1@irc.test JOIN :#a"
        assert received[-2:] == [
            ":irc.test 405 ana #b :You may be in one channel at a time: PART #a first",
            ":irc.test 405 ana #c :You may be in one channel at a time: PART #a first",
        ]

    def test_join_0_parts_the_channel(self):
        self.both_in(b"#r")
        self.ben.dataReceived(b"JOIN 0\r\n")
        assert lines(self.ben_wire) == [":ben!2@irc.test PART :#r"]
        assert lines(self.ana_wire) == [":ben!2@irc.test PART :#r"]
        assert self.world.hub.online("ben").room is None
        self.ben.dataReceived(b"JOIN 0\r\n")  # in no channel: nothing to say
        assert lines(self.ben_wire) == []

    def test_the_history_shown_says_when(self):
        self.world.clock.advance(1_700_000_000)
        self.ana.dataReceived(b"JOIN #lobby\r\nPRIVMSG #lobby :earlier\r\n")
        self.ben.dataReceived(b"JOIN #lobby\r\n")
        from menuchat.frontends.menu.base import format_time

        when = format_time(1_700_000_000)
        assert lines(self.ben_wire)[-1] == (
            f":irc.test NOTICE #lobby :[{when}] <ana> earlier"
        )


class ModerationDetailTests(ChannelCase):
    def test_kick_with_an_empty_reason_and_several_nicks(self):
        cat, _ = self.world.register("cat")
        self.both_in(b"#r")
        cat.dataReceived(b"JOIN #r\r\n")
        self.ben_wire.clear()
        self.ana.dataReceived(b"KICK #r ben :\r\n")
        assert lines(self.ben_wire) == [":ana!1@irc.test KICK #r ben :ana"]
        self.ben.dataReceived(b"JOIN #r\r\n")
        self.ana.dataReceived(b"KICK #r ben,cat :out\r\n")
        hub = self.world.hub
        assert (hub.online("ben").room, hub.online("cat").room) == (None, None)

    def test_kick_and_mode_refusals_name_the_channel_or_nick(self):
        self.both_in(b"#r")
        self.ana.dataReceived(
            b"KICK #nowhere ben\r\nKICK #r ghost\r\nMODE #r +q ghost\r\nMODE ben +i\r\n"
        )
        assert lines(self.ana_wire) == [
            ":irc.test 403 ana #nowhere :No such channel",
            ":irc.test 401 ana ghost :No such nick/channel",
            ":irc.test 401 ana ghost :No such nick/channel",
            ":irc.test 502 ana :Can't change mode for other users",
        ]

    def test_a_mode_letter_of_no_meaning_is_unknown(self):
        self.both_in(b"#r")
        self.ana.dataReceived(b"MODE #r +X\r\nMODE #r -X\r\n")
        assert lines(self.ana_wire) == [
            ":irc.test 472 ana +X :is not a mode of this server",
            ":irc.test 472 ana -X :is not a mode of this server",
        ]

    def test_user_modes_set_cleared_and_shown(self):
        self.ana.dataReceived(b"MODE ana i\r\nMODE ana +wX\r\nMODE ana\r\n")
        assert lines(self.ana_wire) == [
            ":ana!1@irc.test MODE ana :+i",
            ":irc.test 501 ana :Unknown MODE flag",
            ":ana!1@irc.test MODE ana :+w",
            ":irc.test 221 ana :+iw",
        ]
        self.ana.dataReceived(b"MODE ana -iw\r\nMODE ana\r\n")
        assert lines(self.ana_wire) == [
            ":ana!1@irc.test MODE ana :-i-w",
            ":irc.test 221 ana :+",
        ]


class LookupDetailTests(ChannelCase):
    def test_a_channel_needs_its_hash(self):
        self.both_in(b"#r")
        self.ana.dataReceived(b"TOPIC xr\r\n")
        assert lines(self.ana_wire) == [":irc.test 403 ana xr :No such channel"]

    def test_a_menu_name_with_reserved_characters_is_found_by_name_too(self):
        self.world.menu_user("a!b")
        self.ana.dataReceived(b"WHOIS a!b\r\nWHOIS a_b\r\n")
        received = lines(self.ana_wire)
        shown = [line for line in received if " 311 " in line]
        assert shown == [":irc.test 311 ana a_b 3 irc.test * :menu user"] * 2


class NamesSplitTests(SynchronousTestCase):
    def test_names_fill_each_line_to_the_last_name_that_fits(self):
        # ":irc.test 353 o = #big :" is 24 bytes; a name costs its length
        # and a space, so 486 bytes of names fit each line.
        world = World()
        owner, wire = world.register("o")
        owner.dataReceived(b"JOIN #big\r\n")
        first = [f"m{n:02}".ljust(30, "x") for n in range(15)] + ["f".ljust(17, "y")]
        second = [f"n{n:02}".ljust(30, "x") for n in range(15)] + ["g".ljust(20, "z")]
        for name in [*first, *second, "last"]:
            member, _ = world.register(name)
            member.dataReceived(b"JOIN #big\r\n")
        wire.clear()
        owner.dataReceived(b"NAMES #big\r\n")
        assert lines(wire) == [
            ":irc.test 353 o = #big :" + " ".join(["@o", *first]),
            ":irc.test 353 o = #big :" + " ".join(second),
            ":irc.test 353 o = #big :last",
            ":irc.test 366 o #big :End of /NAMES list",
        ]
        assert len(f":irc.test 353 o = #big :{' '.join(second)}") == 509
