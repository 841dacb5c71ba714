"""Planning a run: the campaign's source, screened, into the invites queue (docs/decisions.md, "Invitation planner").

Rows stream through: nothing but screen()'s 8-byte digests per unique address (a DigestSet) is kept. Candidates are
looked up 25 at a time (one BatchGetItem: member, suppressed, cooldown, already_invited) and the eligible
ones sent to SQS 10 at a time. Every `checkpoint_every` rows, once everything before is enqueued, the run
item gets the rows consumed and the counts (one conditional update). A redelivered plan message resumes:
the same stream (the source's order is deterministic: SQL ORDER BY updated_at, key; files in file order;
DynamoDB Query by sort key) is read again, its first `checkpoint.rows` rows only rebuild screen()'s
duplicate digests, and what follows is enqueued again from there. Jobs enqueued between the last
checkpoint and the crash are enqueued twice: the sender's claim sends each person once. A parallel
Scan has no stable order: its run is rewound and read from the start.
"""

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from attract.clock import iso_micro
from attract.invites.campaigns import too_frequent
from attract.invites.models import CampaignId, InvitationJob, InviteTemplates, Recipient
from attract.invites.ports import CandidateSource, JobQueue, Lookups, RunStore
from attract.invites.runs import RUN_IN_PROGRESS, RunInProgressError
from attract.invites.screening import as_datetime, screen
from attract.invites.source_rules import SourcePolicy, check_source, classify
from attract.invites.sources import Candidate, InvalidRow, Row, Skip
from attract.schedules import UnsupportedScheduleError

CHECKPOINT_EVERY = 1_000
LOOKUP_BATCH = 25
QUEUE_BATCH = 10
SCHEDULE_TOO_FREQUENT = "schedule_too_frequent"
PlanOutcome = Literal["planned", "not_planning", "superseded", "failed"]


class PlanRequest(BaseModel):
    """A plan queue message: from the API (with the run it created) or from EventBridge Scheduler."""

    model_config = ConfigDict(extra="ignore")

    campaign_id: CampaignId
    run_id: CampaignId | None = None
    scheduled_at: datetime | None = None

    @model_validator(mode="after")
    def _run_or_schedule(self) -> "PlanRequest":
        if (self.run_id is None) == (self.scheduled_at is None):
            raise ValueError("exactly one of run_id and scheduled_at")
        return self

    @property
    def trigger(self) -> str:
        return "api" if self.run_id else "schedule"

    def run(self) -> str:
        """The run id; a schedule's is its scheduled time, so a redelivered schedule is the same run."""
        if self.run_id:
            return self.run_id
        assert self.scheduled_at is not None
        moment = self.scheduled_at if self.scheduled_at.tzinfo else self.scheduled_at.replace(tzinfo=timezone.utc)
        return "s-" + moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


class Campaign(Protocol):
    """What planning reads of an InviteCampaign (attract.invites.campaigns)."""

    id: str
    name: str
    link_code: str
    subject: str
    text: str
    html: str | None
    watermark: datetime | None

    @property
    def source(self) -> Any: ...
    @property
    def mapping(self) -> Any: ...
    @property
    def sender(self) -> Any: ...
    @property
    def schedule(self) -> Any: ...


class Watermarks(Protocol):
    def complete_planning(self, campaign_id: str, run_id: str, watermark: datetime | None) -> None: ...


