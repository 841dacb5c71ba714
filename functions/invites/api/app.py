"""Marketer API for invite campaigns: create, read, preview, runs and schedules (group `marketers`)."""

from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import StringConstraints, ValidationError

from attract.api import (
    caller_id,
    describe_errors,
    json_response,
    register_error_handlers,
    register_idempotency_errors,
    reject_non_json,
    reject_unless_group,
    with_security_headers,
)
from attract.audit import Actor, audit_request, http_request
from attract.clock import utc_now
from attract.errors import NotFoundError, RulesBrokenError
from attract.invites import campaign_logic as logic
from attract.invites import senders
from attract.invites.campaign_repository import CampaignRepository
from attract.invites.campaigns import (
    CampaignPreview,
    CampaignSchedule,
    InviteCampaign,
    InviteCampaignChanges,
    InviteCampaignRequest,
    RunBusy,
    RunStarted,
    StoredSchedule,
)
from attract.invites.models import CampaignId
from attract.invites.run_audit import AuditedRuns
from attract.invites.run_repository import RunRepository
from attract.invites.runs import RunStatus
from attract.invites.source_rules import SourcePolicy, source_policy
from attract.links.logic import check_destination_host
from attract.links.models import CreateLinkRequest
from attract.links.repository import LinkRepository
from attract.observability import logger, metrics, tracer
from attract.providers.planning_triggers import SchedulerSchedules, SqsPlanQueue
from attract.settings import InviteApiSettings

load_settings = InviteApiSettings.load
load_settings()

# The Cognito groups that may call this function (docs/openapi.json lists them per operation as x-groups).
GROUPS = ("marketers",)
app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)
register_idempotency_errors(app)

RunId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,255}$")]  # printable ASCII, no spaces
ERRORS: dict[int, OpenAPIResponse] = {401: {"description": "No valid token"}, 403: {"description": "Not a marketer"},
                                      422: {"description": "Invalid input: each bad field named with its rule"}}
NOT_FOUND: dict[int, OpenAPIResponse] = {404: {"description": "Unknown campaign"}}


@lru_cache(maxsize=1)
def _stores() -> tuple[CampaignRepository, RunRepository, LinkRepository]:
    table = load_settings().table_name
    return CampaignRepository(table), RunRepository(table), LinkRepository(table)


@lru_cache(maxsize=1)
def _triggers() -> tuple[SqsPlanQueue, SchedulerSchedules]:
    settings = load_settings()
    return (SqsPlanQueue(settings.invite_plan_queue_url),
            SchedulerSchedules(settings.invite_plan_queue_arn, settings.invite_scheduler_role_arn,
                               settings.invite_schedule_dead_letter_arn))


@lru_cache(maxsize=1)
def _identities() -> senders.SenderIdentities:
    from attract.providers.ses import SesIdentities

    return SesIdentities()


def _audit(action: str, campaign_id: str, details: dict) -> None:
    """After the change succeeded: the caller, the request's digest, and what was set (never a template's text,
    a source's credentials or the sender's address)."""
    audit_request(app.current_event.raw_event, action, "invite_campaign", campaign_id, details=details)


def _audited_runs() -> AuditedRuns:
    """The runs, a start (and a failed enqueue's end) audited with the caller as actor."""
    event = app.current_event.raw_event
    return AuditedRuns(load_settings().table_name, Actor.from_event(event), request=http_request(event))


def _policy() -> SourcePolicy:
    return source_policy(load_settings())


def _base_url() -> str:
    return load_settings().public_base_url or f"https://{app.current_event.request_context.domain_name}"


def _campaign(campaign_id: str) -> InviteCampaign:
    return logic.get_campaign(campaign_id, _stores()[0])


def _response(campaign: InviteCampaign) -> logic.CampaignResponse:
    runs = _stores()[1]
    item = runs.get(campaign.id, campaign.latest_run_id) if campaign.latest_run_id else None
    return logic.campaign_response(campaign, runs.to_response(item, utc_now()) if item else None, _base_url())


@app.post("/invite-campaigns", summary="Create an invite campaign (and its schedule, when given)",
          tags=["invite campaigns"],
          responses={201: {"description": "Created (a retried identical request returns the same campaign)"},
                     502: {"description": "SES could not say whether `sender.from` is verified (rule ses.unavailable)"},
                     **ERRORS})
