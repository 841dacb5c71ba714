"""Ads spend sync: every hour (EventBridge schedule), yesterday's and today's spend of each platform.

Each channel syncs on its own: a platform error or a missing secret on one is recorded (its last sync,
a metric) and the other still syncs. The logic is attract.campaigns.spend; the gateways are built
in one place (attract.campaigns.gateways), which loads each ads SDK only when its channel syncs.
"""

from functools import lru_cache, partial

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.campaigns.channels import AD_CHANNELS
from attract.campaigns.ports import AdsGateway
from attract.campaigns.spend import day_spend, sync_all
from attract.campaigns.spend_repository import SpendRepository
from attract.clock import utc_now
from attract.observability import logger, metrics, tracer
from attract.settings import SpendSyncSettings

load_settings = SpendSyncSettings.load
load_settings()

CHANNELS = tuple(AD_CHANNELS)


@lru_cache(maxsize=1)
def _store() -> SpendRepository:
    return SpendRepository(load_settings().table_name)


def _gateway(channel: str) -> AdsGateway:
    # The adapter (and its SDK) is imported only for a channel that syncs; gateway_for caches the secret.
    from attract.campaigns.gateways import gateway_for

    return gateway_for(channel, load_settings())


def _count(name: str, channel: str, value: int) -> None:
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=load_settings().metrics_namespace,
                       default_dimensions={"channel": channel}):
        pass


def _amount(currency: str, value: float) -> None:
    # The day's spend in one currency (attract.campaigns.spend.day_spend): the daily-spend alarm's metric.
    with single_metric(name="AdSpendDay", unit=MetricUnit.NoUnit, value=value, namespace=load_settings().metrics_namespace,
                       default_dimensions={"currency": currency}):
        pass


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    outcomes = sync_all({channel: partial(_gateway, channel) for channel in CHANNELS}, _store(), utc_now())
    for outcome in outcomes:
        _count("SpendRowsStored", outcome.channel, outcome.rows_stored)
        _count("SpendUnknownCampaigns", outcome.channel, outcome.unknown_campaigns)
        _count("SpendSyncFailed", outcome.channel, 0 if outcome.ok else 1)
        log = logger.info if outcome.ok else logger.warning
        log("spend sync", extra={"channel": outcome.channel, "ok": outcome.ok, "rows_stored": outcome.rows_stored,
                                 "unknown_campaigns": outcome.unknown_campaigns, "error_codes": outcome.error_codes})
    for currency, amount in sorted(day_spend(outcomes).items()):
        _amount(currency, float(amount))
    return {"channels": {o.channel: {"ok": o.ok, "rows_stored": o.rows_stored, "unknown_campaigns": o.unknown_campaigns,
                                     "unknown_rows": o.unknown_rows, "error_codes": o.error_codes} for o in outcomes}}
