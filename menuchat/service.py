"""The server as one service: the store, the hub and every front-end around it.

L{ChatService} starts the store before any port listens and stops it after
every connection is closed: a person is never admitted to a server that
cannot keep what it acknowledges. Every front-end's factory is built
around the same L{Hub}, as twisted.words builds each of its front-ends
around one realm, and shares one L{Admission}, so caps and shutdown span
them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twisted.application import strports
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.threads import deferToThread
from twisted.logger import Logger

from menuchat.config import Limits
from menuchat.core.accounts import Accounts
from menuchat.core.hub import Hub
from menuchat.frontends.menu.factory import MenuChatFactory
from menuchat.net.admission import Admission
from menuchat.store import Store

__all__ = ["ChatService", "make_hub"]


def make_hub(
    store: Store,
    clock: IReactorTime,
    limits: Limits,
    operators: Sequence[str] = (),
) -> Hub:
    """The hub of a server with these limits, keeping what lasts in C{store};
    C{operators} name the registered accounts that moderate everywhere."""
    return Hub(
        store,
        now=clock.seconds,
        mailbox_size=limits.mailbox_size,
        max_rooms=limits.max_rooms,
        max_room_members=limits.max_room_members,
        history_size=limits.room_history,
        operators=frozenset(operators),
    )


class ChatService(MultiService):
    """A menuchat server: its store, hub, front-ends and their ports.

    @param ports: endpoint descriptions for the menu front-end.
    @param in_thread: runs password hashing off the reactor thread.
    @param operators: names of the registered accounts that moderate every
        room and the server.
    """

    log = Logger()

    def __init__(
        self,
        store: Store,
        clock: IReactorTime,
        limits: Limits,
        ports: Sequence[str],
        in_thread: Callable[..., Deferred[Any]] = deferToThread,
        operators: Sequence[str] = (),
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.store = store
        self.limits = limits
        self.hub = make_hub(store, clock, limits, operators)
        self.accounts = Accounts(store, clock, in_thread)
        self.admission = Admission(limits.max_clients, limits.max_per_address)
        self.menu = MenuChatFactory(
            self.hub, self.accounts, clock, limits, self.admission
        )
        for description in ports:
            strports.service(description, self.menu).setServiceParent(self)

    def startService(self) -> Deferred[None]:
        """Open the store, then listen on every port."""
        started: Deferred[None] = self.store.start()

        def listen(_: None) -> None:
            MultiService.startService(self)

        return started.addCallback(lambda _: self.hub.restore_rooms()).addCallback(
            listen
        )

    def stopService(self) -> Deferred[None]:
        """Stop listening, close every connection (telling each user), then
        close the store."""
        stopped: Deferred[object] = Deferred.fromCoroutine(self._stop())
        return stopped.addCallback(lambda _: None)

    async def _stop(self) -> None:
        await MultiService.stopService(self)
        count = len(self.admission.connections)
        if count:
            self.log.info("Stopping: closing {count} connections", count=count)
        await self.admission.shutdown()
        await self.store.stop()
