"""Public join function: POST /joins. Light by design: no ads SDK, no auth; CORS comes from the API."""

from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.api import register_error_handlers, reject_non_json
from attract.clock import utc_now
from attract.identity import email_hash, email_pepper
from attract.joins.logic import JoinPolicy, record_join
from attract.joins.models import JoinRequest, JoinResponse
from attract.joins.repository import MemberRepository
from attract.observability import logger, metrics, tracer
from attract.settings import JoinsSettings
from attract.tracking.repository import TouchRepository

# What this function needs, checked now (at cold start): a missing variable fails the deploy's smoke
# test with its name, not the first request that reads it.
load_settings = JoinsSettings.load
load_settings()

app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)


@lru_cache(maxsize=1)
def _stores() -> tuple[TouchRepository, MemberRepository, JoinPolicy]:
    settings = load_settings()
    policy = JoinPolicy(lookback_days=settings.attribution_lookback_days,
                        half_life_days=settings.time_decay_half_life_days,
                        consent_text_version=settings.consent_text_version,
                        aggregate_shards=settings.aggregate_shards)
    return TouchRepository(settings.table_name), MemberRepository(settings.table_name), policy


@app.post(
    "/joins", summary="Join the talent community", tags=["joins"],
    responses={201: {"description": "Joined: member id and attribution"},
               200: {"description": "Already a member: the same member id, nothing counted again"},
               422: {"description": "Invalid input: each bad field named with its rule"}},
)
def join(request: Annotated[JoinRequest, Body()]) -> Response[JoinResponse]:
    settings = load_settings()
    touches, members, policy = _stores()
    digest = email_hash(request.email, email_pepper(settings.email_pepper_secret_id, settings.secret_max_age_seconds))
    result = record_join(request, digest, utc_now(), policy, touches, members)
    if result.created:
        metrics.add_metric(name="Joins", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="JoinTouches", unit=MetricUnit.Count, value=len(result.touches))
    else:
        metrics.add_metric(name="RepeatJoins", unit=MetricUnit.Count, value=1)
    logger.info("join", extra={"member_id": result.member_id, "first_join": result.created, "path_length": len(result.touches)})
    return Response(status_code=201 if result.created else 200, content_type=content_types.APPLICATION_JSON,
                    body=result.model_dump(mode="json"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return reject_non_json(event) or app.resolve(event, context)
