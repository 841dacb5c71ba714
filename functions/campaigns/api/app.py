"""Marketer API for ad campaigns: POST /campaigns, GET /campaigns/{id}, POST /campaigns/{id}/launch|pause|resume|end.

The ads SDKs are loaded on the first launch, pause, resume or end (attract.campaigns.gateways), never
for creating or reading a draft.
"""

from functools import lru_cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.api import (
    caller_id,
    json_response,
    register_error_handlers,
    register_idempotency_errors,
    register_platform_errors,
    reject_non_json,
    reject_unless_group,
    with_security_headers,
)
from attract.audit import audit_request
from attract.campaigns.audit_details import campaign_details, draft_details, dry_run_details
from attract.campaigns.gateways import gateway_for
from attract.campaigns.launch import (
    CreateCampaignCommand,
    campaign_response,
    change_status,
    check_destination,
    dry_run,
    get_campaign,
    idempotent_create_campaign,
    launch,
)
from attract.campaigns.models import CampaignDraft, CampaignId
from attract.campaigns.ports import AdsGateway
from attract.campaigns.records import Campaign, CampaignResponse, DryRunResponse
from attract.campaigns.repository import CampaignRepository
from attract.campaigns.spend_repository import SpendRepository
from attract.clock import utc_now
from attract.links.repository import LinkRepository
from attract.observability import logger, metrics, tracer
from attract.settings import CampaignsSettings

load_settings = CampaignsSettings.load
load_settings()

# The Cognito groups that may call this function (docs/openapi.json lists them per operation as x-groups).
GROUPS = ("marketers",)
app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)
register_idempotency_errors(app)
register_platform_errors(app)

ERRORS: dict[int, OpenAPIResponse] = {
    401: {"description": "No valid token"}, 403: {"description": "Not a marketer"},
    422: {"description": "Invalid input or an employment-ad rule broken: each named with its rule"}}
PLATFORM_ERRORS: dict[int, OpenAPIResponse] = {
    404: {"description": "Unknown campaign"},
    409: {"description": "Another launch or change of this campaign is in progress, or the status does not allow it"},
    502: {"description": "The ads platform refused: its error codes and request id (stored as last_error)"},
    503: {"description": "The platform's rate limit outlasted our retries; Retry-After says when to try again"}}


@lru_cache(maxsize=1)
def _campaigns() -> CampaignRepository:
    return CampaignRepository(load_settings().table_name)


@lru_cache(maxsize=1)
def _links() -> LinkRepository:
    return LinkRepository(load_settings().table_name)


@lru_cache(maxsize=1)
def _spend_records() -> SpendRepository:
    """The spend sync's repository: the platform-campaign registry the launch fills and each channel's last sync."""
    return SpendRepository(load_settings().table_name)


def _response(campaign: Campaign) -> CampaignResponse:
    records = _spend_records()
    sync: dict[str, Any] = {channel: records.last_sync(channel) for channel in campaign.draft.channels}
    return campaign_response(campaign, _base_url(), sync)


def _audit(action: str, campaign_id: str, details: dict[str, Any]) -> None:
    """After the action succeeded (a platform's refusal raised before): the caller, the request, what was sent."""
    audit_request(app.current_event.raw_event, action, "ad_campaign", campaign_id, details=details)


def _gateway(channel: str) -> AdsGateway:
    return gateway_for(channel, load_settings())


def _base_url() -> str:
    configured = load_settings().public_base_url
    return configured or f"https://{app.current_event.request_context.domain_name}"


@app.post("/campaigns", summary="Create a campaign draft (checked against the employment-ad rules)",
          tags=["campaigns"],
          responses={201: {"description": "Created: the draft and its id (a retried identical request returns the "
                                          "same campaign)"}, **ERRORS})
