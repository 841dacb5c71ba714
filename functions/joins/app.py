"""Public join function: POST /joins, then GET/POST /joins/confirm/{token} from the confirmation email.

Light by design: no ads SDK, no auth; CORS comes from the API. Double opt-in: docs/security.md.
"""

from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract import snapstart
from attract.api import json_response, register_error_handlers, reject_non_json, with_security_headers
from attract.clock import utc_now
from attract.identity import email_hash, email_pepper
from attract.joins.feedback import browser_context
from attract.joins.limits import requester
from attract.joins.logic import (
    ConversionQueue,
    JoinPolicy,
    MailQueue,
    MailSender,
    ScoringNotice,
    confirm_join,
    open_token,
    submit_join,
)
from attract.joins.models import JoinAccepted, JoinRequest
from attract.joins.repository import MemberRepository
from attract.observability import logger, metrics, tracer
from attract.pages import html_response, page
from attract.settings import JoinsSettings
from attract.signing import Signer, signer_for
from attract.tracking.repository import TouchRepository

# What this function needs, checked now (at cold start): a missing variable fails the deploy's smoke
# test with its name, not the first request that reads it.
load_settings = JoinsSettings.load
load_settings()

app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)


@snapstart.before_snapshot
def _load_the_submission_path() -> None:
    # Published versions (SnapStart) only: what the first POST /joins imports goes into the snapshot, not
    # into a visitor's request. Without SnapStart it is imported by that first request (attract.identity).
    import email_validator  # noqa: F401

CONFIRM_PREFIX = "/joins/confirm/"
# Submissions that mailed nothing now, by why (JoinMailsDeferred: the account's hourly cap, alarmed in template.yaml).
OUTCOME_METRICS = {"rate_limited": "JoinMailRateLimited", "source_limited": "JoinMailSourceLimited",
                   "busy": "JoinMailBusy", "deferred": "JoinMailsDeferred", "retry_queued": "JoinMailRetryQueued",
                   "mail_failed": "JoinMailFailed"}
CONFIRM_PAGE = page(title="Join our talent community", body=(
    "<p>Press the button to confirm you want to join. Nothing happens until you do.</p>"
    "<form method=post><button type=submit>Yes, I want to join</button></form>"))
JOINED_PAGE = page(title="You're in", body="<p>Thank you: you are now a member of our talent community.</p>")
EXPIRED_PAGE = page(title="This link has expired or was already used", body=(
    "<p>Links work once, for 7 days. If you still want to join, submit the form on the careers site again.</p>"))


@lru_cache(maxsize=1)
def _stores() -> tuple[TouchRepository, MemberRepository, JoinPolicy]:
    settings = load_settings()
    policy = JoinPolicy(lookback_days=settings.attribution_lookback_days,
                        half_life_days=settings.time_decay_half_life_days,
                        consent_text_version=settings.consent_text_version,
                        aggregate_shards=settings.aggregate_shards,
                        mails_per_source_hour=settings.join_mails_per_source_hour,
                        mails_per_hour=settings.join_mails_per_hour)
    # The aggregates are built on the first confirmation: a submission never loads the attribution modules.
    members = MemberRepository(settings.table_name, aggregate_shards=settings.aggregate_shards)
    return TouchRepository(settings.table_name), members, policy


@lru_cache(maxsize=1)
def _mail() -> MailSender:
    from attract.providers.ses import SesMailSender  # SES only where mail is sent

    return SesMailSender(load_settings().mail_from_address)


@lru_cache(maxsize=1)
def _later() -> MailQueue:
    from attract.providers.sqs import SqsMailQueue  # SQS only when a mail is put off

    return SqsMailQueue(load_settings().join_mail_queue_url)


@lru_cache(maxsize=1)
def _conversions() -> ConversionQueue | None:
    from attract.providers.sqs import SqsConversionQueue  # SQS only where a confirmation enqueues

    queue_url = load_settings().conversions_queue_url
    return SqsConversionQueue(queue_url) if queue_url else None


