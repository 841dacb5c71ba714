"""Conversion feedback: SQS (confirmed joins from ads, enqueued by the joins function) -> Google Ads / Meta.

Partial batch responses: a message whose upload failed retryably is retried by SQS alone and, after
maxReceiveCount, lands in the dead-letter queue; a refused conversion is recorded and not retried.
The per-message logic is attract.campaigns.conversions; gateways come from attract.campaigns.gateways.
"""

import json
from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.campaigns.conversions import ConversionMessage, RetryableUploadError, upload_conversion
from attract.campaigns.conversions_repository import ConversionRepository
from attract.campaigns.ports import AdsGateway
from attract.clock import utc_now
from attract.observability import logger, metrics, tracer
from attract.settings import ConversionsSettings

load_settings = ConversionsSettings.load
load_settings()

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
METRICS = {"uploaded": "ConversionsUploaded", "skipped": "ConversionsAlreadySettled", "failed": "ConversionsRefused"}


@lru_cache(maxsize=1)
def _ledger() -> ConversionRepository:
    return ConversionRepository(load_settings().table_name)


_batch_gateways: dict[str, AdsGateway] = {}  # built once per batch: a rotated secret is picked up by the next one


def _gateway(channel: str) -> AdsGateway:
    # The adapter (and its SDK) is imported only for a platform a message names.
    if channel not in _batch_gateways:
        from attract.campaigns.gateways import gateway_for

        _batch_gateways[channel] = gateway_for(channel, load_settings())
    return _batch_gateways[channel]


def _upload(record: SQSRecord) -> dict:
    message = ConversionMessage.model_validate(json.loads(record.body))
    try:
        statuses = upload_conversion(message, _gateway, _ledger(), utc_now())
    except RetryableUploadError as error:
        metrics.add_metric(name="ConversionUploadRetried", unit=MetricUnit.Count, value=len(error.channels))
        logger.warning("conversion upload to retry", extra={"join_id": message.join_id, "channels": error.channels})
        raise
    for status in statuses.values():
        metrics.add_metric(name=METRICS[status], unit=MetricUnit.Count, value=1)
    logger.info("conversion", extra={"join_id": message.join_id, "statuses": statuses})
    return statuses


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    _batch_gateways.clear()
    return dict(process_partial_response(event=event, record_handler=_upload, processor=processor, context=context))
