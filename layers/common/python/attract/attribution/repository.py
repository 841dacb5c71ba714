"""Pre-aggregated attribution, bounded in size whatever the public sends (docs/data-model.md, "Aggregates").

Key items:  PK=AGG#<dimension>, SK=DAY#<yyyy-mm-dd>#<bucket 00-63>: per key `k|<key>` = [credit under each
            model (logic.MODELS order), touches], and `n_keys` (keys counted against the caps).
Day counts: PK=AGG#keys, SK=DAY#<yyyy-mm-dd>: `n|<dimension>`, distinct keys admitted that day.
Totals:     PK=AGG#totals, SK=DAY#<yyyy-mm-dd>#<shard>: `joins`, `touches` (sharded by the member's email hash).
Spend:      PK=AGG#<dimension> and AGG#totals, SK=DAY#<yyyy-mm-dd>#SPEND#<shard>: `s|<ads channel>|<platform campaign id>`
            = {key, currency, cost, ...}, written by the spend sync (attract.campaigns.spend_repository), read
            here in the same Queries.
Registry:   PK=DIM#<campaign|source>, SK=<value>: names marketers gave a link; public values are reported by
            name only when registered.

A join reads which of its keys exist (one consistent BatchGetItem), then writes all in the member's
transaction with conditions that make the caps exact; a racing join that breaks one cancels the
transaction and the caller asks `join_actions` again. A report Queries one dimension's items and
the totals over the day range: its cost grows with days and distinct keys, never with joins.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from attract.attribution.keys import aggregate_partition, day_sort_key, dimension_of
from attract.attribution.logic import (
    DIMENSIONS,
    MODELS,
    TOUCHES,
    Caps,
    Key,
    ReportData,
    StoredKeys,
    bucket_of,
    candidate_keys,
    join_contributions,
    plan_aggregates,
    registry_lookups,
)
from attract.attribution.registry import registered_dimension, registry_key
from attract.aws import Repository, batch_get, from_item
from attract.joins.models import CreditedTouch

KEY_PREFIX = "k|"
SPEND_PREFIX = "s|"  # a spend item's per-platform-campaign values (attract.campaigns.spend_repository)


@dataclass(frozen=True)
class JoinAggregates:
    """One attempt's aggregate actions, and per dimension the keys the join is counted under (MODELS order, touches)."""

    actions: list[dict]
    reported: dict[str, dict[str, list[Decimal]]]


TOTALS = "totals"  # the partition of the day's totals (AGG#totals)
DAY_KEYS = "keys"  # and of the day's key counts (AGG#keys)


def bucket_key(dimension: str, day: date, bucket: int) -> dict:
    return {"PK": {"S": aggregate_partition(dimension)}, "SK": {"S": day_sort_key(day, f"{bucket:02d}")}}


def day_keys_key(day: date) -> dict:
    return {"PK": {"S": aggregate_partition(DAY_KEYS)}, "SK": {"S": day_sort_key(day)}}


def totals_key(day: date, shard: int) -> dict:
    return {"PK": {"S": aggregate_partition(TOTALS)}, "SK": {"S": day_sort_key(day, shard)}}


def _number(value: Decimal | int) -> dict:
    return {"N": str(value) if isinstance(value, int) else format(value, "f")}  # never "0E-12": plain digits


