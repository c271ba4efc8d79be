"""The server as one service: the store, the hub and every front-end around it.

L{ChatService} starts the store before any port listens and stops it after
every connection is closed: a person is never admitted to a server that
cannot keep what it acknowledges. Every front-end's factory is built
around the same L{Hub}, as twisted.words builds each of its front-ends
around one realm, and shares one L{Admission}, so caps and shutdown span
them all.
"""

from __future__ import annotations

import gc
import signal
from collections.abc import Callable, Sequence
from typing import Any, cast

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import SSL4ServerEndpoint, serverFromString
from twisted.internet.interfaces import (
    IProtocolFactory,
    IReactorCore,
    IReactorFromThreads,
    IReactorTime,
)
from twisted.internet.threads import deferToThread
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Site

from menuchat.config import Limits
from menuchat.core.accounts import Accounts
from menuchat.core.cluster import Membership
from menuchat.core.hub import Hub
from menuchat.core.names import prepare
from menuchat.frontends.irc.base import Gateway
from menuchat.frontends.irc.factory import IRCFactory
from menuchat.frontends.menu.factory import MenuChatFactory
from menuchat.metrics import MetricsResource, ServerMetrics, timed_store
from menuchat.net.admission import Admission
from menuchat.net.listening import (
    CannotListen,
    Listener,
    endpoint_problem,
    with_backlog,
)
from menuchat.net.privacy import plain_ports
from menuchat.net.stats import ConnectionStats
from menuchat.net.tls import ReloadableCertificate
from menuchat.store import Store, StoreError
from menuchat.store.memory import MemoryStore

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


#: Allocations between two collections of the youngest generation (Python's
#: default: 700).
YOUNG_COLLECTION = 20_000


