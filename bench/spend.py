"""Ad spend in the report: what an hourly sync costs in DynamoDB calls, what the report reads for 30 and 90 days
with and without spend (it must stay at 2 Queries), and the day's spend item size as campaigns grow.
Printed, never asserted (`make bench`). DynamoDB is the moto server of the local stack.
"""

import sys
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common/python")]

from attract.attribution.credit import AttributionModel  # noqa: E402
from attract.attribution.logic import attribution_report  # noqa: E402
from attract.attribution.models import GroupBy  # noqa: E402
from attract.attribution.repository import AggregateRepository, item_bytes  # noqa: E402
from attract.campaigns.models import ChannelName, SpendRow  # noqa: E402
from attract.campaigns.spend import sync_channel  # noqa: E402
from attract.campaigns.spend_repository import SPEND_SHARDS, SpendRepository, spend_key  # noqa: E402
from attract_local.stack import LocalAws  # noqa: E402

TODAY = datetime.now(timezone.utc).date()
CAMPAIGNS = 12  # per platform


class Account:
    """An ads account with `campaigns` campaigns spending every day (the platforms' own unit: the day's total)."""

    def __init__(self, channel: ChannelName, campaigns: int):
        self.channel, self.campaigns = channel, campaigns

    def spend(self, start: date, end: date) -> list[SpendRow]:
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        return [SpendRow(channel=self.channel, platform_campaign_id=f"{self.channel[:1]}{index}", day=day,
                         cost=Decimal(index + 1) + Decimal("0.37"), currency="EUR" if self.channel == "google_search" else "USD",
                         clicks=40, impressions=2_000) for index in range(self.campaigns) for day in days]


def fresh_table(aws: LocalAws) -> str:
    name = f"bench-spend-{uuid.uuid4().hex[:6]}"
    definition = aws.template["Resources"]["AttractTable"]["Properties"]
    aws.client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=definition["KeySchema"],
                                        AttributeDefinitions=definition["AttributeDefinitions"])
    return name


def counted_client(aws: LocalAws) -> tuple[object, Counter]:
    dynamodb = aws.client("dynamodb")
    counts: Counter = Counter()
    dynamodb.meta.events.register("before-call.dynamodb.*", lambda event_name, **_: counts.update([event_name.rsplit(".", 1)[1]]))
    dynamodb.meta.events.register("after-call.dynamodb.Query", lambda parsed, **_: counts.update(
        items=parsed.get("Count", 0), bytes=sum(item_bytes(item) for item in parsed.get("Items", []))))
    return dynamodb, counts


def register(spend: SpendRepository, campaigns: int) -> None:
    for channel in ("google_search", "meta"):
        for index in range(campaigns):
            spend.register_platform_campaign(channel, f"{channel[:1]}{index}", f"c{index}", f"Campaign {index}")


def measure_sync(aws: LocalAws) -> None:
    dynamodb, counts = counted_client(aws)
    spend = SpendRepository(fresh_table(aws), dynamodb)
    register(spend, CAMPAIGNS)
    print(f"\nHourly spend sync ({CAMPAIGNS} campaigns per platform, yesterday and today, in-test accounts)")
    print(f"  {'channel':<14} {'rows':>5} {'DynamoDB calls':<40} {'wall':>8}")
    channels: tuple[ChannelName, ...] = ("google_search", "meta")
    for channel in channels:
        counts.clear()
        started = time.perf_counter()
        outcome = sync_channel(Account(channel, CAMPAIGNS), spend, TODAY - timedelta(days=1), TODAY, datetime.now(timezone.utc))
        wall = (time.perf_counter() - started) * 1000
        calls = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
        print(f"  {channel:<14} {outcome.rows_stored:>5} {calls:<40} {wall:>6.0f}ms")


def measure_report(aws: LocalAws) -> None:
    dynamodb, counts = counted_client(aws)
    table = fresh_table(aws)
    spend, reader = SpendRepository(table, dynamodb), AggregateRepository(table, dynamodb)
    register(spend, CAMPAIGNS)
    channels: tuple[ChannelName, ...] = ("google_search", "meta")
    print(f"\nReport (last_touch) over days with and without the spend of {2 * CAMPAIGNS} platform campaigns "
          "(joins: bench/aggregates.py)")
    print(f"  {'days':>5} {'spend':>6} {'group_by':>9} {'Query calls':>11} {'items read':>10} {'bytes read':>10}")
    for with_spend in (False, True):
        if with_spend:
            for channel in channels:
                sync_channel(Account(channel, CAMPAIGNS), spend, TODAY - timedelta(days=89), TODAY, datetime.now(timezone.utc))
        for days in (30, 90):
            for group_by in (GroupBy.CAMPAIGN, GroupBy.CHANNEL):
                counts.clear()
                attribution_report(AttributionModel.LAST_TOUCH, group_by, TODAY - timedelta(days=days - 1), TODAY, reader)
                print(f"  {days:>5} {'yes' if with_spend else 'no':>6} {group_by.value:>9} {counts['Query']:>11} "
                      f"{counts['items']:>10} {counts['bytes']:>10,}")


def measure_item_size(aws: LocalAws) -> None:
    dynamodb = aws.client("dynamodb")
    print(f"\nThe day's spend items (AGG#campaign, {SPEND_SHARDS} shards, 100-character campaign names) as campaigns grow")
    for campaigns in (24, 500, 2_000):
        table = fresh_table(aws)
        spend = SpendRepository(table, dynamodb)
        for index in range(campaigns):
            spend.register_platform_campaign("google_search", f"{index:012d}", f"c{index}", f"{index:06d}" + "x" * 94)
        known = spend.platform_campaigns("google_search", [f"{index:012d}" for index in range(campaigns)])
        rows = [SpendRow(channel="google_search", platform_campaign_id=f"{index:012d}", day=TODAY, cost=Decimal("1234.567891"),
                         currency="EUR", clicks=123_456, impressions=9_876_543) for index in range(campaigns)]
        started = time.perf_counter()
        spend.put_days([(row, known[row.platform_campaign_id]) for row in rows], datetime.now(timezone.utc))
        wall = (time.perf_counter() - started) * 1000
        sizes = [item_bytes(found["Item"]) for shard in range(SPEND_SHARDS)
                 if "Item" in (found := dynamodb.get_item(TableName=table, Key=spend_key("AGG#campaign", TODAY, shard)))]
        print(f"  {campaigns:>6} campaigns: {len(sizes)} items, largest {max(sizes):>9,} bytes (limit 409,600), "
              f"{sum(sizes) / campaigns:.0f} bytes per campaign; written in {wall:.0f}ms (moto)")


if __name__ == "__main__":
    aws = LocalAws().start()
    try:
        measure_sync(aws)
        measure_report(aws)
        measure_item_size(aws)
    finally:
        aws.stop()
