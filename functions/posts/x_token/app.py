"""X token refresh (scheduled, every 30 minutes): the X secret's OAuth 2.0 user token renewed before its two hours
are up (attract.providers.x_tokens). One run at a time (reserved concurrency 1): a refresh token is spent by its use.

A refusal (the refresh token used or revoked, the app's client changed) raises after a metric and an error log:
the function's error alarm calls a person to authorize the app again. X unreachable raises too: EventBridge's
retries, then the next run 30 minutes later, try again while the token still has over 15 minutes left.
"""

from functools import lru_cache

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.clock import scheduled_at, utc_now
from attract.observability import logger, metrics, tracer
from attract.providers.x_tokens import RefreshRefused, RefreshUnavailable, refresh_if_due
from attract.settings import XTokenRefreshSettings

load_settings = XTokenRefreshSettings.load
load_settings()


@lru_cache(maxsize=1)
def _secrets():
    return boto3.client("secretsmanager")


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = load_settings()
    # The later of the clock and the event's time: a retried event never makes the token look fresher than it is,
    # and `make fire ... at=` can run it as of hours ahead.
    now = max(utc_now(), scheduled_at(event) or utc_now())
    try:
        outcome = refresh_if_due(settings.x_secret_id, settings.x_api_url, now, secrets=_secrets())
    except (RefreshRefused, RefreshUnavailable) as error:
        metrics.add_metric(name="XTokenRefreshFailed", unit=MetricUnit.Count, value=1)
        refused = isinstance(error, RefreshRefused)
        logger.error("X token refresh failed", extra={"refused": refused, "reason": str(error),
                                                      "action": "authorize the X app again" if refused else "retried"})
        raise
    metrics.add_metric(name="XTokenRefreshed", unit=MetricUnit.Count, value=int(outcome.status == "refreshed"))
    logger.info("X token refresh", extra={"status": outcome.status,
                                          "expires_at": outcome.expires_at.isoformat() if outcome.expires_at else None})
    return outcome.model_dump(mode="json")