def create(draft: Annotated[CampaignDraft, Body()]) -> Response[CampaignResponse]:
    settings = load_settings()
    check_destination(draft, settings.destination_hosts)
    create_once = idempotent_create_campaign(settings.idempotency_table_name, settings.idempotency_seconds)
    create_once.config.register_lambda_context(app.lambda_context)
    campaign = create_once(command=CreateCampaignCommand(owner=caller_id(app), draft=draft), store=_campaigns(),
                           now=utc_now())
    _audit("ad_campaign.create", campaign.id, {**draft_details(draft), "status": campaign.status})
    metrics.add_metric(name="CampaignsCreated", unit=MetricUnit.Count, value=1)
    logger.info("campaign created", extra={"campaign_id": campaign.id, "channels": draft.channels})
    return json_response(201, _response(campaign))


@app.get("/campaigns/<campaign_id>", summary="Read a campaign: draft, platform ids, status, last sync and error",
         tags=["campaigns"], responses={200: {"description": "The campaign"}, 404: {"description": "Unknown campaign"},
                                        **ERRORS})
def read(campaign_id: Annotated[CampaignId, Path()]) -> CampaignResponse:
    return _response(get_campaign(campaign_id, _campaigns()))


@app.post("/campaigns/<campaign_id>/launch",
          summary="Launch on every channel, or finish a failed launch; dry_run=true asks each platform to validate only",
          tags=["campaigns"],
          responses={200: {"description": "Active (a retry of a finished launch answers the same); with dry_run=true, "
                                          "what each platform said of the whole launch in validate-only mode: "
                                          "nothing is created"},
                     **ERRORS, **PLATFORM_ERRORS})
def launch_campaign(campaign_id: Annotated[CampaignId, Path()],
                    dry_run_only: Annotated[bool, Query(alias="dry_run")] = False) -> CampaignResponse | DryRunResponse:
    if dry_run_only:
        report = dry_run(campaign_id, store=_campaigns(), gateways=_gateway, now=utc_now(),
                         allowed_hosts=load_settings().destination_hosts)
        _audit("ad_campaign.dry_run", campaign_id, dry_run_details(get_campaign(campaign_id, _campaigns()).draft,
                                                                   report))
        logger.info("campaign dry run", extra={"campaign_id": campaign_id, "ok": report.ok})
        return report
    campaign = launch(campaign_id, store=_campaigns(), links=_links(), gateways=_gateway, now=utc_now(),
                      owner=caller_id(app), registry=_spend_records(),
                      allowed_hosts=load_settings().destination_hosts)
    _audit("ad_campaign.launch", campaign.id, campaign_details(campaign))
    logger.info("campaign launched", extra={"campaign_id": campaign.id})
    metrics.add_metric(name="CampaignsLaunched", unit=MetricUnit.Count, value=1)
    return _response(campaign)


def _change(campaign_id: str, action: str) -> CampaignResponse:
    campaign = change_status(campaign_id, action, store=_campaigns(), gateways=_gateway, now=utc_now())
    _audit(f"ad_campaign.{action}", campaign.id, campaign_details(campaign, with_draft=False))
    logger.info("campaign status changed", extra={"campaign_id": campaign.id, "status": campaign.status})
    return _response(campaign)


@app.post("/campaigns/<campaign_id>/pause", summary="Pause the campaign on every platform", tags=["campaigns"],
          responses={200: {"description": "Paused"}, **ERRORS, **PLATFORM_ERRORS})
def pause(campaign_id: Annotated[CampaignId, Path()]) -> CampaignResponse:
    return _change(campaign_id, "pause")


@app.post("/campaigns/<campaign_id>/resume", summary="Resume a paused campaign on every platform",
          tags=["campaigns"], responses={200: {"description": "Active again"}, **ERRORS, **PLATFORM_ERRORS})
def resume(campaign_id: Annotated[CampaignId, Path()]) -> CampaignResponse:
    return _change(campaign_id, "resume")


@app.post("/campaigns/<campaign_id>/end", summary="End the campaign: removed on every platform", tags=["campaigns"],
          responses={200: {"description": "Ended"}, **ERRORS, **PLATFORM_ERRORS})
def end(campaign_id: Annotated[CampaignId, Path()]) -> CampaignResponse:
    return _change(campaign_id, "end")


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return reject_unless_group(event, *GROUPS) or reject_non_json(event) or app.resolve(event, context)
