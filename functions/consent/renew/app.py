"""Public consent renewal: GET /consent/{token} shows a page with a button, POST /consent/{token} renews.

The link comes in the renewal mail (attract.people.consent_renewal). The token is signed (purpose `consent`)
and names only the email hash and the consent's month; it works for the grace period. A GET changes
nothing (mail scanners follow links). Every link that cannot renew (damaged, forged, expired, nobody to
renew) gets the same 400 page. Light by design: no ads SDK, no pydantic models of ours.
"""

from functools import lru_cache

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

import attract.snapstart  # noqa: F401 - registers the SnapStart restore hooks (template: SnapStart)
from attract.api import register_error_handlers, with_security_headers
from attract.audit.trail import Actor, audit
from attract.clock import utc_now
from attract.observability import logger, metrics, tracer
from attract.pages import html_response, page
from attract.people.consent import open_renew_token
from attract.people.consent_repository import ConsentRepository
from attract.settings import ConsentSettings
from attract.signing import Signer, signer_for

load_settings = ConsentSettings.load
load_settings()

app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)

CONFIRM_PAGE = page(title="Stay in our talent community", body=(
    "<p>Press the button to stay in our talent community: you agree again that we keep your profile. "
    "Nothing happens until you do.</p>"
    "<form method=post><button type=submit>Yes, keep me in</button></form>"))
RENEWED_PAGE = page(title="Thank you", body="<p>You stay in our talent community. We will ask again in a while.</p>")
INVALID_PAGE = page(title="This link is not valid", body=(
    "<p>The link is damaged or has expired. If you still want to be in our talent community, join again on the "
    "careers site.</p>"))


@lru_cache(maxsize=1)
def _store() -> ConsentRepository:
    return ConsentRepository(load_settings().table_name)


def _signer() -> Signer:
    settings = load_settings()
    return signer_for(settings.signing_key_secret_id, settings.secret_max_age_seconds)


@app.get(
    "/consent/<token>", summary="The consent renewal page (changes nothing)", tags=["consent"],
    responses={200: {"description": "A page with a button that POSTs to the same URL", "content": {"text/html": {}}},
               400: {"description": "A damaged, forged or expired link: an HTML page", "content": {"text/html": {}}}},
)
def renew_page(token: str) -> Response[str]:
    # Mail scanners prefetch links: a GET only checks the signature, it reads and writes nothing.
    if open_renew_token(_signer(), token, utc_now()) is None:
        return html_response(400, INVALID_PAGE)
    return html_response(200, CONFIRM_PAGE)


@app.post(
    "/consent/<token>", summary="Renew the consent now (the body is ignored)", tags=["consent"],
    responses={200: {"description": "Renewed: an HTML page", "content": {"text/html": {}}},
               400: {"description": "A damaged, forged or expired link, or nobody to renew: an HTML page",
                     "content": {"text/html": {}}}},
)
def renew(token: str) -> Response[str]:
    now = utc_now()
    opened = open_renew_token(_signer(), token, now)
    if opened is None:
        metrics.add_metric(name="ConsentRenewRefused", unit=MetricUnit.Count, value=1)
        return html_response(400, INVALID_PAGE)
    digest, month = opened
    if not _store().renew(digest, month, now, load_settings().consent_text_version):
        # Renewed already (a second press), erased, or its erasure requested: the same page for each.
        metrics.add_metric(name="ConsentRenewRefused", unit=MetricUnit.Count, value=1)
        return html_response(400, INVALID_PAGE)
    audit("person.consent_renewed", "person", digest, actor=Actor.system("consent-renewal"),
          details={"from_month": month})
    metrics.add_metric(name="ConsentRenewed", unit=MetricUnit.Count, value=1)
    logger.info("consent renewed")
    return html_response(200, RENEWED_PAGE)


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # The button is a browser form POST (form-encoded, usually empty): its body is never read, never refused.
    return app.resolve(event, context)
