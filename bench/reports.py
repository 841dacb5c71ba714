"""The extended report (GET /reports/attribution, GET /reports/funnels logic) over 90 days, for every group_by, at
1,000 and 50,000 joins: DynamoDB Queries, items read, and latency as a ratio to a bare GetItem measured in the
same run (the moto server's speed cancels out). It must stay flat in joins: the items are per day and key.
Printed, never asserted (`make bench`).
"""

import random
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common/python")]

from attract.attribution.keys import (  # noqa: E402
    aggregate_partition,
    bucket_of,
    click_attribute,
    day_sort_key,
    sent_attribute,
)
from attract.attribution.logic import TOUCHES, credit_path, join_contributions  # noqa: E402
from attract.attribution.models import GroupBy, ReportModel  # noqa: E402
from attract.attribution.relevant import ANY, relevant_attribute, relevant_partition  # noqa: E402
from attract.attribution.report_store import ReportStore  # noqa: E402
from attract.attribution.reports import build_funnels, build_report  # noqa: E402
from attract.tracking.models import Touch  # noqa: E402
from attract_local.stack import LocalAws  # noqa: E402

TODAY = datetime.now(timezone.utc).date()
FIRST = TODAY - timedelta(days=89)
CHANNELS = [("paid_search", "google", "cpc"), ("paid_social", "linkedin", "paid_social"), ("email", "invitation", "email"),
            ("organic_social", "mastodon", "social"), ("event", "career-fair", "event")]
RELEVANT_SHARE = 0.3
REPEATS = 3


class NoRuns:
    def planned(self, campaign_id: str, start: date, end: date) -> int:
        return 0


def fresh_table(aws: LocalAws) -> str:
    name = f"bench-rep-{uuid.uuid4().hex[:6]}"
    definition = aws.template["Resources"]["AttractTable"]["Properties"]
    aws.client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=definition["KeySchema"],
                                        AttributeDefinitions=definition["AttributeDefinitions"])
    return name


class Aggregates:
    """The partitions as the joins', the scorer's, the redirect's and the sender's writes would leave them."""

    def __init__(self) -> None:
        self.keys: dict = defaultdict(lambda: defaultdict(lambda: [Decimal(0)] * (TOUCHES + 1)))
        self.relevant: dict = defaultdict(lambda: defaultdict(Decimal))
        self.totals: Counter = Counter()
        self.clicks: dict = defaultdict(Counter)
        self.sent: dict = defaultdict(Counter)
        self.rng = random.Random(7)

    def add_joins(self, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            day = FIRST + timedelta(days=rng.randrange(90))
            at = datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)
            touches = []
            for index in range(rng.randint(1, 4)):
                channel, source, medium = rng.choice(CHANNELS)
                touches.append(Touch(touch_id=f"t{index}", occurred_at=at - timedelta(hours=index + 1), origin="click",
                                     channel=channel, campaign=f"Campaign {rng.randrange(12)}", source=source,
                                     medium=medium, content=f"ad-{rng.randrange(6)}"))
            relevant = rng.random() < RELEVANT_SHARE
            for (dimension, key), numbers in join_contributions(credit_path(touches, at, 7), frozenset()).items():
                entry = self.keys[(dimension, day, bucket_of(key, 64))][key]
                for position, number in enumerate(numbers):
                    entry[position] += number
                if relevant:
                    for model in range(TOUCHES):
                        self.relevant[(dimension, day, bucket_of(key, 64))][relevant_attribute(model, key)] += numbers[model]
            self.totals[(day, "joins")] += 1
            self.totals[(day, "touches")] += len(touches)
            self.totals[(day, "relevant")] += relevant
            for touch in touches:  # ~10 human clicks per touch that led to a join
                for dimension in ("channel", "campaign", "source", "medium", "content"):
                    self.clicks[(day, bucket_of(touch.campaign, 8))][click_attribute(dimension, getattr(touch, dimension))] += 10
                if touch.channel == "email":
                    self.sent[(day, bucket_of(touch.campaign, 8))][sent_attribute(touch.campaign)] += 20

    def store(self, dynamodb, table: str) -> None:
        def put(partition: str, sort_key: str, values: dict) -> None:
            dynamodb.put_item(TableName=table, Item={"PK": {"S": partition}, "SK": {"S": sort_key}, **values})

        for (dimension, day, bucket), keys in self.keys.items():
            put(aggregate_partition(dimension), day_sort_key(day, f"{bucket:02d}"),
                {"k|" + key: {"L": [{"N": format(n, "f")} for n in numbers]} for key, numbers in keys.items()})
        for (dimension, day, bucket), values in self.relevant.items():
            put(relevant_partition(ANY, dimension), day_sort_key(day, f"{bucket:02d}"),
                {name: {"N": format(value, "f")} for name, value in values.items()})
        for day in {day for day, _ in self.totals}:
            put(aggregate_partition("totals"), day_sort_key(day, 0),
                {"joins": {"N": str(self.totals[(day, "joins")])}, "touches": {"N": str(self.totals[(day, "touches")])}})
            put(relevant_partition(ANY, "totals"), day_sort_key(day, 0), {"joins": {"N": str(self.totals[(day, "relevant")])}})
        for partition, counters in ((aggregate_partition("clicks"), self.clicks), (aggregate_partition("email"), self.sent)):
            for (day, shard), counts in counters.items():
                put(partition, day_sort_key(day, shard), {name: {"N": str(n)} for name, n in counts.items()})


