"""Public unsubscribe: GET /u/{token} shows a confirmation page, POST /u/{token} unsubscribes at once.

RFC 8058: mail clients POST `List-Unsubscribe=One-Click` (form-encoded) to the List-Unsubscribe URL with
no login and no page. The token is signed (purpose `unsubscribe`) and says only the email hash and the
campaign: the page never shows the address. Light by design: no ads SDK, no pydantic models of ours.
"""

from functools import lru_cache

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

import attract.snapstart  # noqa: F401 - registers the SnapStart restore hooks (template: SnapStart)
from attract.api import register_error_handlers, with_security_headers
from attract.clock import utc_now
from attract.invites.repository import InviteRepository
from attract.invites.tokens import open_unsubscribe_token
from attract.observability import logger, metrics, tracer
from attract.pages import html_response, page
from attract.settings import UnsubscribeSettings
from attract.signing import Signer, signer_for

load_settings = UnsubscribeSettings.load
load_settings()

app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)

CONFIRM_PAGE = page(title="Unsubscribe from invitations", body=(
    "<p>Press the button and we will never email you an invitation again.</p>"
    "<form method=post><input type=hidden name=List-Unsubscribe value=One-Click>"
    "<button type=submit>Unsubscribe</button></form>"))
DONE_PAGE = page(title="You are unsubscribed", body="<p>You will receive no more invitations from us.</p>")
INVALID_PAGE = page(title="This link is not valid", body=(
    "<p>The unsubscribe link is incomplete or damaged. Use the link in the email exactly as it came, or reply "
    "to the email to ask to be removed.</p>"))


@lru_cache(maxsize=1)
def _store() -> InviteRepository:
    return InviteRepository(load_settings().table_name)


def _signer() -> Signer:
    settings = load_settings()
    return signer_for(settings.signing_key_secret_id, settings.secret_max_age_seconds)


@app.get(
    "/u/<token>", summary="The unsubscribe page (changes nothing)", tags=["invitations"],
    responses={200: {"description": "A page with a button that POSTs to the same URL", "content": {"text/html": {}}},
               404: {"description": "A damaged or forged link: an HTML page", "content": {"text/html": {}}}},
)
def unsubscribe_page(token: str) -> Response[str]:
    # Mail scanners prefetch links: a GET only checks the signature, it writes nothing.
    if open_unsubscribe_token(_signer(), token, utc_now()) is None:
        return html_response(404, INVALID_PAGE)
    return html_response(200, CONFIRM_PAGE)


@app.post(
    "/u/<token>", summary="Unsubscribe now (RFC 8058 one-click; the body is ignored)", tags=["invitations"],
    responses={200: {"description": "Unsubscribed (also when already): an HTML page", "content": {"text/html": {}}},
               404: {"description": "A damaged or forged link: an HTML page", "content": {"text/html": {}}}},
)
def unsubscribe(token: str) -> Response[str]:
    now = utc_now()
    opened = open_unsubscribe_token(_signer(), token, now)
    if opened is None:
        metrics.add_metric(name="UnsubscribeRefused", unit=MetricUnit.Count, value=1)
        return html_response(404, INVALID_PAGE)
    digest, campaign_id = opened
    store = _store()
    if store.suppress(digest, "unsubscribe", now, campaign_id):
        store.count(campaign_id, "totals", "unsubscribed")
        metrics.add_metric(name="Unsubscribed", unit=MetricUnit.Count, value=1)
    return html_response(200, DONE_PAGE)


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # One-click POSTs are form-encoded (`List-Unsubscribe=One-Click`): the body is never read, never refused.
    return app.resolve(event, context)
