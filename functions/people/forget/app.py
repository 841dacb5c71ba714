"""Public "delete my data": GET /d/{token} shows a page with a button, POST /d/{token} queues the erasure.

The link is in every email Attract sends (join confirmation, invitation). The token is signed (purpose `forget`)
and names only the keyed hash of the address. A GET changes nothing (mail scanners prefetch links); a POST
records the request and queues it for the eraser. The answer is the same whether or not Attract holds anything
about the person: the page must not tell a member from a stranger. Light by design: no ads SDK, no models of ours.
"""

from functools import lru_cache

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

import attract.snapstart  # noqa: F401 - registers the SnapStart restore hooks (template: SnapStart)
from attract.api import register_error_handlers, with_security_headers
from attract.audit.trail import Actor, audit
from attract.clock import utc_now
from attract.observability import logger, metrics, tracer
from attract.pages import html_response, page
from attract.people.erasure_repository import ErasureRepository
from attract.people.forget_link import open_forget_token
from attract.people.requests import request_erasure
from attract.settings import ForgetSettings
from attract.signing import Signer, signer_for

load_settings = ForgetSettings.load
load_settings()

app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)

ACTOR = Actor.system("self-service")
CONFIRM_PAGE = page(title="Delete my data", body=(
    "<p>Press the button and we will delete what we hold about you: your membership of the talent community, "
    "your invitations and the visits tied to you. We keep only a scrambled fingerprint of your address so that "
    "we never invite you again.</p>"
    "<form method=post><button type=submit>Delete my data</button></form>"))
DONE_PAGE = page(title="Your request is received", body=(
    "<p>Whatever we hold about this address will be deleted within the hour. You will receive no more email "
    "from us.</p>"))
INVALID_PAGE = page(title="This link is not valid", body=(
    "<p>The link is incomplete, damaged or too old. Use the link in the email exactly as it came, or reply to the "
    "email to ask us to delete your data.</p>"))


@lru_cache(maxsize=1)
def _store() -> ErasureRepository:
    return ErasureRepository(load_settings().table_name)


def _signer() -> Signer:
    settings = load_settings()
    return signer_for(settings.signing_key_secret_id, settings.secret_max_age_seconds)


@app.get("/d/<token>", summary="The delete-my-data page (changes nothing)", tags=["people"],
         responses={200: {"description": "A page with a button that POSTs to the same URL", "content": {"text/html": {}}},
                    400: {"description": "A damaged, forged or expired link: an HTML page",
                          "content": {"text/html": {}}}})
def forget_page(token: str) -> Response[str]:
    if open_forget_token(_signer(), token, utc_now()) is None:
        return html_response(400, INVALID_PAGE)
    return html_response(200, CONFIRM_PAGE)


@app.post("/d/<token>", summary="Delete my data: the erasure is queued (the body is ignored)", tags=["people"],
          responses={200: {"description": "Queued: an HTML page (the same whoever the link names)",
                           "content": {"text/html": {}}},
                     400: {"description": "A damaged, forged or expired link: an HTML page",
                           "content": {"text/html": {}}}})
def forget(token: str) -> Response[str]:
    now = utc_now()
    person = open_forget_token(_signer(), token, now)
    if person is None:
        return html_response(400, INVALID_PAGE)
    _store().requested(person, "self_service", ACTOR, now)
    request_erasure(load_settings().erasure_queue_url, person, "self_service", ACTOR, now)
    audit("person.erasure_requested", "person", person, actor=ACTOR, request={"route": "POST /d/{token}"},
          details={"reason": "self_service"})
    logger.info("erasure requested", extra={"reason": "self_service"})
    return html_response(200, DONE_PAGE)


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # A form POST (the button) is form-encoded and carries nothing we read: the body is never parsed.
    return app.resolve(event, context)
