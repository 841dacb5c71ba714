"""What the invite-campaign API does: create, preview, start a run, schedule. HTTP-free; adapters passed in."""

import itertools
import json
import uuid
from collections import Counter
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from aws_lambda_powertools.utilities.idempotency import (
    IdempotencyConfig,
)
from pydantic import BaseModel, ConfigDict, Field

from attract.errors import AttractError, ConflictError, InvalidRequestError, NotFoundError, UpstreamError
from attract.idempotency import once_per_command
from attract.invites.campaign_repository import CampaignRepository
from attract.invites.campaigns import (
    CampaignPreview,
    CampaignSchedule,
    InviteCampaign,
    InviteCampaignChanges,
    InviteCampaignRequest,
    PreviewMessage,
    RunStarted,
    StoredSchedule,
    schedule_name,
    too_frequent,
)
from attract.invites.messages import compose
from attract.invites.ports import CandidateSource, PlanQueue, RunStore, Schedules, SourceNotAllowedError
from attract.invites.runs import RunInProgressError, RunStatus
from attract.invites.screening import screen
from attract.invites.source_rules import SourcePolicy, check_source, classify, unavailable
from attract.invites.sources import Candidate
from attract.links.logic import CreateLinkCommand, LinkStore, create_link, tracked_url
from attract.links.models import CreateLinkRequest
from attract.schedules import UnsupportedScheduleError

PREVIEW_MESSAGES = 3
PREVIEW_MAX_ROWS = 1_000  # a source of skips only still answers quickly
SQL_KINDS = frozenset({"postgresql", "mysql", "sqlite"})
PREVIEW_TOKEN = "PREVIEW"  # stands in for the signed per-person tokens, which a preview never makes
# How long an Idempotency-Key of POST /invite-campaigns/{id}/runs is remembered (the usual 24 h of such keys).
RUN_IDEMPOTENCY_SECONDS = 24 * 3600


