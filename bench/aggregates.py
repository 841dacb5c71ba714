"""Bounded aggregates: what a join adds (DynamoDB calls, items, CPU), item sizes at 10,000 distinct values in a
day, and what a report costs for 30 and 90 days at 1,000 vs 20,000 joins (it must stay flat).
Printed, never asserted (`make bench`). DynamoDB is the moto server of the local stack.
"""

import random
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common/python")]

from attract.attribution.credit import AttributionModel  # noqa: E402
from attract.attribution.logic import (  # noqa: E402
    TOUCHES,
    Caps,
    StoredKeys,
    attribution_report,
    bucket_of,
    credit_path,
    join_contributions,
    plan_aggregates,
)
from attract.attribution.models import OTHER, GroupBy  # noqa: E402
from attract.attribution.repository import (  # noqa: E402
    KEY_PREFIX,
    AggregateRepository,
    bucket_key,
    day_keys_key,
    item_bytes,
    totals_key,
)
from attract.joins.models import Member, PendingJoin  # noqa: E402
from attract.joins.repository import MemberRepository  # noqa: E402
from attract.tracking.models import Touch  # noqa: E402
from attract_local.stack import LocalAws  # noqa: E402

Origin = Literal["click", "import", "invite", "join"]
NOW = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
CHANNELS = [("paid_search", "google"), ("paid_social", "linkedin"), ("email", "crm"), ("organic_social", "mastodon"),
            ("event", "career-fair")]


def fresh_table(aws: LocalAws) -> str:
    name = f"bench-agg-{uuid.uuid4().hex[:6]}"
    definition = aws.template["Resources"]["AttractTable"]["Properties"]
    aws.client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=definition["KeySchema"],
                                        AttributeDefinitions=definition["AttributeDefinitions"])
    return name


def touch(campaign: str, channel: str = "paid_social", source: str = "linkedin", origin: Origin = "click",
          at: datetime = NOW) -> Touch:
    return Touch(touch_id=uuid.uuid4().hex, occurred_at=at - timedelta(hours=1), origin=origin, channel=channel,
                 campaign=campaign, source=source, medium="cpc")


def member(joined_at: datetime = NOW) -> Member:
    digest = uuid.uuid4().hex * 2
    return Member(member_id=digest[:12], email=f"{digest[:8]}@example.com", email_hash=digest, name="B",
                  consent={"granted": True}, joined_at=joined_at)


def confirm(members: MemberRepository, new_member: Member, path) -> None:
    """A confirmed join: its pending item held, then the confirmation's transaction."""
    members.hold(PendingJoin(email_hash=new_member.email_hash, nonce="n", submitted_at=NOW, mailed_at=0,
                                         expires_at=int(NOW.timestamp()) + 86400), mailed_before=0)
    members.confirm(new_member, path, "n", [], {})


def measure_join(aws: LocalAws) -> None:
    dynamodb = aws.client("dynamodb")
    members = MemberRepository(fresh_table(aws), dynamodb)
    holder = MemberRepository(members.table, aws.client("dynamodb"))  # its own client: the pending Put is not counted
    calls: Counter = Counter()
    items: Counter = Counter()
    dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    dynamodb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems",
                                  lambda params, **_: items.update(written=len(params["TransactItems"])))
    dynamodb.meta.events.register("provide-client-params.dynamodb.BatchGetItem",
                                  lambda params, **_: items.update(read=sum(len(t["Keys"]) for t in params["RequestItems"].values())))
    print("A join's aggregates (MemberRepository.confirm: read keys, plan, one transaction; 20 joins per row; "
          "CPU = this thread, DynamoDB excluded)")
    print(f"  {'path':<26} {'calls per join':<44} {'keys read':>9} {'items written':>13} {'CPU':>8}")
    shapes = {"1 link click": lambda i: [touch(f"Campaign {i % 12}")],
              "3 clicks": lambda i: [touch(f"Campaign {(i + k) % 12}", *CHANNELS[k]) for k in range(3)],
              "20 clicks (MAX_PATH)": lambda i: [touch(f"C{i}-{k}", *CHANNELS[k % 5]) for k in range(20)],
              "public, unregistered utm": lambda i: [touch("x" * 100, "referral", f"s{i}" * 30, origin="join")]}
    for label, make in shapes.items():
        calls.clear()
        items.clear()
        cpu = []
        for index in range(20):
            path = credit_path(make(index), NOW, 7)
            joiner = member()
            holder.hold(PendingJoin(email_hash=joiner.email_hash, nonce="n", submitted_at=NOW, mailed_at=0,
                                    expires_at=int(NOW.timestamp()) + 86400), mailed_before=0)
            started = time.thread_time()
            members.confirm(joiner, path, "n", [], {})
            cpu.append((time.thread_time() - started) * 1000)
        per_join = {op: count / 20 for op, count in sorted(calls.items())}
        print(f"  {label:<26} {per_join!s:<44} {items['read'] / 20:>9.1f} {items['written'] / 20:>13.1f} "
              f"{statistics.median(cpu):>6.2f}ms")


