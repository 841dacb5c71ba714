"""Public tracking function: GET /r/{code} (click redirect) and GET /t.js (snippet). Light: no ads SDK, no auth."""

from functools import lru_cache
from pathlib import Path

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext

import attract.tracking
from attract.clock import utc_now
from attract.links.repository import LinkRepository
from attract.observability import logger, metrics, tracer
from attract.settings import load_settings
from attract.signing import Signer, signing_key
from attract.tracking.logic import VISITOR_PARAM, CachedLinks, ClickRequest, handle_click
from attract.tracking.repository import TouchRepository

app = APIGatewayHttpResolver()
SNIPPET = (Path(attract.tracking.__file__).parent / "snippet.js").read_text()

NOT_FOUND_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Link not found</title>"
    "<h1>This link does not exist</h1><p>Check the address, or visit the employer's careers site.</p></html>"
)


@lru_cache(maxsize=1)
def _stores() -> tuple[CachedLinks, TouchRepository]:
    table = load_settings().table_name
    return CachedLinks(LinkRepository(table)), TouchRepository(table)


@app.get(
    "/r/<code>", summary="Follow a tracked link", tags=["tracking"],
    responses={302: {"description": "To the destination, with tc_vid and tc_click added; sets the tc_vid cookie"},
               404: {"description": "Unknown code: a plain HTML page"}},
)
def redirect(code: str) -> Response[str]:
    event = app.current_event
    settings = load_settings()
    links, touches = _stores()
    click = ClickRequest(
        code=code,
        method=event.request_context.http.method,
        query=event.query_string_parameters or {},
        visitor_cookie=_cookie(event.cookies or [], VISITOR_PARAM),
        user_agent=event.headers.get("user-agent"),
        referrer=event.headers.get("referer"),
    )
    outcome = handle_click(click, links, touches, utc_now(), settings.touch_retention_days, signer=_signer())
    if outcome is None:
        metrics.add_metric(name="UnknownLinkClicks", unit=MetricUnit.Count, value=1)
        return Response(status_code=404, content_type=content_types.TEXT_HTML, body=NOT_FOUND_PAGE)
    metrics.add_metric(name="Clicks" if outcome.recorded else "BotClicksIgnored", unit=MetricUnit.Count, value=1)
    logger.info("click", extra={"link_code": code, "recorded": outcome.recorded})
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


@app.get("/t.js", summary="The careers-site snippet", tags=["tracking"],
         responses={200: {"description": "JavaScript that keeps attribution data and submits joins"}})
def snippet() -> Response[str]:
    return Response(status_code=200, content_type="application/javascript; charset=utf-8", body=SNIPPET,
                    headers={"Cache-Control": "public, max-age=3600"})


def _signer() -> Signer | None:
    """The id signer. Powertools caches the key for SECRET_MAX_AGE_SECONDS: a warm click makes no extra call.

    Without the key the person is still sent on, with ids a join will not trust (counted as a metric).
    """
    settings = load_settings()
    try:
        return Signer(signing_key(settings.signing_key_secret_id or "", settings.secret_max_age_seconds))
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


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
