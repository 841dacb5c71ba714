"""Relevance aggregates: the joins that match a target profile, counted under the keys the join was counted under.

A join is counted once in the attribution aggregates when it is confirmed (attract.attribution.repository);
the keys it went to are kept on its attribution item (`reported`). When the scorer finds the member relevant
to a profile, it adds that same `reported` contribution here; when a profile edit makes them irrelevant, it
subtracts it. So relevance never creates a key the join aggregates do not have: no new cardinality, and a
report can put `relevant_joins` next to `joins` row by row.

Key items: PK=AGG#rel#<scope>#<dimension>, SK=DAY#<yyyy-mm-dd>#<bucket 00-63> (the join's day, the same bucket
           as the join aggregates): per key and model `r<i>|<key>` = credited relevant joins (ADD, may go down).
Totals:    PK=AGG#rel#<scope>#totals, SK=DAY#<yyyy-mm-dd>#<shard>: `joins` (ADD ±1).
<scope> is a profile id, or `any` (relevant to at least one profile: the scorer moves a member in or out of
it when their set of relevant profiles becomes non-empty or empty).
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from attract.attribution.logic import MODELS, Caps, bucket_of
from attract.attribution.repository import _number, aggregate_partition, day_sort_key

ANY = "any"
RELEVANT_PREFIX = "r"


def relevant_partition(scope: str, dimension: str) -> str:
    """`AGG#rel#<scope>#<dimension>`; dimension `totals` for the day's relevant join count."""
    return aggregate_partition(f"rel#{scope}#{dimension}")


def relevant_attribute(model_index: int, key: str) -> str:
    return f"{RELEVANT_PREFIX}{model_index}|{key}"


def parse_relevant_attribute(name: str) -> tuple[int, str] | None:
    """(model index, key) of an `r<i>|<key>` attribute; None for any other attribute."""
    head, sep, key = name.partition("|")
    if not sep or not head.startswith(RELEVANT_PREFIX) or not head[1:].isdigit():
        return None
    return int(head[1:]), key


def relevance_actions(table: str, scope: str, reported: dict[str, dict[str, list[Decimal]]], joined_day: date,
                      member_key: str, sign: int, shards: int = 4, caps: Caps | None = None) -> list[dict]:
    """TransactWriteItems Update actions adding (sign=1) or removing (sign=-1) one join's relevance for one scope.

    Idempotence is the caller's: it puts these in one transaction with a conditional write of the member's
    score for the profile version (attract.relevance), so a retried batch never counts a member twice.
    """
    caps = caps or Caps()
    per_item: dict[tuple[str, int], dict[str, Decimal]] = defaultdict(dict)
    for dimension, keys in sorted(reported.items()):
        for key, numbers in keys.items():
            for index in range(len(MODELS)):
                credit = Decimal(numbers[index]) * sign
                if credit:
                    per_item[(dimension, bucket_of(key, caps.buckets))][relevant_attribute(index, key)] = credit
    actions = []
    for (dimension, bucket), values in sorted(per_item.items()):
        names = {f"#a{i}": name for i, name in enumerate(values)}
        actions.append({"Update": {
            "TableName": table,
            "Key": {"PK": {"S": relevant_partition(scope, dimension)}, "SK": {"S": day_sort_key(joined_day, f"{bucket:02d}")}},
            "UpdateExpression": "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(values))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {f":a{i}": _number(value) for i, value in enumerate(values.values())}}})
    shard = int(member_key[:8], 16) % shards
    actions.append({"Update": {
        "TableName": table,
        "Key": {"PK": {"S": relevant_partition(scope, "totals")}, "SK": {"S": day_sort_key(joined_day, shard)}},
        "UpdateExpression": "ADD #j :n", "ExpressionAttributeNames": {"#j": "joins"},
        "ExpressionAttributeValues": {":n": _number(sign)}}})
    return actions