def fill_day(aws: LocalAws, caps: Caps, values: int, width: int, char: str) -> tuple[str, AggregateRepository]:
    """`values` joins of one day, each with a new campaign and source, planned by the real code, written as items.

    Planning is pure (plan_aggregates over what the day holds), and ADD/SET only sum, so writing the
    planned items gives what `values` transactional joins would leave, in seconds instead of hours.
    """
    table = fresh_table(aws)
    dynamodb = aws.client("dynamodb")
    present: set = set()
    bucket_counts: Counter = Counter()
    day_counts: Counter = Counter()
    stored: dict = defaultdict(lambda: defaultdict(lambda: [Decimal(0)] * (TOUCHES + 1)))
    for index in range(values):
        name = f"{index:05d}".ljust(width, char)
        path = credit_path([touch(name, source=name.lower())], NOW, 7)
        # The live sets, not copies: planning only reads them (a copy per join would be quadratic)
        plan = plan_aggregates(join_contributions(path, frozenset()),
                               StoredKeys(present, bucket_counts, day_counts), caps)  # type: ignore[arg-type]
        for (dimension, key), numbers in {**plan.add, **plan.create}.items():
            entry = stored[(dimension, bucket_of(key, caps.buckets))][key]
            for position, number in enumerate(numbers):
                entry[position] += number
            present.add((dimension, key))
        bucket_counts.update(plan.admitted_per_bucket)
        day_counts.update(plan.admitted_per_day)
    for (dimension, bucket), keys in stored.items():
        counted = sum(1 for key in keys if key != OTHER)
        item = {**bucket_key(dimension, NOW.date(), bucket), "n_keys": {"N": str(counted)}}
        item |= {KEY_PREFIX + key: {"L": [{"N": format(n, "f")} for n in numbers]} for key, numbers in keys.items()}
        dynamodb.put_item(TableName=table, Item=item)
    dynamodb.put_item(TableName=table, Item={**day_keys_key(NOW.date()),
                                             **{f"n|{d}": {"N": str(c)} for d, c in day_counts.items()}})
    dynamodb.put_item(TableName=table, Item={**totals_key(NOW.date(), 0), "joins": {"N": str(values)},
                                             "touches": {"N": str(values)}})
    return table, AggregateRepository(table, dynamodb, caps=caps)


