"""The server as one service: the store, the hub and every front-end around it.

L{ChatService} starts the store before any port listens and stops it after
every connection is closed: a person is never admitted to a server that
cannot keep what it acknowledges. Every front-end's factory is built
around the same L{Hub}, as twisted.words builds each of its front-ends
around one realm, and shares one L{Admission}, so caps and shutdown span
them all.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.application import strports
from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from menuchat.config import Limits
from menuchat.core.hub import Hub
from menuchat.frontends.menu.factory import MenuChatFactory
from menuchat.net.admission import Admission
from menuchat.store import Store

__all__ = ["ChatService", "make_hub"]


def make_hub(store: Store, clock: IReactorTime, limits: Limits) -> Hub:
    """The hub of a server with these limits, keeping what lasts in C{store}."""
    return Hub(
        store,
        now=clock.seconds,
        mailbox_size=limits.mailbox_size,
        max_rooms=limits.max_rooms,
        max_room_members=limits.max_room_members,
    )


class ChatService(MultiService):
    """A menuchat server: its store, hub, front-ends and their ports.

    @param ports: endpoint descriptions for the menu front-end.
    """

    log = Logger()

    def __init__(
        self,
        store: Store,
        clock: IReactorTime,
        limits: Limits,
        ports: Sequence[str],
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.store = store
        self.limits = limits
        self.hub = make_hub(store, clock, limits)
        self.admission = Admission(limits.max_clients, limits.max_per_address)
        self.menu = MenuChatFactory(self.hub, clock, limits, self.admission)
        for description in ports:
            strports.service(description, self.menu).setServiceParent(self)

    def privilegedStartService(self) -> None:
        """Do not listen yet: twistd calls this before L{startService}, and
        the ports would take connections before the store is open.

        The ports listen in L{startService}, once the store has started, so
        a port below 1024 needs twistd to run without --uid.
        """
        Service.privilegedStartService(self)

    def startService(self) -> Deferred[None]:
        """Open the store, then listen on every port."""
        started: Deferred[None] = self.store.start()

        def listen(_: None) -> None:
            MultiService.startService(self)

        return started.addCallback(listen)

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
