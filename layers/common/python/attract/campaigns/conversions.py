"""Conversion feedback (issue 8, issue 12): a confirmed join from an ad, reported to the platform that brought it.

The joins function enqueues one message per such join (attract.joins.feedback: only with the person's
ads consent, never a raw email). Here each message becomes a `Conversion` uploaded to each platform it
names, and each (join, platform) result is recorded in the ledger:
- uploaded: done; a redelivered message or a repeated sweep skips it (the platforms also deduplicate:
  Google on transaction_id, Meta on event_id, both the join id);
- failed, not retryable (a platform refusing this conversion): recorded with its code and never retried;
- failed, retryable (a rate limit, a timeout, a 5xx): recorded, then `RetryableUploadError` so SQS
  delivers the message again, and after maxReceiveCount moves it to the dead-letter queue.

Some platforms refuse a conversion too soon after its click: Google answers TOO_RECENT within 6 hours
and asks to "retry after 6 hours", far beyond what SQS retries cover (3 receives, ~18 minutes), so such
joins used to be dead-lettered. A channel's registry row says how long it needs
(`ConversionsRoute.min_delay`); a conversion not yet due is held as a pending item keyed by its due hour
and uploaded by `sweep`, which a schedule runs every 15 minutes. A platform asking to come back later
(`ConversionResult.retry_after_s`) is held the same way. Nothing is dead-lettered for being early.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from attract.campaigns.channels import ad_channel
from attract.campaigns.models import ChannelName, Conversion, ConversionResult
from attract.campaigns.ports import ConversionUploader, PlatformError, backoff_s

Status = Literal["uploaded", "skipped", "failed", "retry", "scheduled"]
SHA256_HEX = r"^[0-9a-f]{64}$"
# A retryable failure in the sweep comes back 15 min, 30 min, ... (at most 6 hours) later; after this many
# attempts the conversion is recorded as refused (`attract:GAVE_UP`) and never tried again.
SWEEP_RETRY_BASE = timedelta(minutes=15)
SWEEP_RETRY_CAP = timedelta(hours=6)
MAX_SWEEP_ATTEMPTS = 8
# The metric each outcome counts under (a "retry" raises: ConversionUploadRetried)
STATUS_METRICS = {"uploaded": "ConversionsUploaded", "skipped": "ConversionsAlreadySettled", "failed": "ConversionsRefused",
                  "scheduled": "ConversionsHeld"}


class ConversionMessage(BaseModel):
    """The queue message (attract.joins.feedback.conversion_message); versions 1 and 2 are read."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1, 2] = 2
    join_id: str = Field(min_length=1, max_length=100)
    joined_at: AwareDatetime
    channels: list[ChannelName] = Field(min_length=1, max_length=2)
    gclid: str | None = None
    gbraid: str | None = None
    wbraid: str | None = None
    fbclid: str | None = None
    fbclid_at: AwareDatetime | None = None
    email_sha256: str | None = Field(None, pattern=SHA256_HEX)  # Meta's normalisation
    google_email_sha256: str | None = Field(None, pattern=SHA256_HEX)  # Google's (version 2)
    google_click_at: AwareDatetime | None = None  # the latest Google ad touch (version 2)
    # The join form's browser (attract.joins.feedback.browser_context): Meta requires both with website events
    client_user_agent: str | None = Field(None, max_length=512)
    event_source_url: str | None = Field(None, max_length=2048)

    def conversion(self) -> Conversion:
        # Version 1 carried one hash for both: it is Google's too for every address but a Gmail one with dots or a
        # +tag (those Google cannot match by email; a click id still can).
        google_hash = self.google_email_sha256 or (self.email_sha256 if self.v == 1 else None)
        return Conversion(join_id=self.join_id, joined_at=self.joined_at, gclid=self.gclid, gbraid=self.gbraid,
                          wbraid=self.wbraid, fbclid=self.fbclid, fbclid_at=self.fbclid_at,
                          email_sha256=self.email_sha256, google_email_sha256=google_hash,
                          google_click_at=self.google_click_at, client_user_agent=self.client_user_agent,
                          event_source_url=self.event_source_url)

    def due_at(self, channel: str) -> datetime:
        """When `channel` takes this conversion: its click time (the join's, when unknown) + its minimum delay.

        A join always follows its click, so a version 1 message (no click time) is never held too short.
        """
        route = ad_channel(channel).conversions
        clicked = getattr(self, route.click_time_field) if route.click_time_field else None
        return (clicked or self.joined_at) + route.min_delay

    def only(self, channel: str) -> "ConversionMessage":
        return self.model_copy(update={"channels": [channel]})


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


