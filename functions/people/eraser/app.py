"""The eraser: SQS (ErasureQueue) -> one person's data removed, the tombstone kept (attract.people.erasure).

A message is `{"email_hash", "reason", "actor", "requested_at"}` (attract.people.requests). Every step is
idempotent and the leads are saved first, so a redelivery after a crash finishes the work; a message failing
on every receive lands in ErasureDeadLetterQueue (alarmed). The address is never in the message nor in a log.
"""

import json
from functools import lru_cache

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.api import log_unexpected
from attract.clock import utc_now
from attract.observability import logger, metrics, tracer
from attract.people.worker import erase_from_message
from attract.settings import EraserSettings

load_settings = EraserSettings.load
load_settings()

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@lru_cache(maxsize=1)
def _table() -> tuple[str, int]:
    settings = load_settings()
    return settings.table_name, settings.aggregate_shards


def _erase(record: SQSRecord) -> str:
    table, shards = _table()
    try:
        counts = erase_from_message(json.loads(record.body), table, shards, utc_now())
    except Exception as error:
        log_unexpected(error)  # its type and place: SQS delivers the message again, the steps resume
        raise
    logger.info("person erased", extra={"removed": counts})
    return "done"


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return dict(process_partial_response(event=event, record_handler=_erase, processor=processor, context=context))
