"""Runs of an invite campaign, the models: states, counts and the API's view of a run, and the rules on counters
the planner and the sender share. Stored by `attract.invites.run_repository` (the item, its transitions and the
one-active-run lock are described there).
"""

from collections.abc import Mapping
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, Field

from attract.errors import ConflictError

RunState = Literal["planning", "sending", "done", "failed"]
Trigger = Literal["api", "schedule"]
PLANNER_REASONS = ("invalid_row", "invalid_email", "no_consent", "duplicate", "member", "suppressed", "cooldown",
                   "already_invited")
# Every job the sender takes ends in exactly one of these (skips counted under the planner's attribute names).
SENDER_OUTCOMES = ("sent", "failed", "duplicate", "reconcile", "skipped_suppressed", "skipped_cooldown")
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


class RunStatus(BaseModel):
    run_id: str
    status: RunState
    trigger: Trigger | None = None
    started_at: str | None = None
    counts: RunCounts


def counter_name(name: str) -> str:
    """The run item's attribute for a planner count: rows, planned, or skipped_<reason>."""
    return name if name in ("rows", "planned") else f"skipped_{name}"


def outcomes(run: Mapping) -> int:
    """Jobs the sender finished. skipped_suppressed/skipped_cooldown also hold the planner's own skips
    (recorded in its checkpoint), which were never jobs: those are taken out."""
    total = sum(int(run.get(name, 0)) for name in SENDER_OUTCOMES)
    planner = (run.get("checkpoint") or {}).get("counts") or {}
    return total - int(planner.get("suppressed", 0)) - int(planner.get("cooldown", 0))
