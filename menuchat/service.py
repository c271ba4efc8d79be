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

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from menuchat.config import Limits
from menuchat.core.hub import Hub
from menuchat.frontends.menu.factory import MenuChatFactory
from menuchat.net.admission import Admission
from menuchat.net.listening import CannotListen, Listener, with_backlog
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
    @param cannot_listen: called with the L{CannotListen} of a port that
        cannot be opened at start; by default it is raised.
    """

    log = Logger()

    def __init__(
        self,
        store: Store,
        clock: IReactorTime,
        limits: Limits,
        ports: Sequence[str],
        *,
        cannot_listen: Callable[[CannotListen], object] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.store = store
        self.limits = limits
        self.hub = make_hub(store, clock, limits)
        self.admission = Admission(limits.max_clients, limits.max_per_address)
        self.menu = MenuChatFactory(self.hub, clock, limits, self.admission)
        self._reactor = clock
        self._cannot_listen = cannot_listen
        for description in ports:
            self.listen(f"--port {description}", description, self.menu)

    def listen(self, option: str, description: str, factory: Factory) -> Listener:
        """Listen on endpoint C{description} with C{factory} while running.

        TCP and TLS ports get a deep backlog unless the description sets one.

        @param option: how the endpoint was asked for, naming it in errors.
        """
        endpoint = serverFromString(self._reactor, with_backlog(description))
        listener = Listener(option, endpoint, factory)
        listener.setServiceParent(self)  # type: ignore[no-untyped-call]
        return listener

    def privilegedStartService(self) -> None:
        """Bind every port (before twistd sheds privileges)."""
        try:
            MultiService.privilegedStartService(self)
        except CannotListen as e:
            self.log.critical("{problem}", problem=str(e))
            if self._cannot_listen is None:
                raise
            self._cannot_listen(e)

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