def median_ms(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    aws = LocalAws().start()
    try:
        dynamodb = aws.client("dynamodb")
        table = fresh_table(aws)
        store = ReportStore(table, dynamodb)
        queries: Counter = Counter()
        dynamodb.meta.events.register("before-call.dynamodb.Query", lambda **_: queries.update(["calls"]))
        dynamodb.meta.events.register("after-call.dynamodb.Query", lambda parsed, **_: queries.update(items=parsed.get("Count", 0)))
        dynamodb.put_item(TableName=table, Item={"PK": {"S": "BENCH"}, "SK": {"S": "BASELINE"}})
        aggregates = Aggregates()
        print("Reports over 90 days (GET /reports/attribution, model=all; GET /reports/funnels), moto server")
        print("  latency: median of 3 reports / median of 20 bare GetItems, both measured now; items read grow with")
        print("  the (day, key) pairs seen, never with joins: at 1,000 joins some are still empty, at 50,000 all are")
        print(f"  {'joins':>7} {'group_by':>9} {'Queries':>8} {'items read':>10} {'latency':>9} {'x GetItem':>10}")
        have = 0
        for volume in (1_000, 50_000):
            aggregates.add_joins(volume - have)
            have = volume
            aggregates.store(dynamodb, table)
            baseline = median_ms(lambda: dynamodb.get_item(TableName=table, Key={"PK": {"S": "BENCH"}, "SK": {"S": "BASELINE"}}), 20)
            for group_by in GroupBy:
                queries.clear()
                build_report(ReportModel.ALL, group_by, FIRST, TODAY, store)
                calls, items = queries["calls"], queries["items"]
                latency = median_ms(lambda group_by=group_by: build_report(ReportModel.ALL, group_by, FIRST, TODAY, store), REPEATS)
                print(f"  {volume:>7} {group_by.value:>9} {calls:>8} {items:>10} {latency:>7.1f}ms {latency / baseline:>9.1f}x")
            queries.clear()
            build_funnels(FIRST, TODAY, store, NoRuns())
            calls, items = queries["calls"], queries["items"]
            latency = median_ms(lambda: build_funnels(FIRST, TODAY, store, NoRuns()), REPEATS)
            print(f"  {volume:>7} {'funnels':>9} {calls:>8} {items:>10} {latency:>7.1f}ms {latency / baseline:>9.1f}x")
    finally:
        aws.stop()


if __name__ == "__main__":
    main()
