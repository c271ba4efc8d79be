"""Accounts: the password hash, the cred checker and realm, the throttle."""

from __future__ import annotations

import base64
import hashlib

from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import Interface

from menuchat.core.accounts import (
    AccountRealm,
    Accounts,
    IAccount,
    LoginThrottle,
    hash_password,
    make_portal,
    verify_password,
)
from menuchat.core.errors import NameTaken
from menuchat.store import Account
from menuchat.store.memory import MemoryStore


class PasswordTests(SynchronousTestCase):
    def test_a_hash_verifies_its_password_only(self) -> None:
        stored = hash_password("correct horse")
        self.assertTrue(stored.startswith("scrypt$"))
        self.assertNotIn("correct horse", stored)
        self.assertTrue(verify_password("correct horse", stored))
        self.assertFalse(verify_password("correct hors", stored))
        self.assertFalse(verify_password("", stored))

    def test_hashes_are_salted(self) -> None:
        self.assertNotEqual(hash_password("same"), hash_password("same"))

    def test_a_malformed_hash_verifies_nothing(self) -> None:
        for stored in ("", "plain", "md5$1$2$3$4$5", "scrypt$x$8$1$AA==$AA=="):
            self.assertFalse(verify_password("x", stored), stored)


class HashFormatTests(SynchronousTestCase):
    def test_a_hash_records_its_parameters_and_a_16_byte_salt(self) -> None:
        kind, n, r, p, salt, digest = hash_password("secret12").split("$")
        self.assertEqual((kind, n, r, p), ("scrypt", "16384", "8", "1"))
        self.assertEqual(len(base64.b64decode(salt)), 16)
        self.assertEqual(len(base64.b64decode(digest)), 64)

    def test_a_costlier_hash_than_ours_still_verifies(self) -> None:
        # Twice our memory (32 MiB and more): what a later, stronger setting
        # would write. OpenSSL's default memory cap would refuse it.
        salt = b"0123456789abcdef"
        digest = hashlib.scrypt(
            b"secret12", salt=salt, n=2**15, r=8, p=1, maxmem=64 * 1024 * 1024
        )
        encode = base64.b64encode
        stored = f"scrypt$32768$8$1${encode(salt).decode()}${encode(digest).decode()}"
        self.assertTrue(verify_password("secret12", stored))


class PortalTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.store = MemoryStore()
        self.threaded: list[object] = []

        def in_thread(f, *args):  # type: ignore[no-untyped-def]
            self.threaded.append(f)
            return maybeDeferred(f, *args)

        self.portal = make_portal(self.store, in_thread)
        account = Account(7, "Nina", "nina", hash_password("secret12"), 1.0)
        self.successResultOf(self.store.create_account(account))
        self.account = account

    def login(self, name: str, password: str):  # type: ignore[no-untyped-def]
        return self.portal.login(
            UsernamePassword(name.encode(), password.encode()), None, IAccount
        )

    def test_the_right_password_gives_the_account(self) -> None:
        interface, avatar, _logout = self.successResultOf(
            self.login("NINA", "secret12")
        )
        self.assertIs(interface, IAccount)
        self.assertEqual(avatar, self.account)
        self.assertEqual(self.threaded, [verify_password])

    def test_a_wrong_password_or_unknown_name_is_unauthorized(self) -> None:
        self.failureResultOf(self.login("Nina", "secret13"), UnauthorizedLogin)
        self.failureResultOf(self.login("Jose", "secret12"), UnauthorizedLogin)

    def test_refusals_say_why(self) -> None:
        wrong = self.failureResultOf(self.login("Nina", "secret13"), UnauthorizedLogin)
        self.assertEqual(wrong.getErrorMessage(), "wrong password")
        unknown = self.failureResultOf(
            self.login("Jose", "secret12"), UnauthorizedLogin
        )
        self.assertEqual(unknown.getErrorMessage(), "no such account")

    def test_bytes_that_are_not_utf8_are_refused_like_any_wrong_ones(self) -> None:
        for name, password in ((b"Nina\xff", b"secret12"), (b"Nina", b"secret12\xff")):
            refused = self.failureResultOf(
                self.portal.login(UsernamePassword(name, password), None, IAccount)
            )
            refused.trap(UnauthorizedLogin)

    def test_the_realm_gives_accounts_only_and_only_those_that_exist(self) -> None:
        realm = AccountRealm(self.store)
        other = self.failureResultOf(
            realm.requestAvatar(7, None, Interface), NotImplementedError
        )
        self.assertEqual(other.getErrorMessage(), "only IAccount avatars")
        gone = self.failureResultOf(
            realm.requestAvatar(8, None, IAccount), UnauthorizedLogin
        )
        self.assertEqual(gone.getErrorMessage(), "the account is gone")