class PlanningError(Exception):
    """Planning failed for good: the run is marked failed with `code`, the message is not retried."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass
class _Tracked:
    """The source's rows, passed on unchanged, noting the latest updated_at (the next run's watermark)."""

    rows: Iterable[Row | InvalidRow]
    latest: datetime | None = None

    def __iter__(self) -> Iterator[Row | InvalidRow]:
        for row in self.rows:
            if not isinstance(row, InvalidRow):
                try:
                    moment = as_datetime(row.get("updated_at"))
                except (TypeError, ValueError, OverflowError):
                    moment = None
                if moment is not None and (self.latest is None or moment > self.latest):
                    self.latest = moment
            yield row


@dataclass
class _Pipeline:
    campaign: Campaign
    run_id: str
    lookups: Lookups
    queue: JobQueue
    hasher: Callable[[str], str]
    now: datetime
    cooldown_days: int
    added: Counter[str] = field(default_factory=Counter)  # since the last checkpoint
    candidates: list[Candidate] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)

    def candidate(self, candidate: Candidate) -> None:
        self.candidates.append(candidate)
        if len(self.candidates) >= LOOKUP_BATCH:
            self._look_up()

    def flush(self) -> None:
        self._look_up()
        self._send(everything=True)

    def _look_up(self) -> None:
        if not self.candidates:
            return
        hashes = [self.hasher(candidate.email) for candidate in self.candidates]
        reasons = self.lookups.reasons(self.campaign.id, hashes, self.now, self.cooldown_days)
        for candidate, digest in zip(self.candidates, hashes, strict=True):
            reason = reasons.get(digest)
            if reason:
                self.added[reason] += 1
            else:
                self.jobs.append(self._job(candidate).model_dump_json(by_alias=True))
        self.candidates.clear()
        self._send(everything=False)

    def _send(self, everything: bool) -> None:
        while self.jobs and (everything or len(self.jobs) >= QUEUE_BATCH):
            batch, self.jobs = self.jobs[:QUEUE_BATCH], self.jobs[QUEUE_BATCH:]
            self.queue.send(batch)
            self.added["planned"] += len(batch)  # counted once SQS accepted them

    def _job(self, candidate: Candidate) -> InvitationJob:
        campaign = self.campaign
        return InvitationJob(
            campaign_id=campaign.id, campaign_name=campaign.name, run_id=self.run_id, link_code=campaign.link_code,
            recipient=Recipient(email=candidate.email, first_name=candidate.first_name or "",
                                last_name=candidate.last_name or "", location=candidate.location or "",
                                skills=", ".join(candidate.skills)[:1000]),
            templates=InviteTemplates(subject=campaign.subject, text=campaign.text, html=campaign.html),
            sender=campaign.sender)


def plan(campaign: Campaign, run_id: str, source: CandidateSource, *, runs: RunStore, campaigns: Watermarks,
         lookups: Lookups, queue: JobQueue, hasher: Callable[[str], str], now: datetime, cooldown_days: int,
         checkpoint_every: int = CHECKPOINT_EVERY) -> PlanOutcome:
    """Plan (or resume planning) run `run_id` of `campaign` from `source`; the run must exist.

    Returns "not_planning" for a run already sending, done or failed (never replanned) and "superseded"
    when a concurrent planner of the same run moved the checkpoint first. Source errors propagate.
    """
    incremental = campaign.mapping.updated_at is not None  # without updated_at every run reads everything
    since_first = iso_micro(campaign.watermark) if incremental and campaign.watermark else None
    run = runs.begin_planning(campaign.id, run_id, since_first, now)
    if run is None:
        return "not_planning"
    since_text = run.get("since")
    since = as_datetime(since_text) if since_text else None
    resume = int(run["checkpoint"]["rows"])
    counts: Counter[str] = Counter({name: int(value) for name, value in run["checkpoint"]["counts"].items()})
    if resume and not reads_in_order(campaign.source):
        # Skipping the first N rows of another order would skip people never planned: start over instead
        # (the jobs enqueued already are enqueued again; the sender's claims send each person once).
        if not runs.rewind(campaign.id, run_id, resume, counts):
            return "superseded"
        resume, counts = 0, Counter()
    pipeline = _Pipeline(campaign, run_id, lookups, queue, hasher, now, cooldown_days)
    rows = _Tracked(source.rows(since))
    previous = number = resume
    for number, screened in enumerate(screen(rows), start=1):
        if number <= resume:
            continue  # consumed before the checkpoint: only screen()'s duplicate digests are rebuilt
        pipeline.added["rows"] += 1
        if isinstance(screened, Skip):
            pipeline.added[screened.reason] += 1
        else:
            pipeline.candidate(screened)
        if number % checkpoint_every == 0:
            pipeline.flush()
            counts.update(pipeline.added)
            if not runs.checkpoint(campaign.id, run_id, previous, number, counts, pipeline.added):
                return "superseded"
            pipeline.added.clear()
            previous = number
    # The stream is drained: the SQL sources have compared the rows read with their COUNT by now.
    pipeline.flush()
    counts.update(pipeline.added)
    if rows.latest is not None:
        watermark: datetime | None = rows.latest
    elif not incremental:
        watermark = now
    else:
        watermark = since  # nothing new: the watermark stays
    campaigns.complete_planning(campaign.id, run_id, watermark)
    if not runs.finish_planning(campaign.id, run_id, previous, number, counts, pipeline.added, now):
        return "superseded"
    runs.settle(campaign.id, run_id, now)  # the sender may have finished every job already
    return "planned"


def reads_in_order(spec: Any) -> bool:
    """Whether two reads of the source stream the same rows in the same order (what skipping a checkpoint's
    rows relies on): SQL (ORDER BY updated_at, key), files, and DynamoDB Queries do; a parallel Scan does not."""
    return not (spec.kind == "dynamodb" and spec.key is None and spec.segments > 1)


def error_code(error: BaseException) -> tuple[str, bool]:
    """(short code for the run item, permanent?) of a planning failure. Permanent ones are not retried.

    A source's failure is read by `attract.invites.source_rules.classify`, as the API reads it for a preview;
    anything else (throttling, a bug) is `planning_failed`, retried."""
    if isinstance(error, PlanningError):
        return error.code, True
    failure = classify(error)
    return (failure.code, failure.permanent) if failure else ("planning_failed", False)


def parse_request(body: str) -> PlanRequest:
    return PlanRequest.model_validate(json.loads(body))


class PlanSummary(BaseModel):
    """What the handler logs: identifiers and an outcome, never personal data."""

    campaign_id: str
    run_id: str
    outcome: str
    error: str | None = Field(default=None)


class Campaigns(Watermarks, Protocol):
    def get(self, campaign_id: str) -> Any: ...


def execute(request: PlanRequest, *, campaigns: Campaigns, runs: RunStore,
            open_source: Callable[[Any], CandidateSource], lookups: Lookups, queue: JobQueue,
            hasher: Callable[[str], str], now: datetime, cooldown_days: int, last_attempt: bool,
            policy: SourcePolicy, checkpoint_every: int = CHECKPOINT_EVERY) -> PlanSummary:
    """One plan message: the run (created here for a schedule), planned or resumed; failures recorded.

    A schedule firing while another run of the campaign is planning or sending starts nothing: its run is
    recorded as failed with error `run_in_progress` (outcome "skipped"); the next firing tries again. A firing
    of a schedule that fires more than once an hour (stored before the API refused such schedules) starts
    nothing either and writes nothing: outcome "skipped", error `schedule_too_frequent`, in the log.

    The campaign's source is checked against `policy` before it is opened (a campaign stored before the rule
    is refused as a new one is): the run fails with `source_not_allowed`, nothing is read.

    A permanent failure, or any failure on the message's last receive, marks the run failed and returns
    (the message is done with); a transient one raises, so SQS delivers the message again.
    """
    run_id = request.run()
    summary = PlanSummary(campaign_id=request.campaign_id, run_id=run_id, outcome="planned")
    campaign = campaigns.get(request.campaign_id)
    if campaign is None:  # deleted since: a schedule left behind, or an API race
        if request.run_id is not None:
            runs.fail(request.campaign_id, run_id, "campaign_not_found", now)
        return summary.model_copy(update={"outcome": "failed", "error": "campaign_not_found"})
    if request.run_id is None and fires_too_often(campaign.schedule, now):
        return summary.model_copy(update={"outcome": "skipped", "error": SCHEDULE_TOO_FREQUENT})
    if request.run_id is None:
        try:  # False for a redelivered schedule: the same run, planned (or resumed) below
            runs.start(campaign.id, run_id, request.trigger, now)
        except RunInProgressError as busy:  # one run at a time: this firing is recorded as skipped
            runs.record_skipped(campaign.id, run_id, request.trigger, busy.run_id, now)
            return summary.model_copy(update={"outcome": "skipped", "error": RUN_IN_PROGRESS})
    try:
        check_source(campaign.source, policy)
        source = open_source(campaign)
        outcome = plan(campaign, run_id, source, runs=runs, campaigns=campaigns, lookups=lookups, queue=queue,
                       hasher=hasher, now=now, cooldown_days=cooldown_days, checkpoint_every=checkpoint_every)
    except Exception as error:
        code, permanent = error_code(error)
        if not (permanent or last_attempt):
            raise
        runs.fail(campaign.id, run_id, code, now)
        return summary.model_copy(update={"outcome": "failed", "error": code})
    return summary.model_copy(update={"outcome": outcome})


def fires_too_often(schedule: Any, now: datetime) -> bool:
    """Whether the campaign's schedule fires more than once an hour (or cannot be read): the API refuses such
    schedules; one stored before the rule is not run."""
    if schedule is None:
        return False
    try:
        return too_frequent(schedule, now) is not None
    except UnsupportedScheduleError:
        return True
