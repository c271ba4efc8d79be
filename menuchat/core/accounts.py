"""Accounts through twisted.cred: the password hash, the checker and the realm.

A registered name logs in with a password: the front-end asks the
L{Portal} for an L{IAccount} avatar with L{UsernamePassword} credentials.
The L{AccountChecker} finds the account in the store and checks the
password against its scrypt hash in a thread, never on the reactor's (one
hash costs tens of milliseconds). Failures are slowed down per name and
per address by L{LoginThrottle}, by delaying the answer to the one who
failed: no one else waits.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable
from typing import Any

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword, UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from zope.interface import Interface, implementer

from menuchat.core.names import token_key
from menuchat.store import Account, Store

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "AccountChecker",
    "AccountRealm",
    "Accounts",
    "IAccount",
    "LoginThrottle",
    "hash_password",
    "make_portal",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 8

# scrypt's cost: 2**14 rounds of 8 blocks, 16 MiB of memory, about 35 ms here.
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """A salted scrypt hash of C{password}, with its parameters, as text."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    encode = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether C{password} matches the hash C{stored}; in constant time."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=256 * 1024 * 1024,
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


class IAccount(Interface):
    """The avatar of a registered user: the L{Account} record."""


@implementer(ICredentialsChecker)
class AccountChecker:
    """Checks a name and password against the store's accounts.

    @param in_thread: runs a function in a thread and fires with its result
        (C{twisted.internet.threads.deferToThread}; tests pass it directly).
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, store: Store, in_thread: Callable[..., Deferred[Any]]) -> None:
        self._store = store
        self._in_thread = in_thread

    def requestAvatarId(self, credentials: Any) -> Deferred[Any]:
        name = credentials.username
        password = credentials.password
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        if isinstance(password, bytes):
            password = password.decode("utf-8", "replace")
        found: Deferred[Account | None] = self._store.find_account(token_key(name))

        def check(account: Account | None) -> Deferred[Any]:
            if account is None:
                return fail(UnauthorizedLogin("no such account"))
            checked: Deferred[bool] = self._in_thread(
                verify_password, password, account.password_hash
            )

            def decide(ok: bool) -> Any:
                if not ok:
                    raise UnauthorizedLogin("wrong password")
                return account.user_id

            return checked.addCallback(decide)

        return found.addCallback(check)


@implementer(IRealm)
class AccountRealm:
    """Gives the L{Account} of an authenticated user id as its avatar."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def requestAvatar(
        self, avatarId: Any, mind: object, *interfaces: type[Interface]
    ) -> Deferred[tuple[type[Interface], object, Callable[[], None]]]:
        if IAccount not in interfaces:
            return fail(NotImplementedError("only IAccount avatars"))

        def found(
            account: Account | None,
        ) -> tuple[type[Interface], object, Callable[[], None]]:
            if account is None:
                raise UnauthorizedLogin("the account is gone")
            return IAccount, account, lambda: None

        return self._store.account_by_id(avatarId).addCallback(found)


def make_portal(store: Store, in_thread: Callable[..., Deferred[Any]]) -> Portal:
    """The portal through which every front-end logs registered users in."""
    return Portal(AccountRealm(store), [AccountChecker(store, in_thread)])


class LoginThrottle:
    """Slows down repeated password failures per name and per address.

    After C{free} failures within C{window} seconds, each further attempt's
    answer waits 2, 4, 8... seconds, up to C{longest}: guessing at line
    speed becomes guessing at one try every half minute. A success for a
    name forgets that name's failures.
    """

    def __init__(
        self,
        clock: IReactorTime,
        *,
        free: int = 3,
        window: float = 600.0,
        longest: float = 30.0,
    ) -> None:
        self._clock = clock
        self._free = free
        self._window = window
        self._longest = longest
        self._failures: dict[str, list[float]] = {}

    def delay(self, *keys: str) -> float:
        """Seconds to wait before answering an attempt on these keys."""
        now = self._clock.seconds()
        worst = 0
        for key in keys:
            recent = [t for t in self._failures.get(key, ()) if now - t < self._window]
            if recent:
                self._failures[key] = recent
            else:
                self._failures.pop(key, None)
            worst = max(worst, len(recent))
        if worst < self._free:
            return 0.0
        return float(min(self._longest, 2 ** (worst - self._free + 1)))

    def failed(self, *keys: str) -> None:
        """An attempt on these keys failed."""
        now = self._clock.seconds()
        for key in keys:
            self._failures.setdefault(key, []).append(now)

    def succeeded(self, key: str) -> None:
        """An attempt on C{key} succeeded: its failures are forgiven."""
        self._failures.pop(key, None)

    def after(self, seconds: float) -> Deferred[None]:
        """A Deferred that fires in C{seconds} on the clock (at once for 0)."""
        if not seconds:
            return succeed(None)
        waited: Deferred[None] = Deferred()
        self._clock.callLater(seconds, waited.callback, None)
        return waited


class Accounts:
    """What the front-ends do with accounts: log in, register, change, delete.

    @param in_thread: runs password hashing off the reactor thread.
    """

    def __init__(
        self,
        store: Store,
        clock: IReactorTime,
        in_thread: Callable[..., Deferred[Any]],
    ) -> None:
        self._store = store
        self._clock = clock
        self._in_thread = in_thread
        self.portal = make_portal(store, in_thread)
        self.throttle = LoginThrottle(clock)

    def authenticate(self, name: str, password: str, address: str) -> Deferred[Account]:
        """The account C{name} and C{password} unlock; L{UnauthorizedLogin} if
        none. After repeated failures on the name or from the address, the
        answer, either way, comes only after a delay."""
        key = token_key(name)
        keys = (f"name:{key}", f"address:{address}")
        credentials = UsernamePassword(name.encode(), password.encode())

        def attempt(_: None) -> Deferred[Any]:
            return self.portal.login(credentials, None, IAccount)

        def passed(result: tuple[Any, Account, Any]) -> Account:
            self.throttle.succeeded(keys[0])
            return result[1]

        def failed(reason: Any) -> Any:
            self.throttle.failed(*keys)
            return reason

        waited = self.throttle.after(self.throttle.delay(*keys))
        return waited.addCallback(attempt).addCallbacks(passed, failed)

    def register(self, user_id: int, name: str, password: str) -> Deferred[Account]:
        """Register C{name} for user C{user_id}; L{NameTaken} if it is."""
        hashed: Deferred[str] = self._in_thread(hash_password, password)

        def store(password_hash: str) -> Deferred[Account]:
            account = Account(
                user_id, name, token_key(name), password_hash, self._clock.seconds()
            )
            return self._store.create_account(account).addCallback(lambda _: account)

        return hashed.addCallback(store)

    def change_password(self, user_id: int, password: str) -> Deferred[None]:
        """Give user C{user_id}'s account a new password."""
        hashed: Deferred[str] = self._in_thread(hash_password, password)
        return hashed.addCallback(
            lambda password_hash: self._store.set_password(user_id, password_hash)
        )

    def delete(self, user_id: int) -> Deferred[None]:
        """Delete user C{user_id}'s account and its mail; the name is free."""
        return self._store.delete_account(user_id)