def measure_item_sizes(aws: LocalAws) -> None:
    caps = Caps()
    dynamodb = aws.client("dynamodb")
    print(f"\nAggregate items after 10,000 distinct campaign and source values in one day "
          f"(caps: {caps.day_keys:,} a day, {caps.bucket_keys} per item, {caps.buckets} items)")
    for label, width, char in (("100 ASCII characters", 100, "x"), ("100 x 4-byte characters", 100, "\U0001F600")):
        table, aggregates = fill_day(aws, caps, caps.day_keys, width, char)
        pages = dynamodb.get_paginator("query").paginate(
            TableName=table, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": {"S": "AGG#campaign"}})
        raw = [item for page in pages for item in page["Items"]]
        sizes = sorted(item_bytes(item) for item in raw)
        keys = [sum(1 for name in item if name.startswith(KEY_PREFIX)) for item in raw]
        # One more join through the real transaction: the 10,001st value must land in (other)
        members = MemberRepository(table, dynamodb, aggregates=aggregates)
        confirm(members, member(), credit_path([touch("one too many", source="one too many")], NOW, 7))
        per_key, _, _ = aggregates.totals("linear", NOW.date(), NOW.date(), "campaign")
        print(f"  {label:<24} items {len(raw)}, keys per item {min(keys)}-{max(keys)}, "
              f"size max {sizes[-1] / 1024:.0f} KB (median {statistics.median(sizes) / 1024:.0f} KB; limit 400 KB); "
              f"named keys {len(per_key) - (OTHER in per_key):,}; 10,001st -> {OTHER}: {per_key.get(OTHER, (0, 0))[1] == 1}")
    # The bound whatever the hash does: a full item of 100 x 4-byte names, numbers of 38 digits (21 bytes each)
    worst = caps.bucket_keys * (len(KEY_PREFIX) + 400 + 3 + (TOUCHES + 1) * (1 + 21)) + 100
    print(f"  bound at {caps.bucket_keys} keys per item (the per-item cap), longest names and numbers: {worst / 1024:.0f} KB")


def measure_report(aws: LocalAws) -> None:
    dynamodb = aws.client("dynamodb")
    table = fresh_table(aws)
    reader = AggregateRepository(table, dynamodb)
    calls: Counter = Counter()
    read: Counter = Counter()
    dynamodb.meta.events.register("before-call.dynamodb.Query", lambda **_: calls.update(["Query"]))
    dynamodb.meta.events.register("after-call.dynamodb.Query", lambda parsed, **_: read.update(items=parsed.get("Count", 0)))
    rng = random.Random(2)
    first = NOW.date() - timedelta(days=89)
    stored: dict = defaultdict(lambda: defaultdict(lambda: [Decimal(0)] * (TOUCHES + 1)))
    totals: Counter = Counter()
    print("\nReport (GET /reports/attribution logic, group_by=campaign, all five models; 12 campaigns, joins over 90 days)")
    print(f"  {'joins':>7} {'days':>5} {'Query calls':>11} {'items read':>10} {'CPU per report':>14}")
    have = 0
    for volume in (1_000, 20_000):
        for _ in range(volume - have):  # credited by the real code, summed as the transactions would
            day = first + timedelta(days=rng.randrange(90))
            at = datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)
            path = credit_path([touch(f"Campaign {rng.randrange(12)}", *rng.choice(CHANNELS), at=at)
                                for _ in range(rng.randint(1, 4))], at, 7)
            for (dimension, key), numbers in join_contributions(path, frozenset()).items():
                entry = stored[(dimension, day, bucket_of(key, 64))][key]
                for position, number in enumerate(numbers):
                    entry[position] += number
            totals[(day, "joins")] += 1
            totals[(day, "touches")] += len(path)
        have = volume
        for (dimension, day, bucket), keys in stored.items():
            item = {KEY_PREFIX + key: {"L": [{"N": format(n, "f")} for n in numbers]} for key, numbers in keys.items()}
            dynamodb.put_item(TableName=table, Item={**bucket_key(dimension, day, bucket), **item})
        for day in {day for day, _ in totals}:
            dynamodb.put_item(TableName=table, Item={**totals_key(day, 0), "joins": {"N": str(totals[(day, "joins")])},
                                                     "touches": {"N": str(totals[(day, "touches")])}})
        for days in (30, 90):
            calls.clear()
            read.clear()
            cpu = []
            for model in AttributionModel:
                started = time.thread_time()
                attribution_report(model, GroupBy.CAMPAIGN, NOW.date() - timedelta(days=days - 1), NOW.date(), reader)
                cpu.append((time.thread_time() - started) * 1000)
            print(f"  {volume:>7} {days:>5} {calls['Query'] / 5:>11.1f} {read['items'] / 5:>10.0f} {statistics.mean(cpu):>12.1f}ms")


if __name__ == "__main__":
    aws = LocalAws().start()
    try:
        measure_join(aws)
        measure_item_sizes(aws)
        measure_report(aws)
    finally:
        aws.stop()
