"""The Redis store beyond the contract: URLs, TLS, failures, and races
between processes (two connections to one real redis-server)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from twisted.internet.defer import DeferredList
from twisted.internet.endpoints import serverFromString
from twisted.protocols.portforward import ProxyFactory
from twisted.trial.unittest import SynchronousTestCase, TestCase

from menuchat.core.errors import MailboxFull, NameTaken
from menuchat.store import StoreError
from menuchat.store.redis import RedisAddress, RedisStore, parse_redis_url
from tests.redisserver import RedisServer, free_port
from tests.test_store_contract import account, inline, message
from tests.test_tls import make_certificate


class UrlTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        self.assertEqual(
            parse_redis_url("redis://cache"), RedisAddress("cache", 6379, 0)
        )

    def test_everything(self) -> None:
        address = parse_redis_url("rediss://me:s%40cret@10.0.0.5:7000/3?ca=/ca.pem")
        self.assertEqual(
            address, RedisAddress("10.0.0.5", 7000, 3, True, "me", "s@cret", "/ca.pem")
        )
        self.assertEqual(str(address), "rediss://10.0.0.5:7000/3")
        self.assertNotIn("cret", repr(address))

    def test_a_password_alone(self) -> None:
        address = parse_redis_url("redis://:pw@h:1/0")
        self.assertEqual((address.username, address.password), (None, "pw"))

    def test_bad_urls(self) -> None:
        for url in (
            "http://h:1/0",
            "redis://h:99999/0",
            "redis:///0",
            "redis://h:1/zero",
            "redis://h:1/0?x=1",
            "redis://h:1/0?ca=/ca.pem",
        ):
            with self.assertRaises(ValueError, msg=url):
                parse_redis_url(url)


class RedisStoreTests(TestCase):
    def setUp(self) -> None:
        self.redis = RedisServer().start()
        self.addCleanup(self.redis.close)

    async def store(self, url: str | None = None) -> RedisStore:
        from twisted.internet import reactor

        store = RedisStore(url or self.redis.url, reactor)
        await store.start()
        self.addCleanup(store.stop)
        return store

    @inline
    async def test_unreachable_is_one_line(self) -> None:
        from twisted.internet import reactor

        port = free_port()
        store = RedisStore(f"redis://127.0.0.1:{port}/0", reactor)
        try:
            await store.start()
        except StoreError as e:
            text = str(e)
        else:
            raise AssertionError("started without Redis")
        self.assertEqual(text.count("\n"), 0)
        self.assertIn(f"cannot reach Redis at redis://127.0.0.1:{port}/0", text)
        self.assertIn("refused", text)

    @inline
    async def test_racing_accounts_one_wins(self) -> None:
        one, two = await self.store(), await self.store()
        results = await DeferredList(
            [
                one.create_account(account(7, "Nina")),
                two.create_account(account(8, "NINA")),
            ],
            consumeErrors=True,
        )
        wins = [ok for ok, _ in results]
        self.assertEqual(sorted(wins), [False, True])
        for ok, value in results:
            if not ok:
                value.trap(NameTaken)

    @inline
    async def test_ids_from_two_processes_never_overlap(self) -> None:
        one, two = await self.store(), await self.store()
        blocks = await DeferredList(
            [s.reserve_ids(100) for _ in range(10) for s in (one, two)]
        )
        ids = [i for _, block in blocks for i in block]
        self.assertEqual(len(ids), len(set(ids)))

    @inline
    async def test_the_mailbox_limit_holds_under_racing_senders(self) -> None:
        one, two = await self.store(), await self.store()
        sent = await DeferredList(
            [
                s.deliver(message(1, 2, f"m{n}"), 5)
                for n in range(10)
                for s in (one, two)
            ],
            consumeErrors=True,
        )
        refused = [v for ok, v in sent if not ok]
        self.assertEqual(len(refused), 15)
        for failure in refused:
            failure.trap(MailboxFull)
        self.assertEqual(await one.unread(2), 5)

    @inline
    async def test_rediss_through_tls(self) -> None:
        """A TLS proxy before the server stands for a Redis with TLS; the
        client checks its certificate against the CA named in the URL."""
        from twisted.internet import reactor

        directory = Path(tempfile.mkdtemp())
        make_certificate(directory, "localhost")
        key, cert = directory / "key.pem", directory / "cert.pem"
        proxy = await serverFromString(
            reactor, f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
        ).listen(ProxyFactory("127.0.0.1", self.redis.port))
        self.addCleanup(proxy.stopListening)
        port = proxy.getHost().port
        store = await self.store(f"rediss://localhost:{port}/0?ca={cert}")
        self.assertEqual(list(await store.reserve_ids(2)), [1, 2])

    @inline
    async def test_a_wrong_password_is_one_line(self) -> None:
        from twisted.internet import reactor

        self.redis.stop()
        self.redis = RedisServer(self.redis.port)
        self.addCleanup(self.redis.close)  # the first one's cleanup is not this
        self.redis.start(extra=("--requirepass", "right"))
        store = RedisStore(f"redis://:wrong@127.0.0.1:{self.redis.port}/0", reactor)
        with self.assertRaises(StoreError) as caught:
            await store.start()
        self.assertEqual(str(caught.exception).count("\n"), 0)
        good = await self.store(f"redis://:right@127.0.0.1:{self.redis.port}/0")
        self.assertEqual(await good.unread(1), 0)
