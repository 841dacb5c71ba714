"""Amazon SQS for the joins function's conversion feedback: the only module that sends to that queue."""

import json

from botocore.exceptions import ClientError

from attract.aws import client
from attract.observability import logger, metrics


class SqsConversionQueue:
    """`attract.joins.logic.ConversionQueue`: one SendMessage per confirmed ad join; a failure never fails the join."""

    def __init__(self, queue_url: str, sqs=None):
        self.queue_url = queue_url
        self._sqs = sqs

    def send(self, message: dict) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        try:
            (self._sqs or client("sqs")).send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(message))
        except Exception as error:  # noqa: BLE001 - any failure: the join must stand
            # The join stands (it is the member's, not the platforms'); the conversion is lost and counted.
            code = error.response["Error"]["Code"] if isinstance(error, ClientError) else type(error).__name__
            logger.warning("conversion not enqueued", extra={"error_code": code})  # no message: it holds a hash of the email
            metrics.add_metric(name="ConversionEnqueueFailed", unit=MetricUnit.Count, value=1)
            return
        metrics.add_metric(name="ConversionsEnqueued", unit=MetricUnit.Count, value=1)