@lru_cache(maxsize=1)
def _scoring() -> ScoringNotice | None:
    from attract.providers.sqs import SqsScoringQueue  # SQS only where a confirmation enqueues

    queue_url = load_settings().scoring_queue_url
    return SqsScoringQueue(queue_url) if queue_url else None


def _signer() -> Signer:
    # Powertools caches the secret for SECRET_MAX_AGE_SECONDS: a warm call makes no request.
    settings = load_settings()
    return signer_for(settings.signing_key_secret_id, settings.secret_max_age_seconds)


def _base_url() -> str:
    # domainName is set by API Gateway (the API's or the custom domain), never by the caller's Host header:
    # a link in someone's inbox must not point wherever a request said.
    return load_settings().public_base_url or f"https://{app.current_event.request_context.domain_name}"


@app.post(
    "/joins", summary="Ask to join the talent community", tags=["joins"],
    responses={202: {"description": "Always the same answer: a confirmation email is sent (or a note to a member)"},
               422: {"description": "Invalid input: each bad field named with its rule"}},
)
def join(request: Annotated[JoinRequest, Body()]) -> Response[JoinAccepted]:
    settings = load_settings()
    touches, members, policy = _stores()
    pepper = email_pepper(settings.email_pepper_secret_id, settings.secret_max_age_seconds)
    # sourceIp is API Gateway's (the TCP peer), never a header the caller writes; only its keyed hash is stored.
    who = requester(request.email, app.current_event.request_context.http.source_ip, pepper)
    outcome = submit_join(request, email_hash(request.email, pepper), utc_now(), policy, _signer(), _base_url(), touches,
                          members, _mail(), browser_context(dict(app.current_event.headers or {})), requester=who,
                          later=_later())
    metrics.add_metric(name="JoinsSubmitted", unit=MetricUnit.Count, value=1)
    if outcome in OUTCOME_METRICS:
        metrics.add_metric(name=OUTCOME_METRICS[outcome], unit=MetricUnit.Count, value=1)
    logger.info("join submitted", extra={"outcome": outcome})
    # The same answer whatever happened: nothing tells a member, a pending address or a limit apart.
    return json_response(202, JoinAccepted(status="pending"))


@app.get(
    "/joins/confirm/<token>", summary="The confirmation page (changes nothing)", tags=["joins"],
    responses={200: {"description": "A page with a button that POSTs to the same URL", "content": {"text/html": {}}},
               410: {"description": "Expired, used or unknown link: an HTML page", "content": {"text/html": {}}}},
)
def confirm_page(token: str) -> Response[str]:
    # Mail scanners prefetch links: a GET only checks the signature, it reads and writes nothing.
    if open_token(token, utc_now(), _signer()) is None:
        return html_response(410, EXPIRED_PAGE)
    return html_response(200, CONFIRM_PAGE)


@app.post(
    "/joins/confirm/<token>", summary="Confirm a join: the member is created and counted", tags=["joins"],
    responses={200: {"description": "Joined: an HTML page", "content": {"text/html": {}}},
               410: {"description": "Expired, used or unknown link: an HTML page", "content": {"text/html": {}}}},
)
def confirm(token: str) -> Response[str]:
    _, members, policy = _stores()
    joined = confirm_join(token, utc_now(), policy, _signer(), members, _conversions(), _scoring())
    metrics.add_metric(name="JoinsConfirmed" if joined else "JoinConfirmRefused", unit=MetricUnit.Count, value=1)
    logger.info("join confirmation", extra={"confirmed": joined})
    return html_response(200, JOINED_PAGE) if joined else html_response(410, EXPIRED_PAGE)


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # The confirmation is a browser form POST (form-encoded, usually empty): its body is ignored, never refused.
    if str(event.get("rawPath") or "").startswith(CONFIRM_PREFIX):
        return app.resolve(event, context)
    return reject_non_json(event) or app.resolve(event, context)
