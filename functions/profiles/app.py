"""Target profiles: /profiles CRUD and GET /profiles/{id}/members (groups `recruiters` and `marketers`).

Writing a profile resolves its skills and places (the GeoLayer's data) and queues its scoring; the members
list reads the profile's matches best first (attract.relevance.profiles).
"""

from functools import lru_cache
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract import snapstart
from attract.api import (
    caller_id,
    json_response,
    register_error_handlers,
    reject_non_json,
    reject_unless_group,
    with_security_headers,
)
from attract.audit import audit_request
from attract.clock import utc_now
from attract.csv_export import csv_response, to_csv, wants_csv
from attract.observability import logger, metrics, tracer
from attract.providers.sqs import SqsScoringQueue
from attract.relevance.match_repository import MAX_PAGE, MatchRepository
from attract.relevance.models import ProfileBody
from attract.relevance.profile_repository import ProfileRepository
from attract.relevance.profiles import (
    create_profile,
    delete_profile,
    get_profile,
    if_match_version,
    list_profiles,
    members_page,
    replace_profile,
)
from attract.relevance.records import CSV_HEADER, MembersPage, ProfileId, ProfileList, ProfileResponse, csv_rows
from attract.settings import ProfilesSettings
from attract.signing import Signer, signer_for

load_settings = ProfilesSettings.load
load_settings()

# The Cognito groups that may call this function (docs/openapi.json lists them per operation as x-groups).
GROUPS = ("recruiters", "marketers")
app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)

ERRORS: dict[int, OpenAPIResponse] = {
    401: {"description": "No valid token"}, 403: {"description": "Not a recruiter or marketer"},
    422: {"description": "Invalid input: each bad field named with its rule"}}
NOT_FOUND: dict[int, OpenAPIResponse] = {404: {"description": "No such profile"}}


@snapstart.before_snapshot
def _load_the_taxonomy() -> None:
    from attract.relevance.scoring import warm

    warm()


@lru_cache(maxsize=1)
def _stores() -> tuple[ProfileRepository, MatchRepository, SqsScoringQueue]:
    settings = load_settings()
    return (ProfileRepository(settings.table_name), MatchRepository(settings.table_name),
            SqsScoringQueue(settings.scoring_queue_url))


def _audit(action: str, profile_id: str, profile: ProfileResponse | None = None) -> None:
    """After the change succeeded: the version written and the size of the profile, never its texts."""
    details = {} if profile is None else {"version": profile.version, "skills": len(profile.resolved.skills),
                                          "places": len(profile.places), "min_score": profile.min_score}
    audit_request(app.current_event.raw_event, action, "profile", profile_id, details=details)


def _signer() -> Signer:
    settings = load_settings()
    return signer_for(settings.signing_key_secret_id, settings.secret_max_age_seconds)


@app.post("/profiles", summary="Create a target profile; existing members are scored in the background",
          tags=["profiles"], responses={201: {"description": "Created"}, **ERRORS})
def create(body: Annotated[ProfileBody, Body()]) -> Response[ProfileResponse]:
    profiles, _, queue = _stores()
    created = create_profile(body, caller_id(app), utc_now(), profiles, queue)
    _audit("profile.create", created.id, created)
    logger.info("profile created", extra={"profile_id": created.id})
    return json_response(201, created)


@app.get("/profiles", summary="Target profiles, newest first", tags=["profiles"], responses=ERRORS)
def list_all(limit: Annotated[int, Query(ge=1, le=100)] = 20,
             cursor: Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page")] = None,
             ) -> ProfileList:
    return list_profiles(limit, cursor, _signer(), utc_now(), _stores()[0])


@app.get("/profiles/<profile_id>", summary="A target profile, its resolved terms and its re-scoring progress",
         tags=["profiles"], responses={**ERRORS, **NOT_FOUND})
def read(profile_id: Annotated[ProfileId, Path()]) -> ProfileResponse:
    return get_profile(profile_id, _stores()[0])


@app.put("/profiles/<profile_id>", summary="Replace a target profile (next version); members are re-scored",
         tags=["profiles"], responses={**ERRORS, **NOT_FOUND, 412: {
             "description": "If-Match named a version the profile no longer has (the answer gives the current one)"}})
def replace(profile_id: Annotated[ProfileId, Path()], body: Annotated[ProfileBody, Body()],
            if_match: Annotated[str | None, Header(alias="if-match", max_length=64,
                                                   description='Optional: the version edited, as "3"')] = None,
            ) -> ProfileResponse:
    profiles, _, queue = _stores()
    replaced = replace_profile(profile_id, body, utc_now(), profiles, queue, if_match_version(if_match))
    _audit("profile.replace", profile_id, replaced)
    return replaced


@app.delete("/profiles/<profile_id>", summary="Delete a target profile (its matches are un-counted in the background)",
            tags=["profiles"], responses={204: {"description": "Deleted"}, **ERRORS, **NOT_FOUND})
def delete(profile_id: Annotated[ProfileId, Path()]) -> Response[None]:
    profiles, _, queue = _stores()
    delete_profile(profile_id, utc_now(), profiles, queue)
    _audit("profile.delete", profile_id)
    return Response(status_code=204)


@app.get("/profiles/<profile_id>/members",
         summary="The profile's relevant members, best first (confirmed, with consent); JSON or CSV",
         tags=["profiles"], responses={200: {"description": "A page of members; as CSV the next cursor is in "
                                                            "the X-Next-Cursor header",
                                             "content": {"application/json": {"model": MembersPage}, "text/csv": {}}},
                                       **ERRORS, **NOT_FOUND})
def members(profile_id: Annotated[ProfileId, Path()],
            limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
            cursor: Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page")] = None,
            format: Annotated[Literal["json", "csv"] | None, Query()] = None,
            ) -> Response[MembersPage | str]:  # str: the CSV document
    profiles, matches, _ = _stores()
    page = members_page(profile_id, limit, cursor, _signer(), utc_now(), profiles, matches)
    if wants_csv(app.current_event.headers, format):
        answer = csv_response(to_csv(CSV_HEADER, csv_rows(page)), f"{profile_id}-members.csv")
        if page.next_cursor:
            answer.headers["X-Next-Cursor"] = page.next_cursor
        return answer
    return json_response(200, page)


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return reject_unless_group(event, *GROUPS) or reject_non_json(event) or app.resolve(event, context)
