"""Conversion feedback (issue 8): a confirmed join from an ad, reported to the platform that brought it.

The joins function enqueues one message per such join (attract.joins.feedback: only with the person's
ads consent, never a raw email). Here each message becomes a `Conversion` uploaded to each platform it
names, and each (join, platform) result is recorded:
- uploaded: done; a redelivered message skips it (the platforms also deduplicate: Google on order_id,
  Meta on event_id, both the join id);
- failed, not retryable (a platform refusing this conversion): recorded with its code and never retried;
- failed, retryable (a rate limit, a timeout, a 5xx): recorded, then `RetryableUploadError` so SQS
  delivers the message again, and after maxReceiveCount moves it to the dead-letter queue.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from attract.campaigns.models import ChannelName, Conversion, ConversionResult
from attract.campaigns.ports import AdsGateway, PlatformError

Status = Literal["uploaded", "skipped", "failed", "retry"]


class ConversionMessage(BaseModel):
    """The queue message (attract.joins.feedback.conversion_message, version 1)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1] = 1
    join_id: str = Field(min_length=1, max_length=100)
    joined_at: AwareDatetime
    channels: list[ChannelName] = Field(min_length=1, max_length=2)
    gclid: str | None = None
    gbraid: str | None = None
    wbraid: str | None = None
    fbclid: str | None = None
    fbclid_at: AwareDatetime | None = None
    email_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    # The join form's browser (attract.joins.feedback.browser_context): Meta requires both with website events
    client_user_agent: str | None = Field(None, max_length=512)
    event_source_url: str | None = Field(None, max_length=2048)

    def conversion(self) -> Conversion:
        return Conversion(join_id=self.join_id, joined_at=self.joined_at, gclid=self.gclid, gbraid=self.gbraid,
                          wbraid=self.wbraid, fbclid=self.fbclid, fbclid_at=self.fbclid_at,
                          email_sha256=self.email_sha256, client_user_agent=self.client_user_agent,
                          event_source_url=self.event_source_url)


class RetryableUploadError(Exception):
    """Some platform failed in a way worth retrying: the message goes back to the queue."""

    def __init__(self, channels: list[str]):
        super().__init__(f"retryable upload failure: {', '.join(channels)}")
        self.channels = channels


class ConversionLedger(Protocol):
    def settled(self, join_id: str, channel: str) -> bool:
        """Uploaded, or refused for good: nothing more to do for this join on this platform."""
        ...

    def record(self, channel: str, result: ConversionResult, at: datetime) -> None: ...


def upload_conversion(message: ConversionMessage, gateway: Callable[[str], AdsGateway], ledger: ConversionLedger,
                      now: datetime) -> dict[str, Status]:
    """Upload one join to each platform its message names that has not settled it yet; record each result.

    Raises RetryableUploadError after recording when any platform failed retryably (others stay settled).
    """
    conversion = message.conversion()
    statuses: dict[str, Status] = {}
    for channel in message.channels:
        if ledger.settled(message.join_id, channel):
            statuses[channel] = "skipped"
            continue
        try:
            [result] = gateway(channel).upload_conversions([conversion])
        except PlatformError as error:
            result = ConversionResult(join_id=message.join_id, ok=False, retryable=error.retryable,
                                      error=",".join(error.codes) or "platform_error")
        ledger.record(channel, result, now)
        statuses[channel] = "uploaded" if result.ok else "retry" if result.retryable else "failed"
    retry = [channel for channel, status in statuses.items() if status == "retry"]
    if retry:
        raise RetryableUploadError(retry)
    return statuses
