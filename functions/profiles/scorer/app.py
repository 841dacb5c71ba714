"""The profile scorer: SQS (ScoringQueue) -> scores, matches and relevance aggregates (attract.relevance.worker).

Messages: `{"kind": "member", "email_hash"}` from the join's confirmation (scored against every profile),
`{"kind": "profile", "profile_id", "version", "cursor"}` (one page of the member index against that version,
then the next page's message), `{"kind": "profile_deleted", ...}` (its matches un-counted). Partial batch
responses: a failed message is retried by SQS and, after maxReceiveCount, lands in ScoringDeadLetterQueue.
"""

import json
from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.api import log_unexpected
from attract.observability import logger, metrics, tracer
from attract.providers.sqs import SqsScoringQueue
from attract.relevance.member_repository import ScoreRepository
from attract.relevance.profile_repository import ProfileRepository
from attract.relevance.scoring import member_facts, score, warm
from attract.relevance.worker import handle
from attract.settings import ProfileScorerSettings

load_settings = ProfileScorerSettings.load
load_settings()
warm()  # the taxonomy and GeoNames, once per environment

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@lru_cache(maxsize=1)
def _stores() -> tuple[ProfileRepository, ScoreRepository, SqsScoringQueue]:
    settings = load_settings()
    return (ProfileRepository(settings.table_name), ScoreRepository(settings.table_name, shards=settings.aggregate_shards),
            SqsScoringQueue(settings.scoring_queue_url))


def _score(record: SQSRecord) -> str:
    profiles, store, queue = _stores()
    try:
        outcome, tally = handle(json.loads(record.body), profiles, store, queue, score, member_facts)
    except Exception as error:
        log_unexpected(error)  # its type and place: the batch reports the message failed, SQS delivers it again
        raise
    metrics.add_metric(name="MembersScored", unit=MetricUnit.Count, value=tally.scored)
    logger.info("scoring message", extra={"outcome": outcome, "changed": tally.scored, "entered": tally.entered,
                                          "left": tally.left, "already": tally.already})
    return outcome


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return dict(process_partial_response(event=event, record_handler=_score, processor=processor, context=context))