@dataclass(frozen=True)
class PendingConversion:
    """A conversion held until `due_at`: one join for one channel."""

    channel: str
    message: ConversionMessage
    due_at: datetime
    attempts: int = 0  # sweep uploads tried so far
    key: dict[str, Any] = field(default_factory=dict, compare=False)  # the store's own key


class PendingConversions(Protocol):
    def hold(self, channel: str, message: ConversionMessage, due_at: datetime, attempts: int = 0) -> None:
        """Keep it until `due_at`; holding the same (join, channel, due_at) again changes nothing."""
        ...

    def due(self, now: datetime) -> Iterable[PendingConversion]:
        """Every held conversion due at or before `now` that no completed sweep has released."""
        ...

    def release(self, pending: PendingConversion) -> None: ...

    def swept(self, now: datetime) -> None:
        """Everything `due(now)` gave has been released or held again for later: the next sweep starts near `now`."""
        ...


Uploaders = Callable[[str], ConversionUploader]


def upload_all(uploaders: Uploaders, channel: str, conversions: Sequence[Conversion]) -> list[ConversionResult]:
    """One result per conversion: a failure of the whole call (or of building the adapter) is each one's result."""
    try:
        return uploaders(channel).upload_conversions(conversions)
    except PlatformError as error:
        code = ",".join(error.codes) or "platform_error"
        return [ConversionResult(join_id=c.join_id, ok=False, retryable=error.retryable, error=code,
                                 request_id=error.request_id) for c in conversions]


def upload_conversion(message: ConversionMessage, uploaders: Uploaders, ledger: ConversionLedger,
                      pending: PendingConversions, now: datetime) -> dict[str, Status]:
    """Upload one join to each platform its message names that has not settled it yet; record each result.

    A platform whose conversion is not due yet (or that asks to come back later) gets it held for the sweep.
    Raises RetryableUploadError after recording when any platform failed retryably (others stay settled).
    """
    statuses: dict[str, Status] = {}
    for channel in message.channels:
        if ledger.settled(message.join_id, channel):
            statuses[channel] = "skipped"
            continue
        due = message.due_at(channel)
        if due > now:
            pending.hold(channel, message.only(channel), due)
            statuses[channel] = "scheduled"
            continue
        [result] = upload_all(uploaders, channel, [message.conversion()])
        ledger.record(channel, result, now)
        if not result.ok and result.retry_after_s is not None:
            pending.hold(channel, message.only(channel), now + timedelta(seconds=result.retry_after_s))
            statuses[channel] = "scheduled"
        else:
            statuses[channel] = "uploaded" if result.ok else "retry" if result.retryable else "failed"
    retry = [channel for channel, status in statuses.items() if status == "retry"]
    if retry:
        raise RetryableUploadError(retry)
    return statuses


def sweep(pending: PendingConversions, uploaders: Uploaders, ledger: ConversionLedger, now: datetime,
          *, max_attempts: int = MAX_SWEEP_ATTEMPTS) -> Counter[Status]:
    """Upload every held conversion due by `now`, one call per channel; hold again what may succeed later.

    At-least-once all the way: a conversion the ledger has settled is released without a call, so a repeated
    sweep (or one racing a redelivered message) uploads nothing twice on our side.
    """
    counts: Counter[Status] = Counter()
    by_channel: dict[str, list[PendingConversion]] = {}
    for item in pending.due(now):
        by_channel.setdefault(item.channel, []).append(item)
    for channel, items in by_channel.items():
        todo = []
        for item in items:
            if ledger.settled(item.message.join_id, channel):
                pending.release(item)
                counts["skipped"] += 1
            else:
                todo.append(item)
        if not todo:
            continue
        results = upload_all(uploaders, channel, [item.message.conversion() for item in todo])
        for item, result in zip(todo, results, strict=True):
            counts[_settle(pending, ledger, item, result, now, max_attempts)] += 1
    pending.swept(now)
    return counts


def _settle(pending: PendingConversions, ledger: ConversionLedger, item: PendingConversion, result: ConversionResult,
            now: datetime, max_attempts: int) -> Status:
    attempts = item.attempts + 1
    if not result.ok and result.retryable and attempts >= max_attempts:
        result = result.model_copy(update={"retryable": False, "error": f"{result.error or 'platform_error'},attract:GAVE_UP"})
    ledger.record(item.channel, result, now)
    if not result.ok and result.retryable:
        later = (timedelta(seconds=result.retry_after_s) if result.retry_after_s is not None else timedelta(
            seconds=backoff_s(item.attempts, base_s=SWEEP_RETRY_BASE.total_seconds(),
                              cap_s=SWEEP_RETRY_CAP.total_seconds())))
        # Held again before the old item goes: a crash in between leaves a duplicate, which the ledger settles
        pending.hold(item.channel, item.message, now + later, attempts)
    pending.release(item)
    return "uploaded" if result.ok else "scheduled" if result.retryable else "failed"
