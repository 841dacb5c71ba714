"""A person's rights, for admins (issue 15): GET /people/export, DELETE /people, GET /people/erasure.

The person is named by their address in the query, found by its keyed hash (attract.identity), never by a scan.
The address is never logged nor stored by these routes; the audit trail names the hash.
"""

from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.api import (
    json_response,
    register_error_handlers,
    reject_non_json,
    reject_unless_group,
    with_security_headers,
)
from attract.audit import Actor, audit
from attract.clock import utc_now
from attract.errors import InvalidRequestError
from attract.identity import email_hash, email_pepper, normalise_email
from attract.observability import logger, metrics, tracer
from attract.people.erasure_repository import ErasureRepository
from attract.people.export import build_export, erasure_status
from attract.people.inventory import PersonRecords
from attract.people.models import ErasureStatus, PersonExport
from attract.people.requests import request_erasure
from attract.settings import PeopleSettings

load_settings = PeopleSettings.load
load_settings()

GROUPS = ("admins",)
app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)

ERRORS: dict[int, OpenAPIResponse] = {
    401: {"description": "No valid token"}, 403: {"description": "Not an admin"},
    422: {"description": "Invalid input: `email` named with its rule"}}
Email = Annotated[str, Query(min_length=3, max_length=320, description="The person's address (found by its keyed hash)")]


@lru_cache(maxsize=1)
def _stores() -> tuple[PersonRecords, ErasureRepository]:
    settings = load_settings()
    return PersonRecords(settings.table_name), ErasureRepository(settings.table_name)


def _person(email: str) -> str:
    try:
        normalised = normalise_email(email)
    except ValueError:
        raise InvalidRequestError("email", "email_invalid", "not a valid email address") from None
    settings = load_settings()
    return email_hash(normalised, email_pepper(settings.email_pepper_secret_id, settings.secret_max_age_seconds))


def _actor() -> Actor:
    return Actor.from_event(app.current_event.raw_event)


@app.get("/people/export", summary="Everything held about a person, as JSON (audited)", tags=["people"],
         responses=ERRORS)
def export(email: Email) -> PersonExport:
    person = _person(email)
    answer = build_export(_stores()[0].gather(person))
    audit("person.export", "person", person, actor=_actor(), request={"route": "GET /people/export", "person": person},
          details={"empty": answer.empty})
    logger.info("person exported", extra={"empty": answer.empty})
    return answer


@app.delete("/people", summary="Erase a person: queued, answered with the erasure's status (audited)", tags=["people"],
            responses={202: {"description": "Queued (or already running)"}, **ERRORS})
def erase(email: Email) -> Response[ErasureStatus]:
    person, now, actor = _person(email), utc_now(), _actor()
    _, erasures = _stores()
    status = erasures.requested(person, "admin", actor, now)
    request_erasure(load_settings().erasure_queue_url, person, "admin", actor, now)
    audit("person.erasure_requested", "person", person, actor=actor,
          request={"route": "DELETE /people", "person": person}, details={"reason": "admin"})
    logger.info("erasure requested", extra={"reason": "admin"})
    return json_response(202, erasure_status(person, status))


@app.get("/people/erasure", summary="The status of a person's erasure", tags=["people"], responses=ERRORS)
def erasure(email: Email) -> ErasureStatus:
    person = _person(email)
    return erasure_status(person, _stores()[1].status(person))


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return reject_unless_group(event, *GROUPS) or reject_non_json(event) or app.resolve(event, context)
