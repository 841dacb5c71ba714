"""Runs of an invite campaign, the models: states, counts and the API's view of a run, and the rules on counters
the planner and the sender share. Stored by `attract.invites.run_repository` (the item, its transitions and the
one-active-run lock are described there).
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from attract.clock import iso
from attract.errors import ConflictError

RunState = Literal["planning", "sending", "done", "failed"]
Trigger = Literal["api", "schedule"]
PLANNER_REASONS = ("invalid_row", "invalid_email", "no_consent", "duplicate", "member", "suppressed", "cooldown",
                   "already_invited")
# Every job the sender takes ends in exactly one of these (skips counted under the planner's attribute names).
SENDER_OUTCOMES = ("sent", "failed", "duplicate", "reconcile", "skipped_suppressed", "skipped_cooldown")
# The outcomes that finish a job for the run's progress, each stamped (first_outcome_at, last_outcome_at) in the
# update that counts it. Not `duplicate`: it is a job whose invitation was sent already (a redelivery, or the
# planner's second copy after a resume), counted when it was sent; counting it again would advance progress twice.
PROGRESS_OUTCOMES = ("sent", "failed", "reconcile", "skipped_suppressed", "skipped_cooldown")
FIRST_OUTCOME_AT, LAST_OUTCOME_AT = "first_outcome_at", "last_outcome_at"
ACTIVE_STATES = ("planning", "sending")
# Longer than any run should take (200,000 invitations at 10/s is 5.5 h); after it, a stuck run's lock is taken over.
RUN_LOCK_STALE_AFTER = timedelta(hours=24)
RUN_IN_PROGRESS = "run_in_progress"  # the error code of a scheduled run skipped because another was active
LOCK_ATTEMPTS = 3


class RunInProgressError(ConflictError):
    """Another run of the campaign is planning or sending: 409 naming it (`run_id`)."""

    def __init__(self, campaign_id: str, run_id: str):
        super().__init__(f"run {run_id} of invite campaign {campaign_id} is still in progress: follow it, or start "
                         "another once it is done", run_id=run_id)
        self.run_id = run_id


class RunCounts(BaseModel):
    rows: int = 0
    planned: int = 0
    sent: int = 0
    failed: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)


class RunProgress(BaseModel):
    done: int = Field(description="Planned invitations the sender has finished: sent, skipped at send time "
                                  "(suppressed, cooldown), failed, or held for reconciliation; each once, however "
                                  "often its message was delivered. Equals `total` once the run is done")
    total: int | None = Field(description="Invitations planned; null while the run is planning (the source is "
                                          "still being read, so the total is not known yet) or failed in planning")
    per_minute: float | None = Field(description="The measured rate: finished invitations per minute between the "
                                                 "run's first and last outcome; null before two outcomes at "
                                                 "different times")


class RunStatus(BaseModel):
    run_id: str
    status: RunState
    trigger: Trigger | None = None
    started_at: str | None = None
    counts: RunCounts
    progress: RunProgress
    estimated_done_at: str | None = Field(
        default=None, description="When the last planned invitation should be finished (UTC), projected from the "
                                  "last outcome at the measured rate, never earlier than now; null unless the run "
                                  "is sending with a measured rate (docs/decisions.md, \"Invite run progress\")")


def counter_name(name: str) -> str:
    """The run item's attribute for a planner count: rows, planned, or skipped_<reason>."""
    return name if name in ("rows", "planned") else f"skipped_{name}"


def outcomes(run: Mapping) -> int:
    """Jobs the sender finished. skipped_suppressed/skipped_cooldown also hold the planner's own skips
    (recorded in its checkpoint), which were never jobs: those are taken out."""
    return _sender_count(run, SENDER_OUTCOMES)


def _sender_count(run: Mapping, names: tuple[str, ...]) -> int:
    total = sum(int(run.get(name, 0)) for name in names)
    planner = (run.get("checkpoint") or {}).get("counts") or {}
    return total - int(planner.get("suppressed", 0)) - int(planner.get("cooldown", 0))


def progress(run: Mapping, now: datetime) -> tuple[RunProgress, str | None]:
    """The run's progress and its estimated finish (ISO UTC), from the run item alone (no write, no clock but `now`).

    done = the sender's progress outcomes (its skips without the planner's, which were never jobs), at most the
    total; total = `planned` once planning finished (status sending or done). With n outcomes stamped between
    first and last (n - 1 intervals), the rate is (n - 1) / (last - first) and the estimate
    last + (total - n) / rate, raised to `now` when sending fell behind it. None when the run is not sending,
    the total is unknown, or fewer than two outcomes (or none apart in time) give no rate.
    """
    status = run.get("status", "planning")
    finished = _sender_count(run, PROGRESS_OUTCOMES)
    total = int(run.get("planned", 0)) if status in ("sending", "done") else None
    # A done run is complete: settle saw an outcome for every planned job.
    done = finished if total is None else total if status == "done" else min(finished, total)
    first, last = _moment(run.get(FIRST_OUTCOME_AT)), _moment(run.get(LAST_OUTCOME_AT))
    seconds = (last - first).total_seconds() if first and last else 0.0
    measured = finished >= 2 and seconds > 0
    rate = (finished - 1) / seconds if measured else None  # outcomes per second
    estimate = None
    if status == "sending" and total is not None and rate is not None and last is not None:
        remaining = max(total - finished, 0)
        estimate = iso(max(last + timedelta(seconds=remaining / rate), now))
    per_minute = round(rate * 60, 1) if rate is not None else None
    return RunProgress(done=done, total=total, per_minute=per_minute), estimate


def _moment(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
