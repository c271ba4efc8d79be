"""The hub's rules, driven directly with fake members: no I/O, no Twisted."""

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.core import errors as hub
from menuchat.core.hub import Hub
from menuchat.store import Account, StoreError
from menuchat.store.memory import MemoryStore
from tests.support import FakeMember, resolved


def login(chat, name):
    member = FakeMember()
    return resolved(chat.login(name, member)), member


class HubCase(SynchronousTestCase):
    """A hub with small caps on a memory store and a fixed time."""

    def setUp(self):
        now = [1565027100.0]
        self.store = MemoryStore()
        self.chat = Hub(
            self.store,
            now=lambda: now[0],
            mailbox_size=3,
            max_rooms=2,
            max_room_members=3,
        )


class UserTests(HubCase):
    """Logins: ids and names."""

    def test_login_gives_increasing_unique_ids(self):
        nina, _ = login(self.chat, "Nina")
        jose, _ = login(self.chat, "Jose")
        assert (nina.id, jose.id) == (1, 2)
        assert [u.name for u in self.chat.users()] == ["Nina", "Jose"]

    def test_ids_are_never_reused_after_logout(self):
        seen = set()
        for _ in range(5):
            user, _ = login(self.chat, "Same")
            assert user.id not in seen
            seen.add(user.id)
            self.chat.logout(user)
        assert self.chat.users() == []

    def test_names_are_unique_case_insensitively(self):
        login(self.chat, "Nina")
        with self.assertRaises(hub.NameTaken):
            login(self.chat, "nINA")
        assert len(self.chat.users()) == 1

    def test_refused_logins_are_counted_by_reason(self):
        login(self.chat, "Nina")
        for name in ("two words", "", "nina", "NINA"):
            self.failureResultOf(self.chat.login(name, FakeMember()))
        assert self.chat.login_failures == {"invalid_name": 2, "name_taken": 2}
        taken = self.failureResultOf(self.chat.login("nINA", FakeMember()))
        assert taken.value.args == ("nINA",)  # the name as it was asked for

    def test_names_spelled_differently_in_unicode_are_the_same_name(self):
        login(self.chat, "Jos\u00e9")  # precomposed é
        with self.assertRaises(hub.NameTaken):
            login(self.chat, "Jose\u0301")  # e and a combining acute accent
        with self.assertRaises(hub.NameTaken):
            login(self.chat, "\uff2a\uff4f\uff53\u00e9")  # fullwidth letters

    def test_a_hub_made_without_limits_has_the_configured_defaults(self):
        chat = Hub(MemoryStore(), now=lambda: 0.0)
        defaults = Limits()
        assert (
            chat.mailbox_size,
            chat.max_rooms,
            chat.max_room_members,
            chat.history_size,
        ) == (
            defaults.mailbox_size,
            defaults.max_rooms,
            defaults.max_room_members,
            defaults.room_history,
        )

    def test_a_name_is_free_again_after_logout(self):
        nina, _ = login(self.chat, "Nina")
        self.chat.logout(nina)
        again, _ = login(self.chat, "nina")
        assert again.id != nina.id

    def test_names_may_be_any_printable_unicode(self):
        user, _ = login(self.chat, "Zoë🙂")
        assert user.name == "Zoë🙂"
        assert login(self.chat, "x" * 32)[0].name == "x" * 32

    def test_logout_twice_is_harmless(self):
        nina, _ = login(self.chat, "Nina")
        self.chat.logout(nina)
        self.chat.logout(nina)
        assert self.chat.users() == []

    def assert_bad_name(self, name, reason):
        """C{name} is refused with C{reason}, and no one logs in."""
        with self.assertRaises(hub.InvalidName) as caught:
            login(self.chat, name)
        assert caught.exception.problem.value == reason
        assert self.chat.users() == []

    def test_bad_name_empty(self):
        self.assert_bad_name("", "empty")

    def test_bad_name_too_long(self):
        self.assert_bad_name("x" * 33, "too long")

    def test_bad_name_with_a_space(self):
        self.assert_bad_name("a b", "space")

    def test_bad_name_with_a_bell(self):
        self.assert_bad_name("bell\x07", "control character")

    def test_bad_name_with_an_escape(self):
        self.assert_bad_name("esc\x1b[2J", "control character")

    def test_bad_name_with_a_bidi_override(self):
        self.assert_bad_name("rtl\u202eevil", "control character")

    def test_bad_name_with_a_tab(self):
        self.assert_bad_name("tab\tname", "control character")

    def test_bad_name_with_a_colon(self):
        self.assert_bad_name("a:b", "punctuation")

    def test_bad_name_with_a_comma(self):
        self.assert_bad_name("a,b", "punctuation")


