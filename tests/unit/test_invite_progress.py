"""A run's progress and estimated finish (attract.invites.runs.progress), from run items written by hand and a
fixed clock. Every expectation is worked out in the comment above it."""

from datetime import datetime, timezone

import pytest

from attract.invites.run_repository import RunRepository
from attract.invites.runs import progress

NOW = datetime(2026, 12, 4, 10, 0, 45, tzinfo=timezone.utc)


def _run(**values) -> dict:
    return {"PK": "INVITE_RUN#alumni", "SK": "RUN#r-1", **values}


def test_a_sending_run_projects_its_finish_from_the_measured_rate():
    # 40 sent + 1 failed + 1 reconcile + 2 skipped at send time = 44 finished (the 3 duplicates were counted when
    # sent); 44 outcomes over 43 s = 43 intervals: 1 per second. 100 - 44 = 56 left: 10:00:43 + 56 s = 10:01:39.
    run = _run(status="sending", planned=100, sent=40, failed=1, reconcile=1, skipped_cooldown=2, duplicate=3,
               first_outcome_at="2026-12-04T10:00:00.000Z", last_outcome_at="2026-12-04T10:00:43.000Z")
    done, estimate = progress(run, NOW)
    assert done.model_dump() == {"done": 44, "total": 100, "per_minute": 60.0}
    assert estimate == "2026-12-04T10:01:39.000Z"


def test_an_estimate_sending_has_fallen_behind_is_now():
    # The same run read at 10:02:00: the projection (10:01:39) is past, the jobs are still to come
    run = _run(status="sending", planned=100, sent=44,
               first_outcome_at="2026-12-04T10:00:00.000Z", last_outcome_at="2026-12-04T10:00:43.000Z")
    assert progress(run, datetime(2026, 12, 4, 10, 2, tzinfo=timezone.utc))[1] == "2026-12-04T10:02:00.000Z"


def test_the_planners_own_skips_are_not_jobs_and_the_total_is_unknown_while_planning():
    # skipped_suppressed 5 holds the planner's 3 (its checkpoint) and 2 of the sender's: 10 sent + 2 = 12 finished.
    # 12 outcomes over 5.5 s: 11 intervals, 2 per second = 120 a minute; no total yet, so no estimate.
    run = _run(status="planning", planned=30, sent=10, skipped_suppressed=5,
               checkpoint={"rows": 1000, "counts": {"planned": 30, "suppressed": 3}},
               first_outcome_at="2026-12-04T10:00:00.000Z", last_outcome_at="2026-12-04T10:00:05.500Z")
    done, estimate = progress(run, NOW)
    assert done.model_dump() == {"done": 12, "total": None, "per_minute": 120.0}
    assert estimate is None


@pytest.mark.parametrize("stamps", [
    {},  # nothing sent yet
    {"first_outcome_at": "2026-12-04T10:00:00.000Z", "last_outcome_at": "2026-12-04T10:00:00.000Z"},  # no time apart
])
def test_no_rate_no_estimate(stamps):
    run = _run(status="sending", planned=3, sent=2 if stamps else 0, **stamps)
    done, estimate = progress(run, NOW)
    assert done.model_dump() == {"done": 2 if stamps else 0, "total": 3, "per_minute": None}
    assert estimate is None


def test_one_outcome_gives_no_rate():
    run = _run(status="sending", planned=3, sent=1, first_outcome_at="2026-12-04T10:00:00.000Z",
               last_outcome_at="2026-12-04T10:00:00.000Z")
    assert progress(run, NOW) == progress(_run(status="sending", planned=3, sent=1), NOW)
    assert progress(run, NOW)[0].per_minute is None and progress(run, NOW)[1] is None


def test_a_done_run_is_complete_and_keeps_its_measured_rate():
    # 5 planned: 4 counted sent and one whose sent count was lost (its redelivery counted a duplicate, which is
    # how settle saw every outcome). Done is done: 5 of 5, no estimate. 4 outcomes over 6 s: 3 / 6 s = 30 a minute.
    run = _run(status="done", planned=5, sent=4, duplicate=1, first_outcome_at="2026-12-04T10:00:00.000Z",
               last_outcome_at="2026-12-04T10:00:06.000Z")
    done, estimate = progress(run, NOW)
    assert done.model_dump() == {"done": 5, "total": 5, "per_minute": 30.0}
    assert estimate is None


def test_done_never_exceeds_the_total():
    # 2 sent + 2 reconcile (a message of a crashed job delivered twice) = 4 outcomes for 3 planned jobs
    run = _run(status="sending", planned=3, sent=2, reconcile=2, first_outcome_at="2026-12-04T10:00:00.000Z",
               last_outcome_at="2026-12-04T10:00:03.000Z")
    done, estimate = progress(run, NOW)
    assert (done.done, done.total) == (3, 3)
    assert estimate == "2026-12-04T10:00:45.000Z"  # nothing left: 10:00:03 + 0 s, raised to now


@pytest.mark.parametrize("status", ["failed", "planning"])
def test_a_run_without_a_known_total_has_no_estimate(status):
    run = _run(status=status, planned=7, sent=4, first_outcome_at="2026-12-04T10:00:00.000Z",
               last_outcome_at="2026-12-04T10:00:03.000Z")
    done, estimate = progress(run, NOW)
    assert done.model_dump() == {"done": 4, "total": None, "per_minute": 60.0}
    assert estimate is None


def test_the_api_response_carries_progress_and_estimate():
    run = _run(status="sending", trigger="api", started_at="2026-12-04T09:59:00.000Z", rows=12, planned=10, sent=3,
               first_outcome_at="2026-12-04T10:00:40.000Z", last_outcome_at="2026-12-04T10:00:41.000Z")
    # 3 outcomes over 1 s: 2 per second; 7 left: 10:00:41 + 3.5 s = 10:00:44.5, raised to now (10:00:45)
    answer = RunRepository.to_response(run, NOW).model_dump()
    assert answer["progress"] == {"done": 3, "total": 10, "per_minute": 120.0}
    assert answer["estimated_done_at"] == "2026-12-04T10:00:45.000Z"
    later = RunRepository.to_response({**run, "planned": 20}, NOW).model_dump()
    # 17 left: 10:00:41 + 8.5 s = 10:00:49.5
    assert later["estimated_done_at"] == "2026-12-04T10:00:49.500Z"
