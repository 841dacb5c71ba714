"""The campaigns domain's ports: what every ads platform adapter offers, and the errors they raise.

The adapters (`attract.providers.google_ads`, `attract.providers.google_datamanager`, `attract.providers.meta`,
named by the channel registry `attract.campaigns.channels`) depend on this module and import their SDK; this
module imports none, so the campaigns domain and its tests can name the interface without loading an SDK.
Ports live in the domain, adapters depend on it, never the reverse.

Two ports, because a platform may take conversions through another API than its campaigns: `AdsGateway`
(launch, status, spend) and `ConversionUploader` (confirmed joins fed back). Meta's one adapter is both;
Google's conversions go through the Data Manager API, not the Google Ads API (docs/decisions.md).
"""

import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Literal, Protocol, TypeVar

from attract import retry
from attract.campaigns.models import Conversion, ConversionResult, LaunchPlan, PlatformIds, SpendRow

PlatformStatus = Literal["ENABLED", "PAUSED", "REMOVED"]
T = TypeVar("T")


class PlatformError(Exception):
    """A platform refused a call. `codes` are the platform's own error codes (never personal data)."""

    def __init__(self, platform: str, message: str, codes: Sequence[str] = (), request_id: str | None = None,
                 retryable: bool = False):
        super().__init__(message)
        self.platform, self.message, self.codes = platform, message, list(codes)
        self.request_id, self.retryable = request_id, retryable

    def as_json(self) -> dict:
        return {"platform": self.platform, "message": self.message, "codes": self.codes,
                "request_id": self.request_id}


class RateLimited(PlatformError):
    """Google RESOURCE_EXHAUSTED, Meta codes 17, 613, 80004: retried with backoff, then surfaced."""

    def __init__(self, platform: str, message: str, codes: Sequence[str] = (), request_id: str | None = None):
        super().__init__(platform, message, codes, request_id, retryable=True)


class AdsGateway(Protocol):
    channel: str  # a name of the channel registry (attract.campaigns.channels)

    def preflight(self, plan: LaunchPlan) -> list[str]:
        """What the account says of the draft before anything is created anywhere (its currency, time zone,
        the secret's declarations): RulesBrokenError (422) or PlatformError when it refuses; else warnings.

        The launch asks every channel first, so a draft one platform refuses creates nothing on the others.
        """
        ...

    def create_paused(self, plan: LaunchPlan, done: PlatformIds) -> PlatformIds:
        """Create what `done` lacks, everything PAUSED; find a half-made launch by name/external id first.

        Returns every id (status PAUSED, or what the platform object already has). Raises PlatformError.
        Calling it again after any failure finishes the creation and never creates a second campaign.
        The launch creates every channel paused before it activates any: a channel failing half-way
        leaves nothing spending.
        """
        ...

    def activate(self, ids: PlatformIds) -> PlatformIds:
        """Enable the campaign and everything under it (children first); repeating it is harmless."""
        ...

    def dry_run(self, plan: LaunchPlan) -> list[str]:
        """The whole creation sent with the platform's validate-only option: nothing is created.

        Returns the platform's warnings (empty when it accepted everything); raises PlatformError with
        the platform's codes when it refuses.
        """
        ...

    def set_status(self, ids: PlatformIds, status: PlatformStatus) -> PlatformIds: ...

    def spend(self, start: date, end: date) -> list[SpendRow]:
        """Daily spend of every campaign this account has, days start..end inclusive."""
        ...


class ConversionUploader(Protocol):
    channel: str  # a name of the channel registry (attract.campaigns.channels)

    def upload_conversions(self, conversions: Sequence[Conversion]) -> list[ConversionResult]:
        """One result per conversion, in order; a per-item failure is a result, not an exception.

        Raises PlatformError (RateLimited after the adapter's backoff) when the whole call failed.
        """
        ...


def backoff_s(attempt: int, *, base_s: float, cap_s: float) -> float:
    """The exponential backoff bound before retry `attempt` (0-based): base, doubling, capped."""
    return retry.backoff_bound(attempt, base_s, cap_s)


def with_backoff(call: Callable[[], T], *, attempts: int = 5, base_s: float = 0.5, cap_s: float = 20.0,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """`call()`, retried on RateLimited with full-jitter exponential backoff; the last RateLimited is raised."""
    return retry.with_backoff(call, retry_on=RateLimited, attempts=attempts, base_s=base_s, cap_s=cap_s, sleep=sleep)
