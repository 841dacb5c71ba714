"""Recruiter reports: GET /reports/attribution (groups `recruiters` and `marketers`)."""

from datetime import date
from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.api import register_error_handlers, reject_unless_group, with_security_headers
from attract.attribution.credit import AttributionModel
from attract.attribution.logic import attribution_report
from attract.attribution.models import DEFAULT_ROW_LIMIT, MAX_ROW_LIMIT, AttributionReport, GroupBy
from attract.attribution.repository import AggregateRepository
from attract.observability import logger, metrics, tracer
from attract.settings import ReportsSettings

# What this function needs, checked now (at cold start): a missing variable fails the deploy's smoke
# test with its name, not the first request that reads it.
load_settings = ReportsSettings.load
load_settings()

# The Cognito groups that may call this function (docs/openapi.json lists them per operation as x-groups).
GROUPS = ("recruiters", "marketers")
app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)


@lru_cache(maxsize=1)
def _aggregates() -> AggregateRepository:
    return AggregateRepository(load_settings().table_name)


@app.get(
    "/reports/attribution", summary="Joins credited by channel, campaign or source under one model", tags=["reports"],
    responses={200: {"description": "Rows and totals for the days from..to (UTC, inclusive), with ad spend and cost per join",
                     "content": {"application/json": {"model": AttributionReport}}},
               401: {"description": "No valid token"}, 403: {"description": "Not a recruiter or marketer"},
               422: {"description": "Unknown model or group_by, bad date or limit, or from after to"}},
)
def report(
    from_: Annotated[date, Query(alias="from", description="First day, YYYY-MM-DD (UTC)")],
    to: Annotated[date, Query(description="Last day, YYYY-MM-DD (UTC), inclusive")],
    model: Annotated[AttributionModel, Query()] = AttributionModel.LAST_TOUCH,
    group_by: Annotated[GroupBy, Query()] = GroupBy.CHANNEL,
    limit: Annotated[int, Query(ge=1, le=MAX_ROW_LIMIT,
                                description="Most rows returned; the rest are summed into one (other) row")] = DEFAULT_ROW_LIMIT,
) -> dict:
    result: AttributionReport = attribution_report(model, group_by, from_, to, _aggregates(), limit)
    return result.model_dump(mode="json", by_alias=True)


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return reject_unless_group(event, *GROUPS) or app.resolve(event, context)
