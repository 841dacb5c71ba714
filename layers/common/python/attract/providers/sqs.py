"""SQS producer: SendMessageBatch in batches of 10 (and at most 256 KiB), retrying failed entries."""

import time
from collections.abc import Callable
from typing import Any

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
            from attract.aws import client

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
        pending = {str(index): body for index, body in enumerate(bodies)}
        for attempt in range(_ATTEMPTS):
            self.calls += 1
            response = self.client.send_message_batch(
                QueueUrl=self.queue_url, Entries=[{"Id": key, "MessageBody": body} for key, body in pending.items()])
            failed = response.get("Failed") or []
            # A sender's fault (a malformed entry) will not pass on a retry: say so instead of looping.
            if any(entry.get("SenderFault") for entry in failed):
                codes = sorted({entry.get("Code", "") for entry in failed if entry.get("SenderFault")})
                raise RuntimeError(f"SQS refused {len(failed)} entries: {', '.join(codes)}")
            pending = {entry["Id"]: pending[entry["Id"]] for entry in failed}
            if not pending:
                return
            self._sleep(min(0.1 * 2 ** attempt, 2.0))
        raise RuntimeError(f"SQS did not accept {len(pending)} entries after {_ATTEMPTS} attempts")
