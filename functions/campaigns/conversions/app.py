"""Conversion feedback: SQS (confirmed joins from ads, enqueued by the joins function) -> Google (Data Manager
API) / Meta (Conversions API).

Partial batch responses: a message whose upload failed retryably is retried by SQS alone and, after
maxReceiveCount, lands in the dead-letter queue; a refused conversion is recorded and not retried. A
conversion a platform does not take yet (Google: 6 hours after the click) is held for the sweep
(functions/campaigns/conversion_sweep), never retried early. The per-message logic is
attract.campaigns.conversions; adapters come from attract.campaigns.gateways.
"""

import json
from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.campaigns.conversions import (
    STATUS_METRICS,
    ConversionMessage,
    RetryableUploadError,
    Uploaders,
    upload_conversion,
)
from attract.campaigns.conversions_repository import ConversionRepository, PendingConversionRepository
from attract.campaigns.gateways import uploaders
from attract.clock import utc_now
from attract.observability import logger, metrics, tracer
from attract.settings import ConversionsSettings

load_settings = ConversionsSettings.load
load_settings()

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@lru_cache(maxsize=1)
def _ledger() -> ConversionRepository:
    return ConversionRepository(load_settings().table_name)


@lru_cache(maxsize=1)
def _held() -> PendingConversionRepository:
    return PendingConversionRepository(load_settings().table_name)


def _upload(record: SQSRecord, batch_uploaders: Uploaders) -> dict:
    message = ConversionMessage.model_validate(json.loads(record.body))
    try:
        statuses = upload_conversion(message, batch_uploaders, _ledger(), _held(), utc_now())
    except RetryableUploadError as error:
        metrics.add_metric(name="ConversionUploadRetried", unit=MetricUnit.Count, value=len(error.channels))
        logger.warning("conversion upload to retry", extra={"join_id": message.join_id, "channels": error.channels})
        raise
    for status in statuses.values():
        metrics.add_metric(name=STATUS_METRICS[status], unit=MetricUnit.Count, value=1)
    logger.info("conversion", extra={"join_id": message.join_id, "statuses": statuses})
    return statuses


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # The adapters (and their SDKs) are imported only for a platform a message names, once per batch.
    batch_uploaders = uploaders(load_settings())
    return dict(process_partial_response(event=event, record_handler=lambda record: _upload(record, batch_uploaders),
                                         processor=processor, context=context))
