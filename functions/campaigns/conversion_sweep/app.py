"""Conversion sweep: every 15 minutes, the conversions held until their platform takes them (Google: 6 hours
after the click) are uploaded, or held again for later (attract.campaigns.conversions.sweep).

It works as of the schedule's time (the event's `time`): a retried invocation does the same work, and the
local stack can fire it as of a later time (attract_local.conversions.sweep_at).
"""

from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.campaigns.conversions import STATUS_METRICS, sweep
from attract.campaigns.conversions_repository import ConversionRepository, PendingConversionRepository
from attract.campaigns.gateways import uploaders
from attract.clock import scheduled_at, utc_now
from attract.observability import logger, metrics, tracer
from attract.settings import ConversionSweepSettings

load_settings = ConversionSweepSettings.load
load_settings()



@lru_cache(maxsize=1)
def _ledger() -> ConversionRepository:
    return ConversionRepository(load_settings().table_name)


@lru_cache(maxsize=1)
def _held() -> PendingConversionRepository:
    return PendingConversionRepository(load_settings().table_name)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    now = scheduled_at(event) or utc_now()
    counts = sweep(_held(), uploaders(load_settings()), _ledger(), now)
    for status, count in counts.items():
        metrics.add_metric(name=STATUS_METRICS[status], unit=MetricUnit.Count, value=count)
    logger.info("conversion sweep", extra={"as_of": now.isoformat(), "counts": dict(counts)})
    return {"as_of": now.isoformat(), "counts": dict(counts)}