class MailTests(HubCase):
    """Private messages through the store."""

    def test_message_goes_to_the_mailbox_and_the_recipient_is_told(self):
        nina, _ = login(self.chat, "Nina")
        jose, jose_member = login(self.chat, "Jose")
        message = resolved(self.chat.send_message(nina, jose.id, "Hello World!"))
        assert (message.sender_name, message.recipient_name) == ("Nina", "Jose")
        assert message.sent_at == 1565027100.0
        assert jose_member.events == [("waiting", "Hello World!", 1)]
        assert resolved(self.chat.read_messages(jose)) == [message]

    def test_a_reader_on_arrival_is_handed_its_mail_and_nothing_is_kept(self):
        class Reader(FakeMember):
            reads_mail_at_once = True

            def message_received(self, message):
                self.events.append(("received", message.text))

        nina, _ = login(self.chat, "Nina")
        reader = Reader()
        jose = resolved(self.chat.login("Jose", reader))
        for text in ["one", "two", "three", "four"]:  # past the mailbox's 3
            message = resolved(self.chat.send_to(nina, "jose", text))
            assert message.recipient_name == "Jose"
        assert reader.events == [
            ("received", t) for t in ["one", "two", "three", "four"]
        ]
        assert resolved(self.chat.unread(jose)) == 0
        assert self.chat.private_messages == 4
        reader.reads_mail_at_once = False  # busy: mail goes to the mailbox
        resolved(self.chat.send_message(nina, jose.id, "kept"))
        assert reader.events[-1] == ("waiting", "kept", 1)

    def test_a_notice_is_handed_over_as_one_and_kept_as_mail(self):
        class Reader(FakeMember):
            reads_mail_at_once = True

            def message_received(self, message):
                self.events.append(("received", message.text, message.notice))

        nina, _ = login(self.chat, "Nina")
        reader = Reader()
        jose = resolved(self.chat.login("Jose", reader))
        sent = resolved(self.chat.send_to(nina, "jose", "quiet", notice=True))
        assert sent.notice
        resolved(self.chat.send_message(nina, jose.id, "loud"))
        assert reader.events == [
            ("received", "quiet", True),
            ("received", "loud", False),
        ]
        reader.reads_mail_at_once = False
        sent = resolved(self.chat.send_message(nina, jose.id, "kept", notice=True))
        assert sent.notice  # as it was sent...
        [kept] = resolved(self.chat.read_messages(jose))
        assert (kept.text, kept.notice) == ("kept", False)  # ...and as it is kept

    def test_reading_empties_the_mailbox_oldest_first(self):
        nina, _ = login(self.chat, "Nina")
        jose, _ = login(self.chat, "Jose")
        for text in ["one", "two", "three"]:
            resolved(self.chat.send_message(nina, jose.id, text))
        assert [m.text for m in resolved(self.chat.read_messages(jose))] == [
            "one",
            "two",
            "three",
        ]
        assert resolved(self.chat.read_messages(jose)) == []

    def test_mail_to_a_registered_user_offline_waits_in_the_mailbox(self):
        resolved(self.store.create_account(Account(7, "Jose", "jose", "hash", 1.0)))
        nina, _ = login(self.chat, "Nina")
        message = resolved(self.chat.send_message(nina, 7, "see you"))
        assert (
            message.sender_id,
            message.sender_name,
            message.recipient_id,
            message.recipient_name,
            message.text,
        ) == (nina.id, "Nina", 7, "Jose", "see you")
        assert resolved(self.store.take_mail(7)) == [message]

    def test_a_notice_to_someone_offline_is_sent_as_one_and_kept_as_mail(self):
        resolved(self.store.create_account(Account(7, "Jose", "jose", "hash", 1.0)))
        nina, _ = login(self.chat, "Nina")
        for sending in (
            self.chat.send_message(nina, 7, "by id", notice=True),
            self.chat.send_to(nina, "jose", "by name", notice=True),
        ):
            assert resolved(sending).notice is True
        kept = resolved(self.store.take_mail(7))
        assert [(m.text, m.notice) for m in kept] == [
            ("by id", False),
            ("by name", False),
        ]

    def test_users_are_found_by_id_online_or_registered(self):
        resolved(self.store.create_account(Account(7, "Jose", "jose", "hash", 1.0)))
        nina, _ = login(self.chat, "Nina")
        assert resolved(self.chat.find_user(str(nina.id))) == (nina.id, "Nina")
        assert resolved(self.chat.find_user("7")) == (7, "Jose")
        assert resolved(self.chat.find_user("8")) is None
        assert resolved(self.chat.find_user("NINA")) == (nina.id, "Nina")
        assert resolved(self.chat.find_user("jose")) == (7, "Jose")

    def test_an_id_has_at_most_eighteen_digits(self):
        resolved(self.store.create_account(Account(7, "Jose", "jose", "hash", 1.0)))
        assert resolved(self.chat.find_user("0" * 17 + "7")) == (7, "Jose")
        # Nineteen digits are a name, which no one has.
        assert resolved(self.chat.find_user("0" * 18 + "7")) is None

    def test_send_to_refuses_an_empty_message_and_an_unknown_name(self):
        nina, _ = login(self.chat, "Nina")
        jose, jose_member = login(self.chat, "Jose")
        with self.assertRaises(hub.EmptyMessage):
            resolved(self.chat.send_to(nina, "Jose", "   "))
        with self.assertRaises(hub.UnknownUser) as caught:
            resolved(self.chat.send_to(nina, "Nobody", "hi"))
        assert caught.exception.args == ("Nobody",)
        # Nineteen digits are a name, not the id of anyone online.
        with self.assertRaises(hub.UnknownUser):
            resolved(self.chat.send_to(nina, "0" * 18 + str(jose.id), "hi"))
        assert jose_member.events == []
        assert self.chat.private_messages == 0

    def test_up_to_eighteen_digits_are_an_id_even_if_someone_has_that_name(self):
        nina, nina_member = login(self.chat, "Nina")
        digits, digits_member = login(self.chat, "0" * 17 + str(nina.id))
        message = resolved(self.chat.send_to(digits, "0" * 17 + str(nina.id), "hi"))
        assert message.recipient_id == nina.id
        assert nina_member.events == [("waiting", "hi", 1)]
        assert digits_member.events == []

    def test_private_messages_are_counted(self):
        nina, _ = login(self.chat, "Nina")
        jose, _ = login(self.chat, "Jose")
        resolved(self.chat.send_to(nina, "Jose", "one"))
        resolved(self.chat.send_to(jose, str(nina.id), "two"))
        assert self.chat.private_messages == 2

    def test_unknown_recipient_stores_nothing(self):
        nina, _ = login(self.chat, "Nina")
        with self.assertRaises(hub.UnknownUser) as caught:
            resolved(self.chat.send_message(nina, 99, "hello"))
        assert caught.exception.args == (99,)
        assert resolved(self.chat.read_messages(nina)) == []

    def test_a_departed_users_id_reaches_no_one(self):
        nina, _ = login(self.chat, "Nina")
        jose, _ = login(self.chat, "Jose")
        self.chat.logout(jose)
        newcomer, newcomer_member = login(self.chat, "Jose")
        with self.assertRaises(hub.UnknownUser):
            resolved(self.chat.send_message(nina, jose.id, "for the old Jose"))
        assert newcomer_member.events == []
        assert resolved(self.chat.read_messages(newcomer)) == []

    def test_empty_message_stores_nothing(self):
        nina, _ = login(self.chat, "Nina")
        jose, jose_member = login(self.chat, "Jose")
        with self.assertRaises(hub.EmptyMessage):
            resolved(self.chat.send_message(nina, jose.id, "   "))
        assert jose_member.events == []
        assert resolved(self.chat.read_messages(jose)) == []

    def test_full_mailbox_refuses_and_keeps_what_it_has(self):
        nina, _ = login(self.chat, "Nina")
        jose, _ = login(self.chat, "Jose")
        for n in range(3):
            resolved(self.chat.send_message(nina, jose.id, f"m{n}"))
        with self.assertRaises(hub.MailboxFull):
            resolved(self.chat.send_message(nina, jose.id, "one too many"))
        assert [m.text for m in resolved(self.chat.read_messages(jose))] == [
            "m0",
            "m1",
            "m2",
        ]

    def test_unread_mail_of_a_departing_user_is_reported_to_senders(self):
        nina, nina_member = login(self.chat, "Nina")
        jose, _ = login(self.chat, "Jose")
        resolved(self.chat.send_message(nina, jose.id, "are you there?"))
        self.chat.logout(jose)
        assert nina_member.events == [("unread", "Jose", "are you there?")]
        assert self.chat.user(jose.id) is None


