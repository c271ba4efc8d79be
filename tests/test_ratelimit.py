"""The token bucket on an injected clock."""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from menuchat.net.ratelimit import LineRate, TokenBucket


class TokenBucketTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()

    def bucket(self, rate, burst):
        return TokenBucket(LineRate(rate, burst, self.clock))

    def test_a_burst_at_once_then_the_wait_for_one_token(self):
        bucket = self.bucket(rate=2.0, burst=3)
        assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
        assert bucket.take() == 0.5

    def test_the_wait_shrinks_as_time_passes(self):
        bucket = self.bucket(rate=4.0, burst=1)
        bucket.take()
        self.clock.advance(0.125)
        assert bucket.take() == 0.125
        self.clock.advance(0.125)
        assert bucket.take() == 0.0

    def test_refills_at_the_rate_and_no_further_than_the_burst(self):
        bucket = self.bucket(rate=1.0, burst=2)
        bucket.take()
        bucket.take()
        self.clock.advance(3600)
        assert [bucket.take() for _ in range(2)] == [0.0, 0.0]
        assert bucket.take() == 1.0

    def test_a_refused_take_spends_nothing(self):
        bucket = self.bucket(rate=1.0, burst=1)
        bucket.take()
        self.clock.advance(0.5)
        assert bucket.take() == 0.5
        assert bucket.take() == 0.5
        self.clock.advance(0.5)
        assert bucket.take() == 0.0

    def test_a_refill_a_hair_below_one_token_counts_as_one(self):
        bucket = self.bucket(rate=10.0, burst=1)
        bucket.take()
        self.clock.advance(0.1 - 1e-13)  # 0.9999999999990 tokens: rounding
        assert bucket.take() == 0.0

    def test_a_refill_clearly_below_one_token_does_not(self):
        bucket = self.bucket(rate=10.0, burst=1)
        bucket.take()
        self.clock.advance(0.1 - 1e-6)
        assert 0 < bucket.take() < 1e-6

    def test_the_rounding_allowance_includes_its_own_edge(self):
        bucket = self.bucket(rate=1.0, burst=1)
        bucket.take()
        self.clock.advance(1.0 - 1e-9)  # exactly the allowance short of a token
        assert bucket.take() == 0.0
