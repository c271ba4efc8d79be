"""ChatService: the store opens before any port listens and closes after
every connection has."""

import gc

from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.frontends.menu import texts
from menuchat.service import YOUNG_COLLECTION, ChatService, make_hub
from menuchat.store import StoreError
from menuchat.store.memory import MemoryStore
from tests.support import connect, login


class RecordingStore(MemoryStore):
    """A memory store whose start and stop wait for the test to answer."""

    def __init__(self, log):
        super().__init__()
        self.log = log
        self.started = Deferred()
        self.stopped = Deferred()

    def start(self):
        self.log.append("store start")
        return self.started

    def stop(self):
        self.log.append("store stop")
        return self.stopped


class RecordingPort(Service):
    """Stands for a listening port: notes when it starts and stops."""

    def __init__(self, log):
        self.log = log

    def startService(self):
        super().startService()
        self.log.append("listen")

    def stopService(self):
        super().stopService()
        self.log.append("stop listening")


class ChatServiceTests(SynchronousTestCase):
    def setUp(self):
        self.log = []
        self.clock = Clock()
        self.store = RecordingStore(self.log)
        self.service = ChatService(self.store, self.clock, Limits(), [])
        RecordingPort(self.log).setServiceParent(self.service)

    def start(self):
        started = []
        self.service.startService().addCallback(started.append)
        self.store.started.callback(None)
        assert started == [None]

    def test_the_store_starts_before_any_port_listens(self):
        started = []
        self.service.startService().addCallback(started.append)
        assert self.log == ["store start"]
        assert started == []
        self.store.started.callback(None)
        assert self.log == ["store start", "listen"]
        assert started == [None]
        assert self.service.running

    def test_what_a_started_server_holds_is_left_out_of_full_collections(self):
        self.addCleanup(gc.unfreeze)
        self.addCleanup(gc.set_threshold, *gc.get_threshold())
        gc.unfreeze()
        service = ChatService(self.store, self.clock, Limits(), [], tune_collector=True)
        service.startService()
        assert gc.get_freeze_count() == 0  # not before the store has started
        self.store.started.callback(None)
        assert gc.get_freeze_count() > 0
        assert not any(o is service.hub for o in gc.get_objects())
        gc.unfreeze()
        assert any(o is service.hub for o in gc.get_objects())

    def test_a_stop_while_the_store_opens_is_no_failure_to_start(self):
        failed = []
        service = ChatService(
            self.store, self.clock, Limits(), [], cannot_start=failed.append
        )
        RecordingPort(self.log).setServiceParent(service)
        started = []
        service.startService().addCallback(started.append)
        self.store.stopped = succeed(None)
        service.stopService()
        # The store opened after all, and refuses what comes after its stop.
        self.store.saved_rooms = lambda: fail(StoreError("the store is not open"))
        self.store.started.callback(None)
        assert failed == []
        assert started == [None]
        assert "listen" not in self.log

    def test_a_store_that_opens_once_stopped_opens_no_port(self):
        started = []
        self.service.startService().addCallback(started.append)
        self.store.stopped = succeed(None)
        self.service.stopService()
        # Its reads still answer (a store that opened before its stop).
        self.store.started.callback(None)
        assert started == [None]
        assert "listen" not in self.log

    def test_stop_closes_every_connection_then_stops_the_store(self):
        self.start()
        protocol, transport = login(self.service.menu, "Nina")
        # The peer takes its time to close, as over a network.
        transport.loseConnection = lambda: self.log.append("closing Nina")
        stopped = []
        self.service.stopService().addCallback(stopped.append)
        assert self.log == ["store start", "listen", "stop listening", "closing Nina"]
        transport.connected = False
        protocol.connectionLost(Failure(ConnectionDone()))
        assert self.log[-1] == "store stop"
        assert stopped == []
        self.store.stopped.callback(None)
        assert stopped == [None]
        assert self.service.hub.users() == []
        self.clock.advance(0)  # the turn ends
        assert self.clock.getDelayedCalls() == []

    def test_with_no_connections_stop_goes_straight_to_the_store(self):
        self.start()
        self.store.stopped = succeed(None)
        stopped = []
        self.service.stopService().addCallback(stopped.append)
        assert self.log == ["store start", "listen", "stop listening", "store stop"]
        assert stopped == [None]

    def test_newcomers_are_refused_once_stopping(self):
        self.start()
        self.service.stopService()
        _, transport = connect(self.service.menu)
        assert transport.value() == texts.SHUTDOWN.encode()
        assert not transport.connected

    def test_a_user_at_a_prompt_gets_the_notice_on_a_fresh_line(self):
        self.start()
        self.store.stopped = succeed(None)
        _, transport = login(self.service.menu, "Nina")
        self.service.stopService()
        assert transport.value() == b"\r\n" + texts.SHUTDOWN.encode()
        assert not transport.connected

    def test_a_user_in_a_room_gets_the_notice_as_its_next_line(self):
        self.start()
        self.store.stopped = succeed(None)
        protocol, transport = login(self.service.menu, "Nina")
        protocol.dataReceived(b"4\nden\n")
        transport.clear()
        self.service.stopService()
        assert transport.value() == texts.SHUTDOWN.encode()

    def test_one_hub_and_one_admission_for_the_menu_front_end(self):
        assert self.service.menu.hub is self.service.hub
        assert self.service.menu.admission is self.service.admission


