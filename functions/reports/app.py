"""Recruiter reports: GET /reports/attribution and GET /reports/funnels (groups `recruiters` and `marketers`)."""

from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.api import register_error_handlers, reject_unless_group, with_security_headers
from attract.attribution.credit import AttributionModel
from attract.attribution.models import (
    ANY_PROFILE,
    DEFAULT_ROW_LIMIT,
    MAX_ROW_LIMIT,
    PROFILE_ID_PATTERN,
    AttributionReport,
    FunnelReport,
    GroupBy,
    ReportModel,
)
from attract.attribution.report_store import ReportStore
from attract.attribution.reports import (
    FUNNEL_CSV_HEADER,
    REPORT_CSV_HEADER,
    EmailPrice,
    build_funnels,
    build_report,
    funnel_records,
    report_records,
)
from attract.csv_export import csv_response, to_csv, wants_csv
from attract.errors import NotFoundError
from attract.invites.run_repository import RunRepository
from attract.observability import logger, metrics, tracer
from attract.relevance.profile_repository import NOT_FOUND, ProfileRepository
from attract.settings import ReportsSettings

# What this function needs, checked now (at cold start): a missing variable fails the deploy's smoke
# test with its name, not the first request that reads it.
load_settings = ReportsSettings.load
load_settings()

# The Cognito groups that may call this function (docs/openapi.json lists them per operation as x-groups).
GROUPS = ("recruiters", "marketers")
app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)
# The same figures as CSV (format=csv or Accept: text/csv), one record per row and currency.
CSV_CONTENT: dict = {"text/csv": {"schema": {"type": "string"}}}
Profile = Annotated[str | None, Query(pattern=PROFILE_ID_PATTERN,
                                      description="A target profile's id: relevant joins for it (default: any profile)")]
Format = Annotated[Literal["json", "csv"] | None, Query(alias="format", description="csv for a CSV download")]


@lru_cache(maxsize=1)
def _store() -> ReportStore:
    return ReportStore(load_settings().table_name)


@lru_cache(maxsize=1)
def _runs() -> RunRepository:
    return RunRepository(load_settings().table_name)


@lru_cache(maxsize=1)
def _profiles() -> ProfileRepository:
    return ProfileRepository(load_settings().table_name)


def _known(profile: str | None) -> str | None:
    """A profile the report counts for must exist: a mistyped or deleted id is a 404, never a silent zero."""
    if profile not in (None, ANY_PROFILE) and _profiles().get(profile) is None:
        raise NotFoundError(NOT_FOUND)
    return profile


def _price() -> EmailPrice:
    settings = load_settings()
    return EmailPrice(Decimal(repr(settings.email_price_per_1000)), settings.email_price_currency)


@app.get(
    "/reports/attribution", summary="Joins credited by channel, campaign, source, medium, content or period", tags=["reports"],
    responses={200: {"description": "Rows and totals for the days from..to (UTC, inclusive): joins, relevant joins, clicks, "
                                    "rates, spend and email cost per currency with cost per join and per relevant join",
                     "content": {"application/json": {"model": AttributionReport}, **CSV_CONTENT}},
               401: {"description": "No valid token"}, 403: {"description": "Not a recruiter or marketer"},
               404: {"description": "No such profile (profile=<id>)"},
               422: {"description": "Unknown model or group_by, bad date, limit or profile, or from after to"}},
)
def report(
    from_: Annotated[date, Query(alias="from", description="First day, YYYY-MM-DD (UTC)")],
    to: Annotated[date, Query(description="Last day, YYYY-MM-DD (UTC), inclusive")],
    model: Annotated[ReportModel, Query(description="One model, or all: the five side by side (by_model)")] = ReportModel.LAST_TOUCH,
    group_by: Annotated[GroupBy, Query(description="A dimension, or day, week (ISO, Monday) or month")] = GroupBy.CHANNEL,
    limit: Annotated[int, Query(ge=1, le=MAX_ROW_LIMIT,
                                description="Most rows returned; the rest are summed into one (other) row "
                                            "(not applied by period: every period of the range is a row)")] = DEFAULT_ROW_LIMIT,
    profile: Profile = None,
    format_: Format = None,
):  # a dict (JSON, validated against AttributionReport above) or the CSV Response
    result = build_report(model, group_by, from_, to, _store(), limit, _known(profile), _price())
    if wants_csv(app.current_event.headers, format_):
        return csv_response(to_csv(REPORT_CSV_HEADER, report_records(result)),
                            f"attribution-{group_by.value}-{from_.isoformat()}-{to.isoformat()}.csv")
    return result.model_dump(mode="json", by_alias=True)


@app.get(
    "/reports/funnels", summary="Per campaign: email invited to relevant, ads impressions to relevant", tags=["reports"],
    responses={200: {"description": "Each campaign's steps for the days from..to (UTC, inclusive)",
                     "content": {"application/json": {"model": FunnelReport}, **CSV_CONTENT}},
               401: {"description": "No valid token"}, 403: {"description": "Not a recruiter or marketer"},
               404: {"description": "No such profile (profile=<id>)"},
               422: {"description": "Bad date, model or profile, or from after to"}},
)
def funnels(
    from_: Annotated[date, Query(alias="from", description="First day, YYYY-MM-DD (UTC)")],
    to: Annotated[date, Query(description="Last day, YYYY-MM-DD (UTC), inclusive")],
    profile: Profile = None,
    model: Annotated[AttributionModel, Query(description="The model crediting joins to campaigns")] = AttributionModel.LAST_TOUCH,
    format_: Format = None,
):  # a dict (JSON) or the CSV Response
    result = build_funnels(from_, to, _store(), _runs(), _known(profile), model)
    if wants_csv(app.current_event.headers, format_):
        return csv_response(to_csv(FUNNEL_CSV_HEADER, funnel_records(result)),
                            f"funnels-{from_.isoformat()}-{to.isoformat()}.csv")
    return result.model_dump(mode="json", by_alias=True)


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return reject_unless_group(event, *GROUPS) or app.resolve(event, context)
