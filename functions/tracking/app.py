"""Public tracking function: GET|HEAD /r/{code} (click redirect), GET /l/{code} (ad landing) and GET /t.js (snippet).

Light: no ads SDK, no auth, no pydantic (plain records and settings; a test lists what it imports).
"""

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

import attract.snapstart  # registers the SnapStart restore hooks (template: SnapStart)
import attract.tracking
from attract.api import log_unexpected, with_security_headers
from attract.clock import utc_now
from attract.links.repository import LinkRepository
from attract.observability import logger, metrics, tracer
from attract.settings import TrackingSettings
from attract.signing import Signer, signer_for
from attract.tracking.landing import LANDING_PATH, REFERRER_PARAM
from attract.tracking.logic import (
    CLICK_PARAM,
    VISITOR_PARAM,
    CachedLinks,
    ClickRequest,
    LinkUnavailableError,
    handle_click,
    handle_landing,
)
from attract.tracking.repository import TouchRepository

if TYPE_CHECKING:  # a type only: importing it costs every cold start a module
    from aws_lambda_powertools.utilities.typing import LambdaContext

# What this function needs, checked now (at cold start): a missing variable fails the deploy's smoke
# test with its name, not the first request that reads it.
load_settings = TrackingSettings.load
load_settings()

app = APIGatewayHttpResolver()
SNIPPET = (Path(attract.tracking.__file__).parent / "snippet.js").read_text()

NOT_FOUND_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Link not found</title>"
    "<h1>This link does not exist</h1><p>Check the address, or visit the employer's careers site.</p></html>"
)
UNAVAILABLE_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Try again</title>"
    "<h1>This link is briefly unavailable</h1><p>Please reload the page in a few seconds.</p></html>"
)
LOST_METRICS = {"touch": "ClickNotRecorded", "count": "ClickNotCounted"}
# The landing is read by t.js, not shown to a person: its refusals are JSON, and never say why a code is unknown.
LANDING_NOT_FOUND = {"message": "Not found"}
LANDING_UNAVAILABLE = {"message": "Try again later"}
# The landing's answers for docs/openapi.json, as plain JSON Schema: the function never imports pydantic.
_SIGNED_ID = {"type": ["string", "null"], "pattern": "^[A-Za-z0-9_-]{16,64}$"}
_LANDING_IDS: dict = {"type": "object", "required": ["tc_vid", "tc_click"], "additionalProperties": False,
                      "properties": {"tc_vid": _SIGNED_ID, "tc_click": _SIGNED_ID}}
_MESSAGE: dict = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}


@lru_cache(maxsize=1)
def _stores() -> tuple[CachedLinks, TouchRepository]:
    table = load_settings().table_name
    return CachedLinks(LinkRepository(table)), TouchRepository(table)


@app.exception_handler(LinkUnavailableError)
def _link_unavailable(error: LinkUnavailableError) -> Response[str]:
    # Without the link there is no destination: a page asking to retry, not a bare 500.
    metrics.add_metric(name="LinkLookupFailed", unit=MetricUnit.Count, value=1)
    logger.warning("link lookup failed", extra={"error_type": str(error)})
    return _refusal(503, UNAVAILABLE_PAGE, LANDING_UNAVAILABLE, {"Retry-After": "5"})


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> Response[str]:
    log_unexpected(error)  # type and place only: the resolver would log the message, which can quote input
    return _refusal(500, UNAVAILABLE_PAGE, LANDING_UNAVAILABLE)


@app.not_found
def _no_route(_error: Exception) -> Response[str]:
    # A path the resolver's `<code>` pattern cannot match (e.g. raw non-ASCII) is just a malformed code.
    return _unknown_link()


def _unknown_link() -> Response[str]:
    metrics.add_metric(name="UnknownLinkClicks", unit=MetricUnit.Count, value=1)
    return _refusal(404, NOT_FOUND_PAGE, LANDING_NOT_FOUND)


def _refusal(status: int, page: str, landing_body: dict, headers: dict[str, str] | None = None) -> Response[str]:
    """The redirect's refusals are pages for a person; the landing's are JSON for the snippet."""
    if app.current_event.raw_path.startswith(LANDING_PATH):
        return _json(status, landing_body, headers)
    return Response(status_code=status, content_type=content_types.TEXT_HTML, body=page,
                    headers={**(headers or {}), "Cache-Control": "no-store"})


def _json(status: int, body: dict, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body),
                    headers={**(headers or {}), "Cache-Control": "no-store"})