class MakeHubTests(SynchronousTestCase):
    def test_the_hub_rules_come_from_the_limits(self):
        clock = Clock()
        clock.advance(1234.5)
        limits = Limits(max_rooms=4, max_room_members=6, mailbox_size=8)
        hub = make_hub(MemoryStore(), clock, limits)
        assert (hub.max_rooms, hub.max_room_members, hub.mailbox_size) == (4, 6, 8)
        assert hub._now() == 1234.5

    def test_max_rooms_is_enforced_through_the_service(self):
        service = ChatService(MemoryStore(), Clock(), Limits(max_rooms=1), [])
        owner, _ = login(service.menu, "a", port=1)
        owner.dataReceived(b"4\nfirst\n")
        other, transport = login(service.menu, "b", port=2)
        other.dataReceived(b"4\nsecond\n")
        assert b"Error: " in transport.value()
        assert [r.id for r in service.hub.rooms()] == ["first"]

    def test_max_room_members_is_enforced_through_the_service(self):
        service = ChatService(MemoryStore(), Clock(), Limits(max_room_members=2), [])
        owner, _ = login(service.menu, "a", port=1)
        owner.dataReceived(b"4\nden\n")
        second, _ = login(service.menu, "b", port=2)
        second.dataReceived(b"5\nden\n")
        third, transport = login(service.menu, "c", port=3)
        third.dataReceived(b"5\nden\n")
        assert b"chat room 'den' is full." in transport.value()
        assert len(service.hub.room("den").members) == 2


class SignalledReactor(Clock):
    """A clock that runs what is asked of it at start and from threads
    when told to, and notes that it was stopped."""

    def __init__(self):
        super().__init__()
        self.when_running = []
        self.from_threads = []
        self.running = True
        self.stopped = False

    def callWhenRunning(self, call, *args):
        self.when_running.append((call, args))

    def callFromThread(self, call, *args):
        self.from_threads.append((call, args))

    def stop(self):
        self.stopped = True
        self.running = False


class TerminationSignalTests(SynchronousTestCase):
    """Under twistd, SIGTERM and SIGINT stop the server without logging
    inside the signal handler (a log write it interrupted would be entered
    again, and the stop lost)."""

    def setUp(self):
        import signal

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self.addCleanup(signal.signal, signum, signal.getsignal(signum))
        self.reactor = SignalledReactor()
        self.service = ChatService(
            MemoryStore(), self.reactor, Limits(), [], reload_on_hangup=True
        )
        self.service.startService()

    def test_the_handlers_come_once_the_reactor_runs(self):
        import signal

        [(install, args)] = self.reactor.when_running
        assert signal.getsignal(signal.SIGTERM) != self.service._terminated
        install(*args)
        for signum in (signal.SIGTERM, signal.SIGINT):
            assert signal.getsignal(signum) == self.service._terminated

    def test_the_handler_only_asks_the_reactor_thread_to_log_and_stop(self):
        import signal

        from twisted.logger import capturedLogs, formatEvent

        with capturedLogs() as events:
            self.service._terminated(signal.SIGTERM, None)
            assert events == []
            assert not self.reactor.stopped
            [(call, args)] = self.reactor.from_threads
            call(*args)
        assert [formatEvent(e) for e in events] == ["Received SIGTERM, shutting down."]
        assert self.reactor.stopped
        assert self.reactor._exitSignal == signal.SIGTERM

    def test_a_second_signal_while_stopping_is_harmless(self):
        import signal

        self.reactor.running = False
        from twisted.logger import capturedLogs

        with capturedLogs():
            self.service._stop_on(signal.SIGINT)
        assert not self.reactor.stopped
        assert self.reactor._exitSignal == signal.SIGINT


class CollectorTests(SynchronousTestCase):
    """Under twistd the collector is set for a server; elsewhere it is left."""

    def setUp(self):
        threshold = gc.get_threshold()
        self.addCleanup(gc.set_threshold, *threshold)
        self.addCleanup(gc.unfreeze)

    def start(self, **options):
        store = RecordingStore([])
        service = ChatService(store, Clock(), Limits(), [], **options)
        service.startService()
        store.started.callback(None)
        return service

    def test_a_tuned_server_freezes_what_exists_and_collects_less_often(self):
        gc.unfreeze()
        self.start(tune_collector=True)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == YOUNG_COLLECTION

    def test_by_default_the_collector_is_left_alone(self):
        gc.unfreeze()
        before = gc.get_threshold()
        self.start()
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == before