class AggregateRepository(Repository):
    def __init__(self, table_name: str, dynamodb=None, shards: int = 4, caps: Caps | None = None):
        super().__init__(table_name, dynamodb)
        self.shards = shards
        self.caps = caps or Caps()

    # -- the join's side ------------------------------------------------------------------------

    def join_actions(self, path: list[CreditedTouch], joined_at: datetime, member_key: str) -> list[dict]:
        """TransactWriteItems actions adding one join (its credited path) to the day's aggregates."""
        return self.plan_join(path, joined_at, member_key).actions

    def plan_join(self, path: list[CreditedTouch], joined_at: datetime, member_key: str) -> "JoinAggregates":
        """The actions adding one join to the day's aggregates, and the keys it was counted under (`reported`).

        `reported` is what the member's attribution item keeps, so relevance aggregates (attract.attribution.relevant)
        later add the same join under exactly the same keys, whatever the registry and the caps say by then.

        Reads first, so call it again for every attempt of the transaction: a ConditionalCheckFailed
        on one of these actions means another join admitted a key meanwhile, and the plan must change.
        """
        day = joined_at.date()
        lookups = registry_lookups(path)
        candidates = candidate_keys(path)
        buckets = {(dimension, bucket_of(key, self.caps.buckets)) for dimension, key in candidates}
        keys = [registry_key(*pair) for pair in sorted(lookups)]
        keys += [bucket_key(dimension, day, bucket) for dimension, bucket in sorted(buckets)] + [day_keys_key(day)]
        names = {f"#{index}": KEY_PREFIX + key for index, key in enumerate(sorted({key for _, key in candidates}))}
        counts = {f"#d{index}": f"n|{dimension}" for index, dimension in enumerate(DIMENSIONS)}
        found = self._batch_get(keys, "PK, SK, #n, " + ", ".join([*counts, *names]), names | counts | {"#n": "n_keys"})

        registered = {(dimension, sk) for pk, sk in found if (dimension := registered_dimension(pk))}
        present: set[Key] = set()
        bucket_counts: dict[tuple[str, int], int] = {}
        day_counts: dict[str, int] = {}
        for (pk, sk), item in found.items():
            dimension = dimension_of(pk)
            if dimension == DAY_KEYS:
                day_counts = {name[2:]: int(value["N"]) for name, value in item.items() if name.startswith("n|")}
            elif dimension is not None:
                bucket_counts[(dimension, int(sk.rsplit("#", 1)[1]))] = int(item.get("n_keys", {"N": "0"})["N"])
                present |= {(dimension, name[len(KEY_PREFIX):]) for name in item if name.startswith(KEY_PREFIX)}
        plan = plan_aggregates(join_contributions(path, registered),
                               StoredKeys(frozenset(present), bucket_counts, day_counts), self.caps)

        shard = int(member_key[:8], 16) % self.shards
        actions = [{"Update": {
            "TableName": self.table, "Key": totals_key(day, shard), "UpdateExpression": "ADD #j :one, #t :touches",
            "ExpressionAttributeNames": {"#j": "joins", "#t": "touches"},
            "ExpressionAttributeValues": {":one": _number(1), ":touches": _number(len(path))}}}]
        per_item: dict[tuple[str, int], dict[str, dict[str, list[Decimal]]]] = defaultdict(lambda: {"add": {}, "create": {}})
        for kind, entries in (("add", plan.add), ("create", plan.create)):
            for (dimension, key), values in entries.items():
                per_item[(dimension, bucket_of(key, self.caps.buckets))][kind][key] = values
        for (dimension, bucket), changes in sorted(per_item.items()):
            actions.append(self._bucket_update(dimension, day, bucket, changes["add"], changes["create"],
                                               plan.admitted_per_bucket.get((dimension, bucket), 0)))
        if plan.admitted_per_day:
            actions.append(self._day_keys_update(day, plan.admitted_per_day))
        reported: dict[str, dict[str, list[Decimal]]] = defaultdict(dict)
        for (dimension, key), values in (plan.add | plan.create).items():
            reported[dimension][key] = values
        return JoinAggregates(actions, dict(reported))

    def _bucket_update(self, dimension: str, day: date, bucket: int, add: dict[str, list[Decimal]],
                       create: dict[str, list[Decimal]], admitted: int) -> dict:
        """SET-increments for existing keys, conditional creation for new ones, and the item's key counter."""
        names: dict[str, str] = {}
        values: dict[str, dict] = {}
        sets: list[str] = []
        conditions: list[str] = []
        for index, (key, numbers) in enumerate(sorted(add.items())):
            names[f"#a{index}"] = KEY_PREFIX + key
            for position, number in enumerate(numbers):
                if number:  # zero credits are skipped: shorter expressions (DynamoDB allows 4 KB)
                    values[f":a{index}_{position}"] = _number(number)
                    sets.append(f"#a{index}[{position}]=#a{index}[{position}]+:a{index}_{position}")
        for index, (key, numbers) in enumerate(sorted(create.items())):
            names[f"#c{index}"] = KEY_PREFIX + key
            values[f":c{index}"] = {"L": [_number(number) for number in numbers]}
            sets.append(f"#c{index}=:c{index}")
            conditions.append(f"attribute_not_exists(#c{index})")
        # Compact on purpose: an expression may hold 4 KB, and 20 keys of one path could share an item.
        expression = "SET " + ",".join(sets)
        if admitted:
            expression += " ADD #n :admitted"
            names["#n"] = "n_keys"
            values[":admitted"] = _number(admitted)
            values[":room"] = _number(self.caps.bucket_keys - admitted)
            conditions.append("(attribute_not_exists(#n) OR #n <= :room)")
        update = {"TableName": self.table, "Key": bucket_key(dimension, day, bucket), "UpdateExpression": expression,
                  "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
        if conditions:
            update["ConditionExpression"] = " AND ".join(conditions)
        return {"Update": update}

    def _day_keys_update(self, day: date, admitted: dict[str, int]) -> dict:
        names: dict[str, str] = {}
        values: dict[str, dict] = {}
        adds: list[str] = []
        conditions: list[str] = []
        for index, (dimension, count) in enumerate(sorted(admitted.items())):
            names[f"#n{index}"] = f"n|{dimension}"
            values[f":n{index}"] = _number(count)
            values[f":room{index}"] = _number(self.caps.day_keys - count)
            adds.append(f"#n{index} :n{index}")
            conditions.append(f"(attribute_not_exists(#n{index}) OR #n{index} <= :room{index})")
        return {"Update": {"TableName": self.table, "Key": day_keys_key(day), "UpdateExpression": "ADD " + ", ".join(adds),
                           "ConditionExpression": " AND ".join(conditions), "ExpressionAttributeNames": names,
                           "ExpressionAttributeValues": values}}

    def _batch_get(self, keys: list[dict], projection: str, names: dict[str, str]) -> dict[tuple[str, str], dict]:
        """Consistent reads (a stale "absent" would split a key's counts), unprocessed keys retried."""
        items = batch_get(self.dynamodb, self.table, keys, ConsistentRead=True, ProjectionExpression=projection,
                          ExpressionAttributeNames=names)
        return {(item["PK"]["S"], item["SK"]["S"]): item for item in items}

    # -- the report's side ----------------------------------------------------------------------

    def totals(self, model: str, start: date, end: date, dimension: str) -> tuple[dict[str, tuple[Decimal, int]], Decimal, int]:
        """Per key (credited joins, touches) and the overall totals, summed over the days in [start, end]."""
        data = self.read_report(model, start, end, dimension)
        return data.per_key, data.joins, data.touches

    def read_report(self, model: str, start: date, end: date, dimension: str) -> ReportData:
        """What a report needs, in the same 2 Queries whatever it holds: the dimension's key items and spend
        items (attract.campaigns.spend_repository), then the totals and the spend of every channel."""
        position = MODELS.index(model)
        rows: dict[str, list] = defaultdict(lambda: [Decimal(0), 0])
        spend: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for item in self._days(aggregate_partition(dimension), start, end):
            if item.get("type") == "spend":
                for entry in _spend_entries(item):
                    spend[entry["key"]][entry["currency"]] += entry["cost"]
                continue
            for name, numbers in item.items():
                if name.startswith(KEY_PREFIX):
                    row = rows[name[len(KEY_PREFIX):]]
                    row[0] += numbers[position]
                    row[1] += int(numbers[TOUCHES])
        joins, touches = Decimal(0), 0
        total_spend: dict[str, Decimal] = defaultdict(Decimal)
        for item in self._days(aggregate_partition(TOTALS), start, end):
            if item.get("type") == "spend":
                for entry in _spend_entries(item):
                    total_spend[entry["currency"]] += entry["cost"]
                continue
            joins += item.get("joins", 0)
            touches += int(item.get("touches", 0))
        return ReportData(per_key={key: (value[0], value[1]) for key, value in rows.items()}, joins=joins,
                          touches=touches, spend={key: dict(amounts) for key, amounts in spend.items()},
                          total_spend=dict(total_spend))

    def _days(self, partition: str, start: date, end: date):
        pages = self.dynamodb.get_paginator("query").paginate(
            TableName=self.table, KeyConditionExpression="PK = :pk AND SK BETWEEN :start AND :end",
            ExpressionAttributeValues={":pk": {"S": partition}, ":start": {"S": day_sort_key(start)},
                                       ":end": {"S": day_sort_key(end, "\uffff")}},
        )
        for page in pages:
            for raw in page["Items"]:
                yield from_item(raw)


def _spend_entries(item: dict) -> list[dict]:
    """The per-platform-campaign values of a day's spend item (attract.campaigns.spend_repository) that cost
    something: an organic post's counts (attract.posts.live_repository) have no currency and add no spend."""
    return [value for name, value in item.items() if name.startswith(SPEND_PREFIX) and "currency" in value]


def stored_keys(item: dict) -> list[Key]:
    """The keys a raw key item holds (for tests and the bench)."""
    dimension = str(dimension_of(item["PK"]["S"]))
    return [(dimension, name[len(KEY_PREFIX):]) for name in item if name.startswith(KEY_PREFIX)]


def item_bytes(item: dict) -> int:
    """An item's size as DynamoDB counts it against 400 KB (names + values; numbers ~1 byte per 2 digits)."""
    def value_bytes(value: dict) -> int:
        (kind, inner), = value.items()
        if kind == "S":
            return len(inner.encode())
        if kind == "N":
            return (len(inner.lstrip("-").replace(".", "").strip("0")) + 1) // 2 + 1
        if kind == "L":
            return 3 + sum(1 + value_bytes(element) for element in inner)
        if kind == "M":
            return 3 + sum(1 + len(name.encode()) + value_bytes(element) for name, element in inner.items())
        return 1
    return sum(len(name.encode()) + value_bytes(value) for name, value in item.items())
