"""Runs of an invite campaign: status, counters and the planner's checkpoint (docs/data-model.md, "Invitations").

Item: PK=INVITE_RUN#<campaign_id>, SK=RUN#<run_id>
  status planning|sending|done|failed, trigger api|schedule, started_at, planned_at, since, error (a code)
  counters (ADD): rows, planned, skipped_<reason> (planner); sent, failed, duplicate, reconcile,
                  skipped_suppressed, skipped_cooldown (sender; the last two shared with the planner's reasons)
  checkpoint: {rows, counts}: rows the planner consumed and its counts so far, written in the same update
              that ADDs them, so a resumed planner neither loses nor doubles a count.
  first_outcome_at, last_outcome_at: set by the sender in the update that counts a job's outcome (no write of
              its own), the rate of the run's progress (attract.invites.runs.progress).
Transitions: planning -> sending (something planned) | done (nothing planned) | failed; sending -> done by
`settle` once every planned job has an outcome. Each is a conditional write: a late or duplicate caller
changes nothing.

One active run per campaign: `start` creates the run and, in the same transaction, sets the
campaign item's `active_run_id`/`active_run_at`, on condition that no other run holds them. The run's move
to done or failed releases them (`release`, conditional on the run id). The lock is taken over when the run
it names is no longer planning/sending (its release was lost) or when it was taken more than
RUN_LOCK_STALE_AFTER ago (a run stuck for good must not block the campaign forever; the sender's claims
still stop a second email to anyone).
"""

from collections.abc import Mapping
from datetime import date, datetime, timedelta

from attract.aws import Repository, from_item, to_item
from attract.clock import iso, utc_now
from attract.errors import ConflictError, NotFoundError
from attract.invites.repository import campaign_key, run_id_of, run_key
from attract.invites.runs import (
    ACTIVE_STATES,
    LOCK_ATTEMPTS,
    RUN_IN_PROGRESS,
    RUN_LOCK_STALE_AFTER,
    RunCounts,
    RunInProgressError,
    RunStatus,
    counter_name,
    outcomes,
    progress,
)