def tune_collector() -> None:
    """Set Python's garbage collector for a long-running server.

    What exists once the server has started (modules, the confusables
    table, what the store read) is moved out of the collector's sight
    (C{gc.freeze}): a full collection no longer walks all of it, again and
    again. And the youngest generation is collected every 20,000
    allocations, not 700, so that what a message keeps while the store
    commits it (a Deferred, its callbacks, the held answer) is freed by its
    count before a collection promotes it. Under private mail on the SQLite
    store, collections had been an eighth of the server's time.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION, middle, old)


class ChatService(MultiService):
    """A menuchat server: its store, hub, front-ends and their ports.

    @param ports: endpoint descriptions for the menu front-end.
    @param irc_ports: endpoint descriptions for the IRC gateway (none: off).
    @param gateway: the IRC gateway's server name and ping interval.
    @param in_thread: runs password hashing off the reactor thread.
    @param operators: names of the registered accounts that moderate every
        room and the server.
    @param cannot_listen: called with the L{CannotListen} of a port that
        cannot be opened at start; by default it is raised.
    @param cannot_start: called with the L{StoreError} of a store (or a
        cluster) that cannot be opened at start; by default C{startService}
        fails with it.
    @param cluster: the other processes sharing the store, if any: started
        after the store, before the ports take connections; stopped after
        the connections are closed.
    @param metrics: an endpoint description to serve the metrics on, if any.
    @param tune_collector: whether to set Python's garbage collector for a
        server process once started (L{tune_collector}); twistd does.
    @param reload_on_hangup: whether SIGHUP reloads the TLS certificates,
        and SIGTERM and SIGINT stop the server (process-wide handlers: for
        the one service a process runs).
    @param passwords_need_tls: ask for passwords only over TLS or from this
        machine; otherwise the start is logged with a warning naming the
        ports where passwords travel in clear, if there are any.
    """

    log = Logger()

    def __init__(
        self,
        store: Store,
        clock: IReactorTime,
        limits: Limits,
        ports: Sequence[str],
        *,
        in_thread: Callable[..., Deferred[Any]] = deferToThread,
        operators: Sequence[str] = (),
        cannot_listen: Callable[[CannotListen], object] | None = None,
        cannot_start: Callable[[StoreError], object] | None = None,
        cluster: Membership | None = None,
        reload_on_hangup: bool = False,
        metrics: str | None = None,
        irc_ports: Sequence[str] = (),
        gateway: Gateway | None = None,
        passwords_need_tls: bool = False,
        tune_collector: bool = False,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._tune_collector = tune_collector
        self.metrics = ServerMetrics()
        # The memory store answers every call at once: its latency is nil,
        # and timing it cost each private message about a tenth of its time.
        self.store: Store = (
            store
            if isinstance(store, MemoryStore)
            else timed_store(store, clock, self.metrics)
        )
        self.limits = limits
        self.hub = make_hub(self.store, clock, limits, operators)
        self.accounts = Accounts(self.store, clock, in_thread)
        self.admission = Admission(limits.max_clients, limits.max_per_address)
        self.stats = ConnectionStats()
        self.metrics.watch(self.hub, self.admission, self.stats)
        self.menu = MenuChatFactory(
            self.hub,
            self.accounts,
            clock,
            limits,
            self.admission,
            self.stats,
            passwords_need_tls=passwords_need_tls,
        )
        self.irc = IRCFactory(
            self.hub,
            self.accounts,
            clock,
            limits,
            self.admission,
            self.stats,
            gateway,
        )
        self.passwords_need_tls = passwords_need_tls
        self.ports = [*ports, *irc_ports]
        self._reactor = clock
        self.certificates: list[tuple[str, ReloadableCertificate]] = []
        self._reload_on_hangup = reload_on_hangup
        self._hangup_handler: Any = None
        self._hangup_caught = False
        self._termination_caught = False
        self._cannot_listen = cannot_listen
        self._cannot_start = cannot_start
        self._stopping = False
        self.cluster = cluster
        for description in ports:
            self.listen(f"--port {description}", description, self.menu)
        for description in irc_ports:
            self.listen(f"--irc-port {description}", description, self.irc)
        if metrics is not None:
            site = Site(MetricsResource(self.metrics))
            self.metrics_port = self.listen(f"--metrics {metrics}", metrics, site)

    def listen(
        self, option: str, description: str, factory: IProtocolFactory
    ) -> Listener:
        """Listen on endpoint C{description} with C{factory} while running.

        TCP and TLS ports get a deep backlog unless the description sets one.

        @param option: how the endpoint was asked for, naming it in errors.
        """
        endpoint = serverFromString(self._reactor, with_backlog(description))
        if isinstance(endpoint, SSL4ServerEndpoint):
            # The endpoint keeps its context factory in a private attribute;
            # this is the one place it is replaced, by one that can reload.
            certificate = ReloadableCertificate(
                lambda: serverFromString(self._reactor, description)._sslContextFactory
            )
            endpoint._sslContextFactory = certificate
            self.certificates.append((option, certificate))
        listener = Listener(option, endpoint, factory)
        listener.setServiceParent(self)  # type: ignore[no-untyped-call]
        return listener

    def privilegedStartService(self) -> None:
        """Bind every port (before twistd sheds privileges).

        SIGHUP is handled from here on: a port is known to be open (and
        logged) from now, before L{startService} runs.
        """
        self._catch_hangup()
        try:
            MultiService.privilegedStartService(self)
        except CannotListen as e:
            self.log.critical("{problem}", problem=str(e))
            if self._cannot_listen is None:
                raise
            self._cannot_listen(e)

    def reload_certificates(self) -> None:
        """Read every TLS port's key and certificate again.

        New connections get the new certificate; those already made go on.
        A port whose files cannot be read keeps its certificate.
        """
        for option, certificate in self.certificates:
            try:
                certificate.reload()
            except Exception as e:
                self.log.error(
                    "{option}: kept the old certificate: {problem}",
                    option=option,
                    problem=endpoint_problem(e),
                )
            else:
                self.log.info("{option}: certificate reloaded", option=option)

    def _catch_hangup(self) -> None:
        """Reload the certificates on SIGHUP, if asked to; once."""
        if self._reload_on_hangup and not self._hangup_caught:
            self._hangup_caught = True
            self._hangup_handler = signal.signal(signal.SIGHUP, self._hangup)

    def _hangup(self, signum: int, frame: object) -> None:
        cast(IReactorFromThreads, self._reactor).callFromThread(
            self.reload_certificates
        )

    def _catch_termination(self) -> None:
        """Stop on SIGTERM and SIGINT without logging in the signal handler.

        Twisted's own handlers log first. A signal that comes while the log
        file is being written has that write entered again from the
        handler, which raises there, and the stop is lost: the server runs
        on. These only ask the reactor's thread to log and stop. Installed
        once the reactor runs (it installs its own as it starts).
        """
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._terminated)

    def _terminated(self, signum: int, frame: object) -> None:
        cast(IReactorFromThreads, self._reactor).callFromThread(self._stop_on, signum)

    def _stop_on(self, signum: int) -> None:
        name = signal.Signals(signum).name
        self.log.info("Received {signal}, shutting down.", signal=name)
        reactor: Any = self._reactor
        # twistd ends with the same signal once stopped, as Twisted has it.
        reactor._exitSignal = signum
        if reactor.running:
            reactor.stop()

    def startService(self) -> Deferred[None]:
        """Open the store, then listen on every port."""
        prepare()
        self._catch_hangup()
        if self._reload_on_hangup and not self._termination_caught:
            self._termination_caught = True
            cast(IReactorCore, self._reactor).callWhenRunning(self._catch_termination)
        started: Deferred[None] = self.store.start()

        def listen(_: None) -> None:
            if self._stopping:
                # Stopped while the store opened: nothing listens now.
                self.log.info("Stopped before the store was open")
                return
            if self._tune_collector:
                tune_collector()
            MultiService.startService(self)
            self._warn_of_clear_passwords()

        started.addCallback(lambda _: self.hub.restore_rooms())
        if self.cluster is not None:
            cluster = self.cluster
            started.addCallback(
                lambda _: None if self._stopping else cluster.start(self.hub)
            )
        return started.addCallback(listen).addErrback(self._store_failed)

    def _store_failed(self, reason: Failure) -> None:
        """The store or the cluster cannot be opened: say so in one line.
        (Stopped while it was opening, nothing failed: the store refuses
        what comes after its stop.)"""
        reason.trap(StoreError)
        if self._stopping:
            self.log.info(
                "Stopped before the store was open ({problem})",
                problem=str(reason.value),
            )
            return
        self.log.critical("{problem}", problem=str(reason.value))
        if self._cannot_start is None:
            reason.raiseException()
        else:
            self._cannot_start(cast(StoreError, reason.value))

    def _warn_of_clear_passwords(self) -> None:
        """Say once where passwords would travel in clear, or that they
        cannot."""
        if self.passwords_need_tls:
            self.log.info(
                "Passwords are accepted only over TLS or from this machine"
                " (--password-transport tls)"
            )
            return
        plain = plain_ports(self.ports)
        if plain:
            self.log.warn(
                "Passwords travel in clear text on {ports}; give registered"
                " users an ssl: port, and --password-transport tls to accept"
                " passwords only there (and from this machine)",
                ports=", ".join(f"--port {d}" for d in plain),
            )

    def stopService(self) -> Deferred[None]:
        """Stop listening, close every connection (telling each user), then
        close the store."""
        stopped: Deferred[object] = Deferred.fromCoroutine(self._stop())
        return stopped.addCallback(lambda _: None)

    async def _stop(self) -> None:
        self._stopping = True
        if self._hangup_caught:
            signal.signal(signal.SIGHUP, self._hangup_handler or signal.SIG_DFL)
            self._hangup_caught = False
        await MultiService.stopService(self)
        count = len(self.admission.connections)
        if count:
            self.log.info("Stopping: closing {count} connections", count=count)
        await self.admission.shutdown()
        if self.cluster is not None:
            await self.cluster.stop()
        await self.store.stop()