class ThrottleTests(SynchronousTestCase):
    def test_failures_past_the_free_ones_wait_longer_and_longer(self) -> None:
        clock = Clock()
        throttle = LoginThrottle(clock, free=3, longest=30)
        delays = []
        for _ in range(8):
            delays.append(throttle.delay("name:nina", "address:1.2.3.4"))
            throttle.failed("name:nina", "address:1.2.3.4")
        self.assertEqual(delays, [0, 0, 0, 2, 4, 8, 16, 30])
        # Another name from the same address waits as long; another address
        # for another name does not wait.
        self.assertEqual(throttle.delay("name:jose", "address:1.2.3.4"), 30)
        self.assertEqual(throttle.delay("name:jose", "address:5.6.7.8"), 0)

    def test_failures_are_forgotten_after_the_window_or_a_success(self) -> None:
        clock = Clock()
        throttle = LoginThrottle(clock, free=1, window=60)
        throttle.failed("name:nina")
        throttle.failed("name:nina")
        self.assertGreater(throttle.delay("name:nina"), 0)
        clock.advance(61)
        self.assertEqual(throttle.delay("name:nina"), 0)
        throttle.failed("name:nina")
        throttle.failed("name:nina")
        throttle.succeeded("name:nina")
        self.assertEqual(throttle.delay("name:nina"), 0)

    def test_a_failure_exactly_a_window_ago_is_forgotten_and_takes_no_room(
        self,
    ) -> None:
        clock = Clock()
        clock.advance(1_700_000_000)  # a real clock's time, not 0
        throttle = LoginThrottle(clock, free=1, window=60)
        throttle.failed("name:nina")
        throttle.failed("name:nina")
        clock.advance(59)
        self.assertGreater(throttle.delay("name:nina"), 0)
        clock.advance(1)
        self.assertEqual(throttle.delay("name:nina"), 0)
        self.assertEqual(throttle._failures, {})


class AccountsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.store = MemoryStore()
        self.accounts = Accounts(self.store, self.clock, maybeDeferred)

    def test_register_then_authenticate(self) -> None:
        account = self.successResultOf(self.accounts.register(5, "Nina", "secret12"))
        self.assertEqual(
            (account.user_id, account.name, account.key), (5, "Nina", "nina")
        )
        found = self.successResultOf(
            self.accounts.authenticate("nina", "secret12", "h")
        )
        self.assertEqual(found, account)

    def test_a_registered_name_cannot_be_registered_again(self) -> None:
        self.successResultOf(self.accounts.register(5, "Nina", "secret12"))
        self.failureResultOf(self.accounts.register(6, "NINA", "secret12"), NameTaken)

    def test_repeated_failures_delay_the_answer_on_the_clock(self) -> None:
        self.successResultOf(self.accounts.register(5, "Nina", "secret12"))
        for _ in range(3):
            self.failureResultOf(
                self.accounts.authenticate("Nina", "wrong", "1.2.3.4"),
                UnauthorizedLogin,
            )
        slowed = self.accounts.authenticate("Nina", "secret12", "1.2.3.4")
        self.assertNoResult(slowed)
        self.clock.advance(2)
        self.assertEqual(self.successResultOf(slowed).user_id, 5)

    def test_a_registered_account_notes_when(self) -> None:
        self.clock.advance(1234)
        account = self.successResultOf(self.accounts.register(5, "Nina", "secret12"))
        self.assertEqual(account.created_at, 1234)

    def test_a_success_forgives_the_names_failures_not_the_addresss(self) -> None:
        self.successResultOf(self.accounts.register(5, "Nina", "secret12"))
        for _ in range(3):
            self.failureResultOf(
                self.accounts.authenticate("Nina", "wrong", "1.2.3.4"),
                UnauthorizedLogin,
            )
        right = self.accounts.authenticate("Nina", "secret12", "5.6.7.8")
        self.clock.advance(2)
        self.successResultOf(right)
        # The name is forgiven: from elsewhere it is answered at once.
        self.successResultOf(self.accounts.authenticate("Nina", "secret12", "9.9.9.9"))
        # The guessing address is not.
        slowed = self.accounts.authenticate("Nina", "secret12", "1.2.3.4")
        self.assertNoResult(slowed)
        self.clock.advance(2)
        self.successResultOf(slowed)

    def test_change_password_and_delete(self) -> None:
        self.successResultOf(self.accounts.register(5, "Nina", "secret12"))
        self.successResultOf(self.accounts.change_password(5, "newsecret"))
        self.failureResultOf(
            self.accounts.authenticate("Nina", "secret12", "h"), UnauthorizedLogin
        )
        self.successResultOf(self.accounts.authenticate("Nina", "newsecret", "h"))
        self.successResultOf(self.accounts.delete(5))
        self.failureResultOf(
            self.accounts.authenticate("Nina", "newsecret", "h"), UnauthorizedLogin
        )
