"""Deferred join confirmations: SQS (JoinMailQueue) -> SES, once each, within the account's hourly cap.

POST /joins holds every join; above `JoinMailsPerHour` (or when SES failed) its mail waits here as a delayed
message naming the pending join (no address). `attract.joins.logic.send_deferred` sends it when the hour
allows, or queues it again for the next hour. Partial batch responses: a failed send is retried by SQS and,
after maxReceiveCount, lands in the dead-letter queue.
"""

import json
from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.clock import utc_now
from attract.joins.logic import JoinPolicy, send_deferred
from attract.joins.repository import MemberRepository
from attract.observability import logger, metrics, tracer
from attract.providers.ses import SesMailSender
from attract.providers.sqs import SqsMailQueue
from attract.settings import JoinMailerSettings
from attract.signing import signer_for

load_settings = JoinMailerSettings.load
load_settings()

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
METRICS = {"mailed": "JoinMailsSentLater", "member_noted": "JoinMailsSentLater", "deferred": "JoinMailsDeferred",
           "gone": "JoinMailsNoLongerNeeded", "sent_already": "JoinMailsAlreadySent"}


@lru_cache(maxsize=1)
def _stores() -> tuple[JoinPolicy, MemberRepository, SesMailSender, SqsMailQueue]:
    settings = load_settings()
    return (JoinPolicy(mails_per_hour=settings.join_mails_per_hour), MemberRepository(settings.table_name),
            SesMailSender(settings.mail_from_address), SqsMailQueue(settings.join_mail_queue_url))


def _send(record: SQSRecord) -> str:
    settings = load_settings()
    policy, members, mail, later = _stores()
    signer = signer_for(settings.signing_key_secret_id, settings.secret_max_age_seconds)
    outcome = send_deferred(json.loads(record.body), utc_now(), policy, signer, members, mail, later)
    metrics.add_metric(name=METRICS[outcome], unit=MetricUnit.Count, value=1)
    logger.info("deferred join mail", extra={"outcome": outcome})
    return outcome


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return dict(process_partial_response(event=event, record_handler=_send, processor=processor, context=context))
