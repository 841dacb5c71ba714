"""Spend sync (issue 8): each ads platform's daily spend, mapped to our campaigns, stored for the report.

Every hour the spend function asks each platform for yesterday and today and stores one item per
(platform campaign, day) in the partitions the attribution report Queries (docs/data-model.md,
"Spend"): the report joins spend with credited joins in the Query it already makes. A day synced again
is replaced (PutItem of the day's value), never added to, so any number of runs gives the same sums.

Only campaigns Attract launched are stored: the launch registers each platform campaign id
(`register_platform_campaign`); spend of any other campaign in the account is ignored and counted.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from attract.campaigns.channels import ad_channel
from attract.campaigns.models import SpendRow
from attract.campaigns.ports import PlatformError

SYNC_DAYS = 2  # yesterday and today: yesterday's figures still move for a few hours after midnight


@dataclass(frozen=True)
class PlatformCampaign:
    """A platform campaign Attract launched: what its spend is reported under."""

    channel: str  # a channel of the registry (attract.campaigns.channels)
    platform_campaign_id: str
    campaign_id: str  # ours
    name: str  # the draft's name = the campaign its tracked links carry
    source: str | None = None  # the tracked links' source, when the launch knows it

    @property
    def report_keys(self) -> dict[str, str]:
        """Dimension -> the report key this campaign's spend is counted under."""
        # The launch's tracked links carry the registry's report channel: spend is reported under it too.
        keys = {"channel": ad_channel(self.channel).report_channel.value, "campaign": self.name}
        if self.source:
            keys["source"] = self.source
        return keys


@dataclass
class SyncOutcome:
    """One channel's run. `unknown_campaigns`: platform campaigns in the account that Attract did not launch."""

    channel: str
    start: date
    end: date
    ok: bool = True
    rows_stored: int = 0
    unknown_campaigns: int = 0
    unknown_rows: int = 0
    error_codes: list[str] = field(default_factory=list)
    spend: dict[tuple[date, str], Decimal] = field(default_factory=dict)  # stored cost per (day, currency)


class SpendSource(Protocol):
    """The part of an AdsGateway (attract.campaigns.ports) the sync uses."""

    @property
    def channel(self) -> str: ...

    def spend(self, start: date, end: date) -> list[SpendRow]: ...


class SpendStore(Protocol):
    def platform_campaigns(self, channel: str, platform_ids: Iterable[str]) -> dict[str, PlatformCampaign]:
        """The registered campaigns among `platform_ids` (others absent)."""
        ...

    def put_days(self, rows: Sequence[tuple[SpendRow, PlatformCampaign]], synced_at: datetime) -> None:
        """Store each (campaign, day): replaces what an earlier sync stored for it."""
        ...

    def record_sync(self, outcome: SyncOutcome, at: datetime) -> None: ...


def sync_window(now: datetime, days: int = SYNC_DAYS) -> tuple[date, date]:
    """Yesterday..today in UTC. The platforms report days in the ad account's time zone: an account far
    from UTC has a "today" that is already, or still, another UTC day; syncing two days covers it."""
    today = now.date()
    return today - timedelta(days=days - 1), today


def sync_channel(gateway: SpendSource, store: SpendStore, start: date, end: date, now: datetime) -> SyncOutcome:
    """Fetch one platform's spend for start..end and store what belongs to campaigns Attract launched.

    A platform error is an outcome (recorded, its codes kept), not an exception: the other channel
    still syncs, and the next hour tries again.
    """
    outcome = SyncOutcome(channel=gateway.channel, start=start, end=end)
    try:
        rows = [row for row in gateway.spend(start, end) if start <= row.day <= end]
    except PlatformError as error:
        outcome.ok, outcome.error_codes = False, list(error.codes) or ["platform_error"]
        store.record_sync(outcome, now)
        return outcome
    known = store.platform_campaigns(gateway.channel, {row.platform_campaign_id for row in rows})
    stored = [(row, known[row.platform_campaign_id]) for row in rows if row.platform_campaign_id in known]
    unknown = {row.platform_campaign_id for row in rows if row.platform_campaign_id not in known}
    store.put_days(stored, now)
    for row, _ in stored:
        outcome.spend[(row.day, row.currency)] = outcome.spend.get((row.day, row.currency), Decimal(0)) + row.cost
    outcome.rows_stored, outcome.unknown_rows, outcome.unknown_campaigns = len(stored), len(rows) - len(stored), len(unknown)
    store.record_sync(outcome, now)
    return outcome


def sync_all(gateways: dict[str, Callable[[], SpendSource]], store: SpendStore, now: datetime) -> list[SyncOutcome]:
    """Every channel, each on its own: a channel whose gateway cannot even be built (secret, network) fails alone."""
    start, end = sync_window(now)
    outcomes = []
    for channel, build in gateways.items():
        try:
            outcomes.append(sync_channel(build(), store, start, end, now))
        except Exception as error:  # noqa: BLE001 - one channel's failure must not stop the other
            failed = SyncOutcome(channel=channel, start=start, end=end, ok=False, error_codes=[type(error).__name__])
            store.record_sync(failed, now)
            outcomes.append(failed)
    return outcomes


def day_spend(outcomes: Iterable[SyncOutcome]) -> dict[str, Decimal]:
    """Per currency, the highest day's spend of the window on the campaigns Attract launched, all channels added.

    What the daily-spend alarm watches (template.yaml, `AdSpendDay`). Each sync carries a day's full value so
    far (never an increment), so the figure is a level, not a sum: the highest of the window's days, because an
    account far from UTC is still, or already, on another day. Currencies are never converted or added together:
    the platforms report in each ad account's currency, and no exchange rate is ours to choose.
    """
    days: dict[tuple[date, str], Decimal] = {}
    for outcome in outcomes:
        for key, cost in outcome.spend.items():
            days[key] = days.get(key, Decimal(0)) + cost
    highest: dict[str, Decimal] = {}
    for (_, currency), cost in days.items():
        highest[currency] = max(cost, highest.get(currency, cost))
    return highest
