"""Retries go through one bounded helper (attract.retry): attempts, exponential backoff with full jitter, an
injected sleep. The batch reads of every repository use it; two of them used to loop forever, without a pause."""

import pytest

from attract.aws import batch_get, batch_write
from attract.retry import RetriesExhaustedError, backoff, drain, with_backoff


def test_drain_gives_up_after_n_attempts_and_sleeps_between_them():
    # Given a batch call that never finishes its work
    calls, sleeps = [], []

    def step(work):
        calls.append(work)
        return work

    # When it is drained with 5 attempts, Then it gives up with RetriesExhaustedError after the 5th call
    with pytest.raises(RetriesExhaustedError, match="still throttled"):
        drain(step, {"t": [1]}, attempts=5, base_s=0.1, cap_s=0.5, sleep=sleeps.append, jitter=lambda: 1.0,
              what="still throttled")
    # And it slept between the calls, never after the last: exponential, capped
    assert len(calls) == 5
    assert sleeps == [0.1, 0.2, 0.4, 0.5]


def test_drain_stops_as_soon_as_nothing_is_left():
    left = [{"t": [2]}, {"t": [3]}, {}]
    sleeps = []
    drain(lambda work: left.pop(0), {"t": [1, 2, 3]}, attempts=8, base_s=0.05, cap_s=2.0, sleep=sleeps.append)
    assert left == [] and len(sleeps) == 2


def test_the_jitter_is_full_a_random_share_of_the_capped_delay():
    assert backoff(3, 0.05, 2.0, jitter=lambda: 0.5) == pytest.approx(0.2)
    assert backoff(10, 0.05, 2.0, jitter=lambda: 0.5) == pytest.approx(1.0)  # capped at 2.0, then halved
    assert all(0 <= backoff(4, 0.05, 2.0) <= 0.8 for _ in range(100))


def test_with_backoff_retries_only_what_it_is_told_and_raises_the_last():
    attempts, sleeps = [], []

    def flaky():
        attempts.append(1)
        raise TimeoutError("again")

    with pytest.raises(TimeoutError):
        with_backoff(flaky, retry_on=TimeoutError, attempts=3, base_s=1, cap_s=10, sleep=sleeps.append)
    assert len(attempts) == 3 and len(sleeps) == 2
    with pytest.raises(KeyError):  # not retried
        with_backoff(lambda: {}["x"], retry_on=TimeoutError, attempts=3, base_s=1, cap_s=10, sleep=sleeps.append)
    assert len(sleeps) == 2


class AlwaysThrottled:
    """A DynamoDB client that never processes anything; it stops the test (instead of hanging) after 50 calls."""

    def __init__(self):
        self.calls = 0

    def _call(self):
        self.calls += 1
        if self.calls > 50:
            raise AssertionError("an unbounded retry loop")

    def batch_get_item(self, RequestItems):
        self._call()
        return {"Responses": {}, "UnprocessedKeys": RequestItems}

    def batch_write_item(self, RequestItems):
        self._call()
        return {"UnprocessedItems": RequestItems}


def test_batch_reads_and_writes_are_bounded():
    for call in (lambda db, sleep: batch_get(db, "t", [{"PK": {"S": "x"}}], attempts=4, sleep=sleep),
                 lambda db, sleep: batch_write(db, "t", [{"PutRequest": {"Item": {}}}], attempts=4, sleep=sleep)):
        dynamodb, sleeps = AlwaysThrottled(), []
        with pytest.raises(RetriesExhaustedError):
            call(dynamodb, sleeps.append)
        assert dynamodb.calls == 4 and len(sleeps) == 3


def test_every_repository_batch_read_is_bounded(monkeypatch):
    # The aggregates' and the spend registry's BatchGetItem loops had no bound and no pause: against a
    # DynamoDB that keeps everything unprocessed they spun forever. Now they stop, through the helper.
    from datetime import date

    from attract import retry
    from attract.attribution.repository import AggregateRepository, bucket_key
    from attract.campaigns.spend_repository import SpendRepository
    from attract.invites.planning_repository import PlanningLookups

    monkeypatch.setattr(retry.time, "sleep", lambda seconds: None)  # the helper's default sleep, looked up per call
    for read in (lambda db: AggregateRepository("t", db)._batch_get([bucket_key("channel", date(2026, 1, 1), 0)],
                                                                     "PK, SK", {}),
                 lambda db: SpendRepository("t", db).platform_campaigns("meta", ["1", "2"]),
                 lambda db: PlanningLookups("t", db, sleep=lambda s: None).reasons("c", ["a"], None, 30)):
        dynamodb = AlwaysThrottled()
        with pytest.raises(RetriesExhaustedError):
            read(dynamodb)
        assert dynamodb.calls == 8
