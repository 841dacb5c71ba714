"""Posts metrics sync (scheduled): each published post's impressions and clicks into the report's aggregates.

Each channel on its own (attract.posts.metrics): a platform error is recorded as a metric and a warning, and the
next run tries again. The adapters, and their SDKs, are imported only for a channel with posts to count.
"""

from functools import lru_cache, partial

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.clock import utc_now
from attract.observability import logger, metrics, tracer
from attract.posts.channels import ORGANIC_CHANNELS
from attract.posts.gateways import organic_gateway
from attract.posts.live_repository import LivePostRepository
from attract.posts.metrics import sync_metrics
from attract.settings import PostsMetricsSettings

load_settings = PostsMetricsSettings.load
load_settings()


@lru_cache(maxsize=1)
def _live() -> LivePostRepository:
    return LivePostRepository(load_settings().table_name)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = load_settings()
    outcomes = sync_metrics({channel: partial(organic_gateway, channel, settings) for channel in ORGANIC_CHANNELS},
                            _live(), utc_now())
    for outcome in outcomes:
        with single_metric(name="PostMetricsSyncFailed", unit=MetricUnit.Count, value=0 if outcome.ok else 1,
                           namespace=settings.metrics_namespace, default_dimensions={"channel": outcome.channel}):
            pass
        log = logger.info if outcome.ok else logger.warning
        log("post metrics sync", extra={"channel": outcome.channel, "posts": outcome.posts, "stored": outcome.stored,
                                        "ok": outcome.ok, "error_codes": outcome.error_codes})
    return {"channels": {o.channel: {"ok": o.ok, "posts": o.posts, "stored": o.stored, "error_codes": o.error_codes}
                         for o in outcomes}}
