"""Amazon SQS producers: the planner's batched sender, the joins function's conversion feedback and its
deferred confirmation mails."""

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from attract.aws import client
from attract.observability import logger, metrics
from attract.retry import drain

MAX_ENTRIES = 10
MAX_BATCH_BYTES = 262_144  # SQS's limit for a whole batch, as for one message
_ATTEMPTS = 5


class SqsBatchSender:
    """Sends message bodies to one queue. `send` returns once every body was accepted, or raises."""

    def __init__(self, queue_url: str, client: Any = None, sleep: Callable[[float], None] = time.sleep):
        self.queue_url = queue_url
        self._client = client
        self._sleep = sleep
        self.calls = 0

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client("sqs")
        return self._client

    def send(self, bodies: list[str]) -> None:
        batch: list[str] = []
        size = 0
        for body in bodies:
            length = len(body.encode())
            if batch and (len(batch) == MAX_ENTRIES or size + length > MAX_BATCH_BYTES):
                self._send_batch(batch)
                batch, size = [], 0
            batch.append(body)
            size += length
        if batch:
            self._send_batch(batch)

    def _send_batch(self, bodies: list[str]) -> None:
        def step(pending: dict[str, str]) -> dict[str, str]:
            self.calls += 1
            response = self.client.send_message_batch(
                QueueUrl=self.queue_url, Entries=[{"Id": key, "MessageBody": body} for key, body in pending.items()])
            failed = response.get("Failed") or []
            # A sender's fault (a malformed entry) will not pass on a retry: say so instead of looping.
            if any(entry.get("SenderFault") for entry in failed):
                codes = sorted({entry.get("Code", "") for entry in failed if entry.get("SenderFault")})
                raise RuntimeError(f"SQS refused {len(failed)} entries: {', '.join(codes)}")
            return {entry["Id"]: pending[entry["Id"]] for entry in failed}

        drain(step, {str(index): body for index, body in enumerate(bodies)}, attempts=_ATTEMPTS, base_s=0.1,
              cap_s=2.0, sleep=self._sleep, what=f"SQS did not accept every entry after {_ATTEMPTS} attempts")


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


class SqsMailQueue:
    """`attract.joins.logic.MailQueue`: a confirmation mail put off, as a delayed message naming the pending join.

    Raises when SQS refuses: the join then releases its limits (nothing is held that no mail will follow).
    """

    MAX_DELAY = 900  # SQS DelaySeconds' maximum

    def __init__(self, queue_url: str, sqs=None):
        self.queue_url = queue_url
        self._sqs = sqs

    def defer(self, message: dict, delay_seconds: int) -> None:
        (self._sqs or client("sqs")).send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(message),
                                                  DelaySeconds=max(0, min(self.MAX_DELAY, int(delay_seconds))))


class SqsScoringQueue:
    """`attract.relevance.profiles.ScoringQueue`: work for the profile scorer (a member's hash or a profile id,
    never personal data). Raises when SQS refuses: the caller's message is then retried."""

    def __init__(self, queue_url: str, sqs=None):
        self.queue_url = queue_url
        self._sqs = sqs

    def send(self, message: dict) -> None:
        (self._sqs or client("sqs")).send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(message))

    def member_joined(self, email_hash: str) -> None:
        """`attract.joins.logic.ScoringNotice`: the join stands whatever SQS answers."""
        from aws_lambda_powertools.metrics import MetricUnit

        try:
            self.send({"kind": "member", "email_hash": email_hash})
        except Exception as error:  # noqa: BLE001 - any failure: the join must stand
            code = error.response["Error"]["Code"] if isinstance(error, ClientError) else type(error).__name__
            logger.warning("member not queued for scoring", extra={"error_code": code})
            metrics.add_metric(name="ScoringEnqueueFailed", unit=MetricUnit.Count, value=1)
