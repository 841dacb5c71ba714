"""Marketer API for tracked links and touch imports: POST/GET /links, POST /touches (group `marketers`)."""

from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.api import (
    caller_id,
    json_response,
    register_error_handlers,
    register_idempotency_errors,
    reject_non_json,
    reject_unless_group,
    with_security_headers,
)
from attract.clock import utc_now
from attract.identity import email_hash, email_pepper
from attract.links.logic import (
    CreateLinkCommand,
    check_destination_host,
    get_link,
    idempotent_create_link,
    link_response,
)
from attract.links.models import CreateLinkRequest, LinkCode, LinkResponse
from attract.links.repository import LinkRepository
from attract.observability import logger, metrics, tracer
from attract.settings import LinksSettings
from attract.tracking.ingest import ingest_touches
from attract.tracking.models import IngestResult, TouchBatch
from attract.tracking.repository import TouchRepository

# What this function needs, checked now (at cold start): a missing variable fails the deploy's smoke
# test with its name, not the first request that reads it.
load_settings = LinksSettings.load
load_settings()

# The Cognito groups that may call this function (docs/openapi.json lists them per operation as x-groups).
GROUPS = ("marketers",)
app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)
register_idempotency_errors(app)

ERRORS: dict[int, OpenAPIResponse] = {401: {"description": "No valid token"}, 403: {"description": "Not a marketer"},
          422: {"description": "Invalid input: each bad field named with its rule"}}


@lru_cache(maxsize=1)
def _links() -> LinkRepository:
    return LinkRepository(load_settings().table_name)


@lru_cache(maxsize=1)
def _touches() -> TouchRepository:
    return TouchRepository(load_settings().table_name)


def _base_url() -> str:
    configured = load_settings().public_base_url
    return configured or f"https://{app.current_event.request_context.domain_name}"


@app.post(
    "/links", summary="Create a tracked link", tags=["links"],
    responses={201: {"description": "Created (a retried identical request returns the same link)"}, **ERRORS},
)
def create_link(request: Annotated[CreateLinkRequest, Body()]) -> Response[LinkResponse]:
    settings = load_settings()
    check_destination_host(request, settings.destination_hosts)
    create_once = idempotent_create_link(settings.idempotency_table_name, settings.idempotency_seconds)
    create_once.config.register_lambda_context(app.lambda_context)
    link = create_once(command=CreateLinkCommand(owner=caller_id(app), request=request), store=_links(), now=utc_now())
    metrics.add_metric(name="LinksCreated", unit=MetricUnit.Count, value=1)
    logger.info("link created", extra={"link_code": link.code, "channel": link.channel})
    body = link_response(link, 0, _base_url())
    return json_response(201, body)


@app.get("/links/<code>", summary="Read a tracked link and its click count", tags=["links"],
         responses={200: {"description": "The link"}, 404: {"description": "Unknown code"}, **ERRORS})
def read_link(code: Annotated[LinkCode, Path()]) -> LinkResponse:
    link, clicks = get_link(code, _links())
    return link_response(link, clicks, _base_url())


@app.post(
    "/touches", summary="Record touches that happened elsewhere (batch of up to 100)", tags=["touches"],
    responses={200: {"description": "Per-item results: recorded or rejected with reasons"}, **ERRORS},
)
def ingest(batch: Annotated[TouchBatch, Body()]) -> Response[IngestResult]:
    settings = load_settings()

    def hash_email(normalised: str) -> str:
        return email_hash(normalised, email_pepper(settings.email_pepper_secret_id, settings.secret_max_age_seconds))

    result = ingest_touches(batch.touches, _touches(), utc_now(), settings.touch_retention_days, hash_email)
    metrics.add_metric(name="TouchesIngested", unit=MetricUnit.Count, value=result.recorded)
    metrics.add_metric(name="TouchesRejected", unit=MetricUnit.Count, value=result.rejected)
    status = 200 if result.recorded else 422
    return json_response(status, result)


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return reject_unless_group(event, *GROUPS) or reject_non_json(event) or app.resolve(event, context)
