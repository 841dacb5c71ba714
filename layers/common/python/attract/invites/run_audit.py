"""Invite runs in the audit trail (attract.audit): a RunStore that records a run's start and its end.

Each entry is written by the call whose conditional write made the transition (start, planning -> done or
failed, sending -> done), and only when that write succeeded: a duplicate planner or sender, or a late one,
changes nothing and records nothing, so a run has one `invite_run.start` and one `invite_run.done` or
`invite_run.failed`, with its counts. A schedule's run is started by `system:scheduler`.
"""

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from attract.audit.trail import Actor, audit
from attract.invites.run_repository import RunRepository
from attract.invites.runs import RUN_LOCK_STALE_AFTER

SCHEDULER = Actor.system("scheduler")


def run_object(campaign_id: str, run_id: str) -> str:
    return f"{campaign_id}/{run_id}"


class AuditedRuns(RunRepository):
    """RunRepository whose transitions are each audited once.

    `actor` acts for starts through the API (the caller) and for the ends this process settles (the planner,
    the sender); `request` is what the entries' digest is taken of (the API request, or the queue message).
    """

    def __init__(self, table_name: str, actor: Actor, request: Any = None, dynamodb=None,
                 record: Callable[..., dict] = audit):
        super().__init__(table_name, dynamodb)
        self.actor, self.request, self._record = actor, request, record

    def start(self, campaign_id: str, run_id: str, trigger: str, now: datetime,
              stale_after: timedelta = RUN_LOCK_STALE_AFTER) -> bool:
        started = super().start(campaign_id, run_id, trigger, now, stale_after)
        if started:
            self._record("invite_run.start", "invite_run", run_object(campaign_id, run_id),
                         actor=SCHEDULER if trigger == "schedule" else self.actor, request=self.request,
                         details={"campaign_id": campaign_id, "trigger": trigger}, dynamodb=self._dynamodb)
        return started

    def fail(self, campaign_id: str, run_id: str, error: str, now: datetime) -> bool:
        failed = super().fail(campaign_id, run_id, error, now)
        if failed:
            self._ended("invite_run.failed", campaign_id, run_id)
        return failed

    def finish_planning(self, campaign_id: str, run_id: str, previous_rows: int, rows: int,
                        counts: Mapping[str, int], added: Mapping[str, int], now: datetime) -> bool:
        advanced = super().finish_planning(campaign_id, run_id, previous_rows, rows, counts, added, now)
        if advanced and counts.get("planned", 0) <= 0:  # nothing planned: the run is done here
            self._ended("invite_run.done", campaign_id, run_id)
        return advanced

    def settle(self, campaign_id: str, run_id: str, now: datetime) -> bool:
        settled = super().settle(campaign_id, run_id, now)
        if settled:
            self._ended("invite_run.done", campaign_id, run_id)
        return settled

    def _ended(self, action: str, campaign_id: str, run_id: str) -> None:
        item = self.get(campaign_id, run_id) or {}
        run = self.to_response(item) if item else None
        details: dict[str, Any] = {"campaign_id": campaign_id}
        if run is not None:
            details.update(status=run.status, trigger=run.trigger, counts=run.counts.model_dump(mode="json"))
            if item.get("error"):
                details["error"] = str(item["error"])  # a short code, never personal data
        self._record(action, "invite_run", run_object(campaign_id, run_id), actor=self.actor, request=self.request,
                     details=details, dynamodb=self._dynamodb)