class SlowIdStore(MemoryStore):
    """A memory store whose id reservations wait to be answered by the test."""

    def __init__(self):
        super().__init__()
        self.reservations = []

    def reserve_ids(self, count):
        d = Deferred()
        self.reservations.append((count, d))
        return d


class IdBlockTests(SynchronousTestCase):
    """Ids come from blocks reserved in the store, one reservation at a time."""

    def setUp(self):
        self.store = SlowIdStore()
        self.chat = Hub(self.store, now=lambda: 0.0, id_block=2)

    def test_logins_wait_for_one_reservation_and_share_its_block(self):
        logins = [self.chat.login(name, FakeMember()) for name in "abc"]
        assert [count for count, _ in self.store.reservations] == [2]
        self.store.reservations[0][1].callback(range(10, 12))
        # Three logins, two ids: the third waits for a second block.
        assert [count for count, _ in self.store.reservations] == [2, 2]
        self.store.reservations[1][1].callback(range(20, 22))
        assert [resolved(d).id for d in logins] == [10, 11, 20]
        # The block's second id serves the next login at once.
        assert resolved(self.chat.login("d", FakeMember())).id == 21

    def test_a_failed_reservation_fails_the_logins_and_frees_the_names(self):
        logins = [self.chat.login(name, FakeMember()) for name in ("a", "b")]
        self.store.reservations[0][1].errback(RuntimeError("store down"))
        for d in logins:
            with self.assertRaises(RuntimeError):
                resolved(d)
        assert self.chat.users() == []
        again = self.chat.login("A", FakeMember())
        self.store.reservations[1][1].callback(range(1, 3))
        assert resolved(again).name == "A"

    def test_a_second_reservation_that_fails_fails_the_logins_left(self):
        logins = [self.chat.login(name, FakeMember()) for name in "abc"]
        self.store.reservations[0][1].callback(range(10, 12))
        # The third login waits for a second block, which the store refuses.
        self.store.reservations[1][1].errback(RuntimeError("store down"))
        assert [resolved(d).id for d in logins[:2]] == [10, 11]
        with self.assertRaises(RuntimeError):
            resolved(logins[2])
        assert [u.name for u in self.chat.users()] == ["a", "b"]

    def test_a_name_being_claimed_is_no_one_to_send_to_yet(self):
        sender = self.chat.login("Jose", FakeMember())
        self.store.reservations[0][1].callback(range(1, 3))
        self.chat.login("Nina", FakeMember())  # its id is the block's second
        self.chat.login("Ana", FakeMember())  # waits for a new block
        with self.assertRaises(hub.UnknownUser):
            resolved(self.chat.send_to(resolved(sender), "ana", "hi"))

    def test_a_name_is_claimed_while_its_id_is_reserved(self):
        self.chat.login("Nina", FakeMember())
        assert self.chat.online("nina") is None  # not online before its id
        with self.assertRaises(hub.NameTaken):
            resolved(self.chat.login("nina", FakeMember()))


