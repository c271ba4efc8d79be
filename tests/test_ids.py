"""User ids from blocks the store reserves (core/ids.py)."""

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.ids import IdBlocks
from tests.support import resolved


class Reservations:
    """A store's id reservations, answered when the test says."""

    def __init__(self):
        self.asked = []

    def reserve_ids(self, count):
        d = Deferred()
        self.asked.append((count, d))
        return d

    def answer(self, n, ids):
        self.asked[n][1].callback(ids)


class IdBlocksTests(SynchronousTestCase):
    def setUp(self):
        self.store = Reservations()
        self.ids = IdBlocks(self.store, 2)

    def test_nothing_is_reserved_before_an_id_is_asked_for(self):
        assert self.ids.take() is None
        assert self.store.asked == []

    def test_ids_wait_for_one_reservation_of_a_block(self):
        first, second = self.ids.next(), self.ids.next()
        assert [count for count, _ in self.store.asked] == [2]
        assert not first.called and not second.called
        self.store.answer(0, range(10, 12))
        assert [resolved(first), resolved(second)] == [10, 11]

    def test_the_rest_of_a_block_is_handed_out_at_once(self):
        self.ids.next()
        self.store.answer(0, range(10, 13))
        assert resolved(self.ids.next()) == 11
        assert self.ids.take() == 12
        assert self.ids.take() is None  # empty: take() never reserves
        assert len(self.store.asked) == 1

    def test_more_waiting_than_a_block_holds_reserves_again(self):
        waiting = [self.ids.next() for _ in range(3)]
        self.store.answer(0, range(10, 12))
        assert [count for count, _ in self.store.asked] == [2, 2]
        assert not waiting[2].called
        self.store.answer(1, range(20, 22))
        assert [resolved(d) for d in waiting] == [10, 11, 20]
        assert self.ids.take() == 21

    def test_a_failed_reservation_fails_every_waiting_id(self):
        waiting = [self.ids.next(), self.ids.next()]
        self.store.asked[0][1].errback(RuntimeError("store down"))
        for d in waiting:
            with self.assertRaises(RuntimeError):
                resolved(d)
        again = self.ids.next()
        assert len(self.store.asked) == 2  # asked anew, not stuck
        self.store.answer(1, range(5, 7))
        assert resolved(again) == 5

    def test_a_failed_second_reservation_fails_only_those_left(self):
        waiting = [self.ids.next() for _ in range(3)]
        self.store.answer(0, range(10, 12))
        self.store.asked[1][1].errback(RuntimeError("store down"))
        assert [resolved(d) for d in waiting[:2]] == [10, 11]
        with self.assertRaises(RuntimeError):
            resolved(waiting[2])
