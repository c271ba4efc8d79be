"""ChatService: the store opens before any port listens and closes after
every connection has."""

import gc

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.frontends.menu import texts
from menuchat.service import YOUNG_COLLECTION, ChatService, make_hub
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