def create_campaign(request: Annotated[InviteCampaignRequest, Body()]) -> Response[logic.CampaignResponse]:
    settings = load_settings()
    logic.check_request(request, _policy(), utc_now())  # 422: a source it may not read, a schedule too frequent
    senders.check_sender(request.sender, _identities())  # 422 ses.identity_not_verified: SES would refuse every message
    check_destination_host(CreateLinkRequest(destination=request.destination, campaign=request.name,
                                             channel="email", source="invitation", medium="email"),  # type: ignore[arg-type]
                           settings.destination_hosts)
    campaigns, _, links = _stores()
    create_once = logic.idempotent_create_campaign(settings.idempotency_table_name, settings.idempotency_seconds)
    create_once.config.register_lambda_context(app.lambda_context)
    campaign = create_once(command=logic.CreateCampaignCommand(owner=caller_id(app), request=request),
                           campaigns=campaigns, links=links, now=utc_now())
    if request.schedule is not None:  # create-or-update: a retried request lands on the same schedule
        stored = logic.put_schedule(campaign, request.schedule, _triggers()[1], campaigns)
        campaign = campaign.model_copy(update={"schedule": stored})
    _audit("invite_campaign.create", campaign.id, {
        "source_kind": request.source.kind, "sender_domain": request.sender.from_.rsplit("@", 1)[-1].strip("> ").lower(),
        "schedule": request.schedule.model_dump(mode="json") if request.schedule else None})
    metrics.add_metric(name="InviteCampaignsCreated", unit=MetricUnit.Count, value=1)
    logger.info("invite campaign created", extra={"campaign_id": campaign.id, "source_kind": request.source.kind})
    return json_response(201, _response(campaign))


@app.get("/invite-campaigns/<campaign_id>", summary="Read an invite campaign and its latest run's counts",
         tags=["invite campaigns"], responses={200: {"description": "The campaign"}, **NOT_FOUND, **ERRORS})
def read_campaign(campaign_id: Annotated[CampaignId, Path()]) -> logic.CampaignResponse:
    return _response(_campaign(campaign_id))


@app.patch("/invite-campaigns/<campaign_id>",
           summary="Change the campaign's message (subject, text, html, sender) for its next runs",
           tags=["invite campaigns"],
           responses={200: {"description": "The changed campaign"}, **NOT_FOUND,
                      409: {"description": "A run is planning or sending (its jobs keep the message they were planned "
                                           "with), or another change landed first"},
                      502: {"description": "SES could not say whether `sender.from` is verified (rule ses.unavailable)"},
                      **ERRORS})
def change_campaign(campaign_id: Annotated[CampaignId, Path()],
                    changes: Annotated[InviteCampaignChanges, Body()]) -> logic.CampaignResponse:
    campaigns, runs, _ = _stores()
    active_run = runs.active(campaign_id, utc_now())  # 404 first: no SES call for a campaign that is not there
    if changes.sender is not None:
        senders.check_sender(changes.sender, _identities())  # 422 ses.identity_not_verified, as at creation
    try:
        campaign = logic.change_campaign(campaign_id, changes, active_run=active_run, campaigns=campaigns)
    except ValidationError as error:  # the changed campaign as a whole: the creation rules across fields
        raise RulesBrokenError("the changed campaign breaks a rule", describe_errors(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()])) from None
    details: dict = {"fields": sorted(changes.model_fields_set)}
    if changes.sender is not None:
        details["sender_domain"] = changes.sender.from_.rsplit("@", 1)[-1].strip("> ").lower()
    _audit("invite_campaign.change", campaign_id, details)
    logger.info("invite campaign changed", extra={"campaign_id": campaign_id, "fields": details["fields"]})
    return _response(campaign)


@app.post("/invite-campaigns/<campaign_id>/preview", summary="Render the first three candidates; sends nothing",
          tags=["invite campaigns"],
          responses={200: {"description": "Rendered messages and the skip counts of the rows read"}, **NOT_FOUND,
                     502: {"description": "The source could not be read (reason named)"}, **ERRORS})