# HEAD is routed too (API Gateway needs its own route for it): probes get the same redirect, never a touch.
@app.route(
    "/r/<code>", method=["GET", "HEAD"], summary="Follow a tracked link", tags=["tracking"],
    responses={302: {"description": "To the destination, with tc_vid and tc_click added; sets the tc_vid cookie"},
               404: {"description": "Unknown or malformed code: a plain HTML page"},
               503: {"description": "The link could not be read just now: a plain HTML page asking to retry"}},
)
def redirect(code: str) -> Response[str]:
    event = app.current_event
    settings = load_settings()
    links, touches = _stores()
    click = _click_request(code, visitor_cookie=_cookie(event.cookies or [], VISITOR_PARAM),
                           referrer=event.headers.get("referer"))
    outcome = handle_click(click, links, touches, utc_now(), settings.touch_retention_days, signer=_signer())
    if outcome is None:
        return _unknown_link()
    _report(code, outcome.recorded, outcome.lost)
    cookies = []
    if outcome.visitor_id:
        cookies.append(
            Cookie(name=VISITOR_PARAM, value=outcome.visitor_id, path="/", secure=True, http_only=True,
                   same_site=SameSite.LAX_MODE, max_age=settings.visitor_cookie_days * 86400)
        )
    return Response(
        status_code=302,
        headers={"Location": outcome.location, "Cache-Control": "no-store"},
        cookies=cookies,
    )


@app.get(
    "/l/<code>", summary="Record an ad landing on the careers page (tc_link)", tags=["tracking"],
    responses={200: {"description": "The ids the redirect would have put in the URL, signed: tc_vid and tc_click "
                                    "(null for a bot; tc_click null when this ad click was already recorded)",
                     "content": {"application/json": {"schema": _LANDING_IDS}}},
               404: {"description": "Unknown or malformed code", "content": {"application/json": {"schema": _MESSAGE}}},
               503: {"description": "The link could not be read just now (Retry-After)",
                     "content": {"application/json": {"schema": _MESSAGE}}}},
)
def landing(code: str) -> Response[str]:
    """t.js calls this once on a page whose URL has tc_link (the ad's final URL is the careers page itself)."""
    event = app.current_event
    query = event.query_string_parameters or {}
    # The request's own Referer is the careers page (t.js sends none); where the person came from is `ref`.
    # A request without `ref` (a parallel-tracking hit) came from the ad's page: its Referer is that page.
    referrer = query[REFERRER_PARAM] if REFERRER_PARAM in query else event.headers.get("referer")
    # No cookie: a cross-site call from the careers page carries none. A tc_vid in the query is ignored (it may
    # be anyone's): the answer's visitor id is always a new one (attract.tracking.logic.handle_landing).
    links, touches = _stores()
    visit = handle_landing(_click_request(code, visitor_cookie=None, referrer=referrer), links, touches, utc_now(),
                           load_settings().touch_retention_days, signer=_signer())
    if visit is None:
        return _unknown_link()
    if visit.repeated:
        metrics.add_metric(name="LandingsRepeated", unit=MetricUnit.Count, value=1)
    _report(code, visit.recorded, visit.lost, repeated=visit.repeated)
    return _json(200, {VISITOR_PARAM: visit.visitor_id, CLICK_PARAM: visit.click_id})


@app.get("/t.js", summary="The careers-site snippet", tags=["tracking"],
         responses={200: {"description": "JavaScript that keeps attribution data and submits joins"}})
def snippet() -> Response[str]:
    return Response(status_code=200, content_type="application/javascript; charset=utf-8", body=SNIPPET,
                    headers={"Cache-Control": "public, max-age=3600"})


def _click_request(code: str, visitor_cookie: str | None, referrer: str | None) -> ClickRequest:
    event = app.current_event
    return ClickRequest(code=code, method=event.request_context.http.method, query=event.query_string_parameters or {},
                        visitor_cookie=visitor_cookie, user_agent=event.headers.get("user-agent"), referrer=referrer)


def _report(code: str, recorded: bool, lost: tuple[str, str] | None, repeated: bool = False) -> None:
    """Metrics and one log line per click (the link code only: ids and click ids are the visitor's)."""
    if lost:
        part, error_type = lost
        metrics.add_metric(name=LOST_METRICS[part], unit=MetricUnit.Count, value=1)
        logger.warning("click not fully recorded", extra={"link_code": code, "lost": part, "error_type": error_type})
    if recorded:
        metrics.add_metric(name="Clicks", unit=MetricUnit.Count, value=1)
    elif not lost and not repeated:
        metrics.add_metric(name="BotClicksIgnored", unit=MetricUnit.Count, value=1)
    logger.info("click", extra={"link_code": code, "recorded": recorded})


def _signer() -> Signer | None:
    """The id signer. Powertools caches the key for SECRET_MAX_AGE_SECONDS: a warm click makes no extra call.

    Without the key the person is still sent on, with ids a join will not trust (counted as a metric).
    """
    settings = load_settings()
    try:
        return signer_for(settings.signing_key_secret_id, settings.secret_max_age_seconds)
    except Exception as error:  # noqa: BLE001 - any failure to read the key must not stop the redirect
        logger.warning("signing key unavailable", extra={"error": type(error).__name__})
        metrics.add_metric(name="SigningKeyUnavailable", unit=MetricUnit.Count, value=1)
        return None


def _cookie(cookies: list[str], name: str) -> str | None:
    for cookie in cookies:
        key, _, value = cookie.partition("=")
        if key.strip() == name:
            return value.strip()
    return None


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: "LambdaContext") -> dict:
    return app.resolve(event, context)