class CampaignResponse(InviteCampaign):
    """A campaign as the API shows it: the stored campaign (without its creator) and its latest run."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    created_by: str = Field("", exclude=True)
    link_url: str = Field(description="The campaign's tracked link: every invitation's personal link goes through it")
    latest_run: RunStatus | None = None


def campaign_response(campaign: InviteCampaign, latest_run: RunStatus | None, base_url: str) -> CampaignResponse:
    return CampaignResponse.model_validate({**campaign.model_dump(by_alias=True),
                                            "link_url": tracked_url(base_url, campaign.link_code),
                                            "latest_run": latest_run})


class CreateCampaignCommand(BaseModel):
    """What makes two create requests "the same" for idempotency: who asked, and for what."""

    owner: str
    request: InviteCampaignRequest


def new_campaign_id() -> str:
    return uuid.uuid4().hex[:20]


def new_run_id() -> str:
    return f"r-{uuid.uuid4().hex[:20]}"


def check_request(request: InviteCampaignRequest, policy: SourcePolicy, now: datetime) -> None:
    """The rules a create request is checked against before anything is written: the source the campaign may
    read, and a schedule firing at most once an hour. 422 naming the field and the rule."""
    check_campaign_source(request.source, policy)
    if request.schedule is not None:
        check_schedule(request.schedule, "schedule.expression", now)


def check_campaign_source(spec: Any, policy: SourcePolicy) -> None:
    """422 naming the field and the rule unless the campaign may read `spec` (attract.invites.source_rules):
    no I/O, so the answer is the same whether the bucket, table or secret exists or not."""
    try:
        check_source(spec, policy)
    except SourceNotAllowedError as error:
        raise InvalidRequestError(error.field, error.rule, error.message, location="body") from None


def check_schedule(schedule: CampaignSchedule, field: str, now: datetime) -> None:
    """422 on `field` for a schedule that fires more than once an hour (`rate`, `cron` and `at` alike:
    attract.invites.campaigns.too_frequent), or whose firings cannot be computed."""
    try:
        interval = too_frequent(schedule, now)
    except UnsupportedScheduleError as error:
        raise InvalidRequestError(field, "schedule_unsupported", f"the firings of this expression cannot be "
                                  f"checked: {error.detail}", location="body") from None
    if interval is not None:
        minutes = int(interval.total_seconds() // 60)
        raise InvalidRequestError(field, "schedule_too_frequent", "an invite campaign runs at most once an hour: "
                                  f"this schedule fires {minutes} minute{'s' if minutes != 1 else ''} apart",
                                  location="body")


def create_campaign(command: CreateCampaignCommand, campaigns: CampaignRepository, links: LinkStore,
                    now: datetime) -> InviteCampaign:
    """The campaign and its tracked link (channel email, source invitation, medium email). No schedule yet:
    the caller creates it in EventBridge Scheduler first, then records it (`put_schedule`).

    The link comes first (the campaign names its code); when the campaign cannot be stored, the link is
    deleted again, so a refused or failed create leaves no link behind."""
    request = command.request
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # what the item keeps (attract.clock.iso)
    link = create_link(CreateLinkCommand(owner=command.owner, request=CreateLinkRequest(
        destination=request.destination, campaign=request.name, channel="email",  # type: ignore[arg-type]
        source="invitation", medium="email")), links, now)
    campaign = InviteCampaign.model_validate({
        **request.model_dump(by_alias=True, exclude={"schedule"}), "id": new_campaign_id(), "link_code": link.code,
        "created_at": now, "created_by": command.owner})
    try:
        campaigns.create(campaign)
    except Exception:
        links.delete(link.code)
        raise
    return campaign


class IdempotentCreateCampaign(Protocol):
    config: IdempotencyConfig

    def __call__(self, *, command: CreateCampaignCommand, campaigns: CampaignRepository, links: LinkStore,
                 now: datetime) -> InviteCampaign: ...


@lru_cache(maxsize=4)
def idempotent_create_campaign(idempotency_table: str, expires_after_seconds: int) -> IdempotentCreateCampaign:
    """`create_campaign` once per (owner, request) within the window: a retry gets the same campaign and link."""
    def create_campaign_once(*, command: CreateCampaignCommand, campaigns: CampaignRepository, links: LinkStore,
                             now: datetime) -> InviteCampaign:
        return create_campaign(command, campaigns, links, now)

    return once_per_command(create_campaign_once, idempotency_table=idempotency_table,  # type: ignore[no-any-return]
                            expires_after_seconds=expires_after_seconds, key_prefix="create_invite_campaign")


def get_campaign(campaign_id: str, campaigns: CampaignRepository) -> InviteCampaign:
    campaign = campaigns.get(campaign_id)
    if campaign is None:
        raise NotFoundError(f"no invite campaign {campaign_id}")
    return campaign


# ---- changes --------------------------------------------------------------------------------------------------


def change_campaign(campaign_id: str, changes: InviteCampaignChanges, *, active_run: str | None,
                    campaigns: CampaignRepository) -> InviteCampaign:
    """The campaign with its message changed. RunInProgressError (409) while a run plans or sends: its jobs carry
    the message they were planned with, so an edit is for the next run. The merged request passes the creation
    rules (pydantic ValidationError otherwise); ConflictError when another edit landed between read and write."""
    if active_run is not None:
        raise RunInProgressError(campaign_id, active_run)
    old = campaigns.spec(campaign_id)
    if old is None:
        raise NotFoundError(f"no invite campaign {campaign_id}")
    stored = json.loads(old)
    changed = changes.model_dump(mode="json", by_alias=True, include=changes.model_fields_set)
    merged = {**stored, **changed}
    InviteCampaignRequest.model_validate({k: v for k, v in merged.items() if k != "schedule"})
    if not campaigns.replace_spec(campaign_id, old, merged):
        raise ConflictError(f"invite campaign {campaign_id} was changed meanwhile: read it and try again")
    return get_campaign(campaign_id, campaigns)


# ---- preview --------------------------------------------------------------------------------------------------


def preview(campaign: InviteCampaign, source: CandidateSource, base_url: str, *, messages: int = PREVIEW_MESSAGES,
            max_rows: int = PREVIEW_MAX_ROWS) -> CampaignPreview:
    """The first `messages` candidates rendered as the sender would, reading at most `max_rows` rows.

    The row iterator is closed as soon as enough are found: a SQL source then ends its transaction and
    connection rather than streaming the rest of the table.
    """
    counts: Counter[str] = Counter()
    letters: list[PreviewMessage] = []
    rows = source.rows()
    try:
        for outcome in screen(itertools.islice(rows, max_rows), counts=counts):
            if isinstance(outcome, Candidate):
                letters.append(render_preview(campaign, outcome, base_url))
                if len(letters) >= messages:
                    break
    except AttractError:
        raise
    except Exception as error:  # the source's driver failed: told apart by kind, never by its message
        raise source_failure(error) from error
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
    return CampaignPreview(rows_read=len(letters) + sum(counts.values()), skipped=dict(sorted(counts.items())),
                           messages=letters)


def render_preview(campaign: InviteCampaign, person: Candidate, base_url: str) -> PreviewMessage:
    base = base_url.rstrip("/")
    fields = {"first_name": person.first_name or "", "last_name": person.last_name or "",
              "location": person.location or "", "skills": ", ".join(person.skills)}
    letter = compose(fields, campaign.subject, campaign.text, campaign.html, campaign.sender.from_,
                     campaign.sender.reply_to, person.email, campaign.sender.postal_address,
                     invite_url=f"{tracked_url(base, campaign.link_code)}?tc_inv={PREVIEW_TOKEN}",
                     unsubscribe_url=f"{base}/u/{PREVIEW_TOKEN}", message_key=f"{campaign.id}/preview")
    return PreviewMessage(to=letter.to, subject=letter.subject, text=letter.text, html=letter.html)


def source_failure(error: BaseException) -> AttractError:
    """A source failure as a 422 (the campaign names something unusable) or a 502 (the source is unavailable), as
    `attract.invites.source_rules.classify` reads it (the planner's run codes come from the same reading).

    Only the error's kind is used: driver messages can quote hosts, SQL and credentials.
    """
    failure = classify(error) or unavailable(error)
    if failure.upstream:
        return UpstreamError(failure.field, failure.rule, failure.message)
    return InvalidRequestError(failure.field, failure.rule, failure.message, location="body")


def open_preview_source(campaign: InviteCampaign, policy: SourcePolicy, opener: Any) -> CandidateSource:
    """`opener(spec, mapping, allow_local=...)` (attract.providers.sources.open_source) once the campaign may read
    its source (a campaign stored before the rule is refused as a new one is); failures mapped."""
    check_campaign_source(campaign.source, policy)
    # Small partitions for SQL: the stream stops after a few rows, and MariaDB drains an open partition on close.
    options = {"batch_size": 50} if campaign.source.kind in SQL_KINDS else {}
    try:
        return opener(campaign.source, campaign.mapping, allow_local=policy.allow_local, **options)
    except AttractError:
        raise
    except Exception as error:
        raise source_failure(error) from error


# ---- runs and schedules ---------------------------------------------------------------------------------------


def start_run(campaign: InviteCampaign, runs: RunStore, queue: PlanQueue, now: datetime) -> RunStarted:
    """A run now: its item (planning) and the campaign's active and latest run in one transaction, then the
    planner's message. RunInProgressError (409 naming it) while another run of the campaign is active.
    The caller has checked the campaign's source (`check_campaign_source`): a refused source starts nothing."""
    run_id = new_run_id()
    runs.start(campaign.id, run_id, "api", now)
    try:
        queue.send({"campaign_id": campaign.id, "run_id": run_id})
    except Exception:
        runs.fail(campaign.id, run_id, "enqueue_failed", now)  # and releases the campaign: a retry may start
        raise
    return RunStarted(run_id=run_id)


class StartRunCommand(BaseModel):
    """What makes two start requests "the same": who asked, for which campaign, under which Idempotency-Key."""

    owner: str
    campaign_id: str
    idempotency_key: str


class IdempotentStartRun(Protocol):
    config: IdempotencyConfig

    def __call__(self, *, command: StartRunCommand, campaign: InviteCampaign, runs: RunStore, queue: PlanQueue,
                 now: datetime) -> RunStarted: ...


@lru_cache(maxsize=4)
def idempotent_start_run(idempotency_table: str,
                         expires_after_seconds: int = RUN_IDEMPOTENCY_SECONDS) -> IdempotentStartRun:
    """`start_run` once per (caller, campaign, Idempotency-Key) within the window: a retry gets the same run id.

    A failed attempt (409 included) is not remembered: the same key may start a run once the active one ended.
    """
    def start_run_once(*, command: StartRunCommand, campaign: InviteCampaign, runs: RunStore, queue: PlanQueue,
                       now: datetime) -> RunStarted:
        return start_run(campaign, runs, queue, now)

    return once_per_command(start_run_once, idempotency_table=idempotency_table,  # type: ignore[no-any-return]
                            expires_after_seconds=expires_after_seconds, key_prefix="start_invite_run")


def schedule_payload(campaign_id: str) -> str:
    """The plan queue message EventBridge Scheduler sends; it substitutes the scheduled time (the run id)."""
    return json.dumps({"campaign_id": campaign_id, "scheduled_at": "<aws.scheduler.scheduled-time>"})


def put_schedule(campaign: InviteCampaign, schedule: CampaignSchedule, schedules: Schedules,
                 campaigns: CampaignRepository) -> StoredSchedule:
    stored = StoredSchedule(expression=schedule.expression, timezone=schedule.timezone,
                            name=schedule_name(campaign.id))
    schedules.put(stored.name, stored.expression, stored.timezone, schedule_payload(campaign.id))
    campaigns.set_schedule(campaign.id, stored)
    return stored


def delete_schedule(campaign: InviteCampaign, schedules: Schedules, campaigns: CampaignRepository) -> None:
    schedules.delete(schedule_name(campaign.id))
    campaigns.clear_schedule(campaign.id)