def preview_campaign(campaign_id: Annotated[CampaignId, Path()]) -> CampaignPreview:
    from attract.providers.sources import open_source  # drivers are imported by kind, on first use

    campaign = _campaign(campaign_id)
    source = logic.open_preview_source(campaign, _policy(), open_source)
    return logic.preview(campaign, source, _base_url())


@app.post("/invite-campaigns/<campaign_id>/runs", summary="Start a run now (planning happens asynchronously)",
          tags=["invite campaigns"],
          responses={202: {"description": "Accepted: the run's id (the same run for a repeated Idempotency-Key)"},
                     409: {"description": "Another run of the campaign is planning or sending: `run_id` names it",
                           "content": {"application/json": {"model": RunBusy}}},
                     **NOT_FOUND, **ERRORS})
def start_run(campaign_id: Annotated[CampaignId, Path()],
              idempotency_key: Annotated[IdempotencyKey | None, Header(
                  alias="Idempotency-Key", description="Repeat it on a retry: within 24 h the same caller gets the "
                                                       "same run for the same campaign")] = None) -> Response[RunStarted]:
    runs, queue, now = _audited_runs(), _triggers()[0], utc_now()
    campaign = _campaign(campaign_id)
    logic.check_campaign_source(campaign.source, _policy())  # a campaign stored before the rule: 422, no run
    if idempotency_key is None:
        started = logic.start_run(campaign, runs, queue, now)
    else:
        start_once = logic.idempotent_start_run(load_settings().idempotency_table_name)
        start_once.config.register_lambda_context(app.lambda_context)
        command = logic.StartRunCommand(owner=caller_id(app), campaign_id=campaign.id, idempotency_key=idempotency_key)
        started = start_once(command=command, campaign=campaign, runs=runs, queue=queue, now=now)
    metrics.add_metric(name="InviteRunsStarted", unit=MetricUnit.Count, value=1)
    logger.info("invite run started", extra={"campaign_id": campaign.id, "run_id": started.run_id})
    return json_response(202, started)


@app.get("/invite-campaigns/<campaign_id>/runs/<run_id>",
         summary="A run's status, counts, progress and estimated finish",
         tags=["invite campaigns"], responses={200: {"description": "The run"}, 404: {"description": "Unknown run"},
                                               **ERRORS})
def read_run(campaign_id: Annotated[CampaignId, Path()], run_id: Annotated[RunId, Path()]) -> RunStatus:
    runs = _stores()[1]
    item = runs.get(campaign_id, run_id)
    if item is None:
        raise NotFoundError(f"no run {run_id} of invite campaign {campaign_id}")
    return runs.to_response(item, utc_now())


@app.put("/invite-campaigns/<campaign_id>/schedule", summary="Create or replace the campaign's schedule",
         tags=["invite campaigns"], responses={200: {"description": "The schedule in force"}, **NOT_FOUND, **ERRORS})
def put_schedule(campaign_id: Annotated[CampaignId, Path()],
                 schedule: Annotated[CampaignSchedule, Body()]) -> StoredSchedule:
    campaigns = _stores()[0]
    campaign = _campaign(campaign_id)
    logic.check_schedule(schedule, "expression", utc_now())  # 422: more than once an hour
    stored = logic.put_schedule(campaign, schedule, _triggers()[1], campaigns)
    _audit("invite_campaign.schedule_set", campaign_id, {"expression": stored.expression, "timezone": stored.timezone})
    logger.info("invite schedule set", extra={"campaign_id": campaign_id})
    return stored


@app.delete("/invite-campaigns/<campaign_id>/schedule", summary="Remove the campaign's schedule (idempotent)",
            tags=["invite campaigns"], responses={204: {"description": "No schedule any more"}, **NOT_FOUND, **ERRORS})
def delete_schedule(campaign_id: Annotated[CampaignId, Path()]) -> Response[None]:
    logic.delete_schedule(_campaign(campaign_id), _triggers()[1], _stores()[0])
    _audit("invite_campaign.schedule_clear", campaign_id, {})
    logger.info("invite schedule removed", extra={"campaign_id": campaign_id})
    return Response(status_code=204)


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return reject_unless_group(event, *GROUPS) or reject_non_json(event) or app.resolve(event, context)