class RunRepository(Repository):
    def start(self, campaign_id: str, run_id: str, trigger: str, now: datetime,
                        stale_after: timedelta = RUN_LOCK_STALE_AFTER) -> bool:
        """Create the run as `planning` and make it the campaign's active (and latest) run, in one transaction.

        False when the run exists already (a redelivered schedule; nothing written). RunInProgressError when
        another run of the campaign is planning or sending, NotFoundError when there is no campaign.
        """
        for _ in range(LOCK_ATTEMPTS):
            holder, taken_at = self._lock(campaign_id)
            condition = "attribute_exists(PK) AND (attribute_not_exists(active_run_id) OR active_run_id = :run"
            values = {":run": {"S": run_id}, ":at": {"S": iso(now)}}
            if holder is not None and holder != run_id:
                if self._blocks(campaign_id, holder, taken_at, now, stale_after):
                    raise RunInProgressError(campaign_id, holder)
                # Finished (its release was lost) or stale: take it over, unless it changed since we read it.
                condition += " OR active_run_id = :holder"
                values[":holder"] = {"S": holder}
            try:
                self.dynamodb.transact_write_items(TransactItems=[
                    {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(PK)", "Item": {
                        **run_key(campaign_id, run_id),
                        **to_item({"type": "invite_run", "status": "planning", "trigger": trigger,
                                   "started_at": iso(now)})}}},
                    {"Update": {"TableName": self.table, "Key": campaign_key(campaign_id),
                                "UpdateExpression": "SET active_run_id = :run, active_run_at = :at, "
                                                    "latest_run_id = :run",
                                "ConditionExpression": condition + ")", "ExpressionAttributeValues": values}}])
            except self.dynamodb.exceptions.TransactionCanceledException as error:
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                if reasons[:1] == ["ConditionalCheckFailed"]:
                    return False  # the run is there already
                continue  # the campaign's lock moved between our read and our write: look again
            return True
        raise ConflictError(f"runs of invite campaign {campaign_id} are being started concurrently; retry shortly")

    def _lock(self, campaign_id: str) -> tuple[str | None, str]:
        item = self.dynamodb.get_item(TableName=self.table, Key=campaign_key(campaign_id), ConsistentRead=True,
                                      ProjectionExpression="PK, active_run_id, active_run_at").get("Item")
        if item is None:
            raise NotFoundError(f"no invite campaign {campaign_id}")
        return (item["active_run_id"]["S"] if "active_run_id" in item else None,
                item["active_run_at"]["S"] if "active_run_at" in item else "")

    def active(self, campaign_id: str, now: datetime, stale_after: timedelta = RUN_LOCK_STALE_AFTER) -> str | None:
        """The run that holds the campaign as `start` sees it: planning or sending, and not stale (NotFoundError:
        no campaign). None when a new run may start."""
        holder, taken_at = self._lock(campaign_id)
        return holder if holder is not None and self._blocks(campaign_id, holder, taken_at, now, stale_after) else None

    def _blocks(self, campaign_id: str, holder: str, taken_at: str, now: datetime, stale_after: timedelta) -> bool:
        """Whether the lock's holder still blocks the campaign: taken within `stale_after`, and planning or sending."""
        if taken_at < iso(now - stale_after):
            return False
        held = self.get(campaign_id, holder)
        return held is not None and held.get("status") in ACTIVE_STATES

    def release(self, campaign_id: str, run_id: str) -> None:
        """The run finished: the campaign may start another. Nothing when another run holds the lock."""
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=campaign_key(campaign_id), UpdateExpression="REMOVE active_run_id, active_run_at",
                ConditionExpression="active_run_id = :run", ExpressionAttributeValues={":run": {"S": run_id}})
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            pass

    def record_skipped(self, campaign_id: str, run_id: str, trigger: str, active_run_id: str, now: datetime) -> None:
        """A run not started because `active_run_id` was in progress: kept as failed (`run_in_progress`), so the
        schedule's firing is visible. The campaign (its lock, latest run) is left alone."""
        try:
            self.dynamodb.put_item(TableName=self.table, ConditionExpression="attribute_not_exists(PK)", Item={
                **run_key(campaign_id, run_id),
                **to_item({"type": "invite_run", "status": "failed", "trigger": trigger, "started_at": iso(now),
                           "failed_at": iso(now), "error": RUN_IN_PROGRESS, "blocked_by": active_run_id})})
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            pass  # a redelivered schedule: recorded already

    def get(self, campaign_id: str, run_id: str) -> dict | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=run_key(campaign_id, run_id),
                                      ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def planned(self, campaign_id: str, start: date, end: date) -> int:
        """People planned by the campaign's runs started in [start, end] (UTC days): a funnel's `invited` step.
        One Query of the campaign's runs (a campaign runs at most once an hour), projected on two attributes."""
        first, last = run_key(campaign_id, ""), run_key(campaign_id, "\uffff")
        pages = self.dynamodb.get_paginator("query").paginate(
            TableName=self.table, KeyConditionExpression="PK = :pk AND SK BETWEEN :first AND :last",
            ProjectionExpression="started_at, planned",
            ExpressionAttributeValues={":pk": first["PK"], ":first": first["SK"], ":last": last["SK"]})
        total = 0
        for page in pages:
            for item in page["Items"]:
                run = from_item(item)
                started = str(run.get("started_at", ""))[:10]
                if started and start.isoformat() <= started <= end.isoformat():
                    total += int(run.get("planned", 0))
        return total

    def latest(self, campaign_id: str) -> dict | None:
        """The run the campaign names as its latest (set when a run's planning completes)."""
        campaign = self.dynamodb.get_item(
            TableName=self.table, Key=campaign_key(campaign_id), ProjectionExpression="latest_run_id").get("Item")
        if not campaign or "latest_run_id" not in campaign:
            return None
        return self.get(campaign_id, campaign["latest_run_id"]["S"])

    @staticmethod
    def to_response(item: Mapping, now: datetime | None = None) -> RunStatus:
        """The API's view of a run item; `now` (default: the clock) bounds the estimated finish from below."""
        done, estimate = progress(item, now or utc_now())
        skipped = {name.removeprefix("skipped_"): int(value) for name, value in item.items()
                   if name.startswith("skipped_") and int(value)}
        return RunStatus(run_id=run_id_of(str(item["SK"])), status=item.get("status", "planning"),
                         trigger=item.get("trigger"), started_at=item.get("started_at"),
                         counts=RunCounts(rows=int(item.get("rows", 0)), planned=int(item.get("planned", 0)),
                                          sent=int(item.get("sent", 0)), failed=int(item.get("failed", 0)),
                                          skipped=skipped),
                         progress=done, estimated_done_at=estimate)

    # ---------------------------------------------------------------- the planner's side

    def begin_planning(self, campaign_id: str, run_id: str, since: str | None, now: datetime) -> dict | None:
        """The run as planning sees it: its checkpoint, created empty (with `since`) the first time.

        A redelivered plan message finds the checkpoint and the `since` of the first attempt, so it resumes
        the same stream. None when the run is not (or no longer) planning.
        """
        values = {":planning": {"S": "planning"}, ":empty": {"M": {"rows": {"N": "0"}, "counts": {"M": {}}}},
                  ":at": {"S": iso(now)}}
        expression = "SET #cp = :empty, planning_started_at = :at"
        if since is not None:
            values[":since"] = {"S": since}
            expression += ", since = :since"
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=run_key(campaign_id, run_id), UpdateExpression=expression,
                ConditionExpression="#s = :planning AND attribute_not_exists(#cp)",
                ExpressionAttributeNames={"#s": "status", "#cp": "checkpoint"}, ExpressionAttributeValues=values)
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            pass
        run = self.get(campaign_id, run_id)
        return run if run and run.get("status") == "planning" and "checkpoint" in run else None

    def checkpoint(self, campaign_id: str, run_id: str, previous_rows: int, rows: int, counts: Mapping[str, int],
                   added: Mapping[str, int]) -> bool:
        """ADD the counts since the last checkpoint and record the new one, if nobody moved it meanwhile.

        False when another planner (a duplicate plan message) got there first, or the run left `planning`.
        """
        return self._advance(campaign_id, run_id, previous_rows, rows, counts, added, {})

    def finish_planning(self, campaign_id: str, run_id: str, previous_rows: int, rows: int,
                        counts: Mapping[str, int], added: Mapping[str, int], now: datetime) -> bool:
        """The last checkpoint, and planning -> sending (jobs enqueued) or -> done (none)."""
        status = "sending" if counts.get("planned", 0) > 0 else "done"
        advanced = self._advance(campaign_id, run_id, previous_rows, rows, counts, added,
                                 {"status": status, "planned_at": iso(now)})
        if advanced and status == "done":
            self.release(campaign_id, run_id)
        return advanced

    def _advance(self, campaign_id: str, run_id: str, previous_rows: int, rows: int, counts: Mapping[str, int],
                 added: Mapping[str, int], sets: dict) -> bool:
        names = {"#s": "status", "#cp": "checkpoint", "#rows": "rows"}
        values: dict = {":planning": {"S": "planning"}, ":previous": {"N": str(previous_rows)},
                        ":cp": {"M": {"rows": {"N": str(rows)},
                                      "counts": {"M": {k: {"N": str(v)} for k, v in counts.items() if v}}}}}
        assignments = ["#cp = :cp"]
        for index, (name, value) in enumerate(sets.items()):
            names[f"#set{index}"] = name
            values[f":set{index}"] = {"S": value}
            assignments.append(f"#set{index} = :set{index}")
        additions = []
        for index, (name, value) in enumerate(added.items()):
            if value:
                names[f"#add{index}"] = counter_name(name)
                values[f":add{index}"] = {"N": str(value)}
                additions.append(f"#add{index} :add{index}")
        expression = "SET " + ", ".join(assignments) + (" ADD " + ", ".join(additions) if additions else "")
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=run_key(campaign_id, run_id), UpdateExpression=expression,
                ConditionExpression="#s = :planning AND #cp.#rows = :previous",
                ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def rewind(self, campaign_id: str, run_id: str, previous_rows: int, counts: Mapping[str, int]) -> bool:
        """Back to an empty checkpoint, the counts it had ADDed taken out again: for a source whose order
        differs between two reads (a parallel Scan), which a resume must read from the start."""
        return self._advance(campaign_id, run_id, previous_rows, 0, {}, {name: -value for name, value in counts.items()},
                             {})

    def fail(self, campaign_id: str, run_id: str, error: str, now: datetime) -> bool:
        """planning -> failed with a short error code (never personal data)."""
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=run_key(campaign_id, run_id),
                UpdateExpression="SET #s = :failed, #e = :error, failed_at = :at", ConditionExpression="#s = :planning",
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues={":failed": {"S": "failed"}, ":error": {"S": error[:64]},
                                           ":planning": {"S": "planning"}, ":at": {"S": iso(now)}})
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        self.release(campaign_id, run_id)
        return True

    # ---------------------------------------------------------------- the sender's side

    def settle(self, campaign_id: str, run_id: str, now: datetime) -> bool:
        """sending -> done once every planned job has an outcome; True when this call made it done."""
        run = self.get(campaign_id, run_id)
        if not run or run.get("status") != "sending" or outcomes(run) < int(run.get("planned", 0)):
            return False
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=run_key(campaign_id, run_id),
                UpdateExpression="SET #s = :done, done_at = :at", ConditionExpression="#s = :sending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":done": {"S": "done"}, ":sending": {"S": "sending"},
                                           ":at": {"S": iso(now)}})
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        self.release(campaign_id, run_id)
        return True
