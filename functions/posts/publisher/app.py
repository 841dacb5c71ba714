"""Posts publisher: PostsQueue -> Facebook Page, LinkedIn organisation, X (never a public function).

One message per (post, channel) to publish or delete; a schedule's message (no channel) fans out into those.
At most once per channel: attract.posts.publishing claims before every call and looks for a lost answer's post
before posting again. A message that must come back later (a rate limit, a lost answer) has its visibility
pushed out and is reported as a batch item failure: the other messages of the batch are not held.
"""

import json
from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.audit import Actor, audit
from attract.aws import client
from attract.clock import utc_now
from attract.observability import logger, metrics, tracer
from attract.posts.gateways import organic_gateway
from attract.posts.live_repository import LivePostRepository
from attract.posts.models import PostMessage
from attract.posts.ports import OrganicGateway
from attract.posts.publishing import RetryLaterError, delete_channel, fan_out, publish_channel
from attract.posts.repository import PostRepository
from attract.settings import PostsPublisherSettings

load_settings = PostsPublisherSettings.load
load_settings()

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
PUBLISHER = Actor.system("posts-publisher")
MAX_VISIBILITY_S = 43_200  # SQS's limit (12 hours)
STATUS_METRICS = {"published": "PostChannelsPublished", "failed": "PostChannelsFailed", "deleted": "PostChannelsDeleted"}


@lru_cache(maxsize=1)
def _posts() -> PostRepository:
    return PostRepository(load_settings().table_name)


@lru_cache(maxsize=1)
def _live() -> LivePostRepository:
    return LivePostRepository(load_settings().table_name)


def _audit(action: str, post_id: str, details: dict) -> None:
    audit(action, "post", post_id, actor=PUBLISHER, request={"post_id": post_id, **details}, details=details)


def _send(body: dict) -> None:
    client("sqs").send_message(QueueUrl=load_settings().posts_queue_url, MessageBody=json.dumps(body))


def _handle(record: SQSRecord) -> str:
    message = PostMessage.model_validate(json.loads(record.body))
    settings = load_settings()
    if message.channel is None:
        return f"fanned out {fan_out(message, _posts(), _send)}"
    channel = message.channel

    def gateway() -> OrganicGateway:
        return organic_gateway(channel, settings)

    try:
        if message.action == "publish":
            state = publish_channel(message.post_id, channel, posts=_posts(), live=_live(), gateway=gateway,
                                    now=utc_now, audit=_audit)
        else:
            state = delete_channel(message.post_id, channel, posts=_posts(), live=_live(), gateway=gateway,
                                   now=utc_now, audit=_audit)
    except RetryLaterError as error:
        # Back off per receive (doubling), within SQS's bound; the message is this batch's failure, no one else's.
        receives = int(record.attributes.approximate_receive_count or 1)
        delay = min(MAX_VISIBILITY_S, error.delay_s * 2 ** (receives - 1))
        client("sqs").change_message_visibility(QueueUrl=settings.posts_queue_url, ReceiptHandle=record.receipt_handle,
                                                VisibilityTimeout=delay)
        metrics.add_metric(name="PostsRetried", unit=MetricUnit.Count, value=1)
        logger.warning("post channel to retry", extra={"post_id": message.post_id, "channel": channel,
                                                       "action": message.action, "delay_s": delay})
        raise
    status = state.status if state else "absent"
    if status in STATUS_METRICS:
        metrics.add_metric(name=STATUS_METRICS[status], unit=MetricUnit.Count, value=1)
    logger.info("post channel", extra={"post_id": message.post_id, "channel": channel, "action": message.action,
                                       "status": status})
    return status


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return dict(process_partial_response(event=event, record_handler=_handle, processor=processor, context=context))