class LaterStore(MemoryStore):
    """A memory store that offers C{deliver_to} and answers it when the
    test says (as the SQLite store answers once it has committed)."""

    def __init__(self):
        super().__init__()
        self.asked = []

    def deliver(self, message, limit):
        raise AssertionError("deliver_to is there: deliver is not asked")

    def deliver_to(self, message, limit, answer):
        self.asked.append((message, limit, answer))

    def answer_all(self):
        asked, self.asked = self.asked, []
        for message, limit, answer in asked:
            MemoryStore.deliver(self, message, limit).addCallbacks(
                answer.callback, answer.errback
            )


class Told:
    """An answer that is not a Deferred."""

    def __init__(self):
        self.results = []

    def callback(self, result):
        self.results.append(result)

    def errback(self, fail):
        self.results.append(fail)


class AnsweredMailTests(SynchronousTestCase):
    """send_to_answer: the outcome told to an answer, through a store's
    deliver_to when it has one."""

    def setUp(self):
        self.store = LaterStore()
        self.chat = Hub(self.store, now=lambda: 5.0, mailbox_size=1)
        self.nina, _ = login(self.chat, "Nina")
        self.jose, self.jose_member = login(self.chat, "Jose")

    def test_the_answer_and_the_recipient_hear_once_the_store_answers(self):
        told = Told()
        self.chat.send_to_answer(self.nina, "jose", "hi", told)
        assert (told.results, self.jose_member.events) == ([], [])
        assert self.chat.private_messages == 0
        self.store.answer_all()
        [message] = told.results
        assert (message.text, message.recipient_id) == ("hi", self.jose.id)
        assert self.jose_member.events == [("waiting", "hi", 1)]
        assert self.chat.private_messages == 1

    def test_a_refusal_is_told_and_no_one_else_hears(self):
        told = Told()
        self.chat.send_to_answer(self.nina, "Jose", "  ", told)
        self.chat.send_to_answer(self.nina, "Nobody", "hi", told)
        self.chat.send_to_answer(self.nina, "Jose", "one", told)
        self.chat.send_to_answer(self.nina, "Jose", "two", told)
        self.store.answer_all()
        empty, unknown, one, full = told.results
        assert empty.check(hub.EmptyMessage) and unknown.check(hub.UnknownUser)
        assert one.text == "one" and full.check(hub.MailboxFull)
        assert self.jose_member.events == [("waiting", "one", 1)]
        assert self.chat.private_messages == 1

    def test_a_store_failure_is_told(self):
        told = Told()
        self.chat.send_to_answer(self.nina, "Jose", "lost", told)
        [(_, _, answer)] = self.store.asked
        answer.errback(Failure(StoreError("disk on fire")))
        [failure] = told.results
        assert failure.check(StoreError)
        assert self.jose_member.events == []

    def test_a_recipient_that_fails_to_hear_fails_the_answer(self):
        def broken(event):
            raise RuntimeError("a bug in the recipient's front-end")

        self.jose_member.message_waiting = broken
        told = Told()
        self.chat.send_to_answer(self.nina, "Jose", "hi", told)
        self.store.answer_all()
        [failure] = told.results
        assert failure.check(RuntimeError)

    def test_a_registered_recipient_offline_is_found_in_the_store(self):
        resolved(self.store.create_account(Account(70, "Ana", "ana", "hash", 1.0)))
        told = Told()
        self.chat.send_to_answer(self.nina, "ana", "later", told)
        self.store.answer_all()
        [message] = told.results
        assert (message.recipient_id, message.recipient_name) == (70, "Ana")

    def test_the_deferred_calls_go_through_deliver_to_too(self):
        sending = self.chat.send_to(self.nina, "Jose", "hi")
        assert not sending.called
        self.store.answer_all()
        message = resolved(sending)
        assert message.text == "hi"
        assert not message.notice  # a plain message unless asked

    def test_a_notice_is_answered_as_a_notice_online_or_offline(self):
        resolved(self.store.create_account(Account(70, "Ana", "ana", "hash", 1.0)))
        self.chat.mailbox_size = 5
        told = Told()
        self.chat.send_to_answer(self.nina, "Jose", "online", told, notice=True)
        self.chat.send_to_answer(self.nina, "ana", "offline", told, notice=True)
        by_id = self.chat.send_message(self.nina, 70, "by id", notice=True)
        self.store.answer_all()
        sent = [*told.results, resolved(by_id)]
        assert [(m.text, m.notice) for m in sent] == [
            ("online", True),
            ("offline", True),
            ("by id", True),
        ]
