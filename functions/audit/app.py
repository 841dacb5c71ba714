"""GET /audit (group `admins`): the audit trail, newest first, by actor, by object or by time range (issue 15).

The logic is attract.audit.query; this function's IAM reads the trail (Query) and never writes it.
"""

from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.api import register_error_handlers, reject_non_json, reject_unless_group, with_security_headers
from attract.audit.query import MAX_PAGE, AuditPage, AuditQuery, audit_page
from attract.audit.reader import AuditReader
from attract.clock import utc_now
from attract.observability import logger, metrics, tracer
from attract.settings import AuditSettings
from attract.signing import signer_for

load_settings = AuditSettings.load
load_settings()

# The Cognito groups that may call this function (docs/openapi.json lists them per operation as x-groups).
GROUPS = ("admins",)
app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)

ERRORS: dict[int, OpenAPIResponse] = {
    401: {"description": "No valid token"}, 403: {"description": "Not an admin"},
    422: {"description": "Invalid input: each bad field named with its rule"}}


@lru_cache(maxsize=1)
def _reader() -> AuditReader:
    return AuditReader(load_settings().audit_table_name)


@app.get("/audit", summary="The audit trail, newest first: by actor, by object, or every entry of a time range",
         tags=["audit"], responses={200: {"description": "A page of entries and the next page's cursor"}, **ERRORS})
def read_trail(actor: Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$",
                                                  description="A Cognito sub, or system:<name>")] = None,
               object_type: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$",
                                                        description="With object_id: ad_campaign, invite_campaign, "
                                                                    "invite_run, profile, person")] = None,
               object_id: Annotated[str | None, Query(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")] = None,
               since: Annotated[str | None, Query(alias="from", max_length=40,
                                                  description="ISO date or datetime; default: 7 days before `to`")] = None,
               until: Annotated[str | None, Query(alias="to", max_length=40,
                                                  description="ISO date (its whole day) or datetime; default: now"
                                                  )] = None,
               limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
               cursor: Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page")
                                 ] = None) -> AuditPage:
    settings = load_settings()
    query = AuditQuery(actor=actor, object_type=object_type, object_id=object_id, since=since, until=until,
                       limit=limit, cursor=cursor)
    page = audit_page(query, signer_for(settings.signing_key_secret_id, settings.secret_max_age_seconds), utc_now(),
                      _reader())
    logger.info("audit trail read", extra={"entries": len(page.entries), "by": "actor" if actor else
                                           "object" if object_type else "time"})
    return page


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return reject_unless_group(event, *GROUPS) or reject_non_json(event) or app.resolve(event, context)
