"""Crediting a join's path under every model, bounding what it adds to the aggregates, and reading them back.

Bounded aggregates (docs/decisions.md, "Bounded aggregates"): a value the public typed (the landing
touch of a touchless join) is reported by name only when a marketer registered it or it is a
well-known name, otherwise as `(other)`; and each dimension admits at most `Caps.day_keys` distinct
keys a day (and `Caps.bucket_keys` per stored item), the overflow going to `(other)` too.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from attract.attribution.channels import EMAIL_MEDIA, PAID_MEDIA, SOCIAL_MEDIA, known_source
from attract.attribution.credit import AttributionModel, credits
from attract.attribution.keys import bucket_of
from attract.attribution.models import (
    DEFAULT_ROW_LIMIT,
    DIMENSIONS,
    OTHER,
    AttributionReport,
    GroupBy,
    ReportModel,
    ReportRow,
    ReportTotals,
    Spend,
)
from attract.dimensions import Channel
from attract.errors import InvalidRequestError
from attract.joins.models import CreditedTouch
from attract.tracking.models import Touch

MAX_REPORT_DAYS = 366
# Names that mean "nothing known" (GA4's placeholders): always reported as they are.
WELL_KNOWN = frozenset({"(direct)", "(none)", "(not set)", OTHER})  # (not set): also a touch without content
CHANNELS = frozenset(channel.value for channel in Channel) | {"direct"}
# Dimension values of these touches were set by marketers (a link, an import, an invitation).
TRUSTED_ORIGINS = frozenset({"click", "import", "invite"})
# Media the channel grouping knows (attract.attribution.channels): a public utm_medium is reported by name only
# when it is one of these, so the public cannot grow the medium aggregates.
KNOWN_MEDIA = frozenset(PAID_MEDIA + EMAIL_MEDIA + SOCIAL_MEDIA) | {
    "organic", "event", "events", "offline", "qr", "badge", "referral", "email", "invitation"}
NOT_SET = "(not set)"
# Keys one join adds over all dimensions: its transaction holds one Update per (dimension, bucket), so 18 keys +
# totals + day counts + the member's own items (≤ 10) stay far below DynamoDB's 100 actions; and a relevance
# scope (attract.attribution.relevant) is ≤ 19 actions.
MAX_KEYS_PER_JOIN = 18
# Order of a stored key's numbers: the credit under each model, then the touch count.
MODELS = tuple(model.value for model in AttributionModel)
TOUCHES = len(MODELS)

Key = tuple[str, str]  # (dimension, reported key)


@dataclass(frozen=True)
class Caps:
    """Cardinality bounds of one dimension's aggregates for one day."""

    day_keys: int = 10_000  # distinct keys a day, exact (a counter item); more go to (other)
    bucket_keys: int = 320  # distinct keys in one stored item: 2x the mean at the day cap, bounds its size
    buckets: int = 64  # stored items a day per dimension; a key's item is a stable hash of it


@dataclass(frozen=True)
class StoredKeys:
    """What the read before a join's write found: which keys exist, and how many each item and day hold."""

    present: frozenset[Key] = frozenset()
    bucket_counts: dict[tuple[str, int], int] = field(default_factory=dict)
    day_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AggregatePlan:
    """One join's additions: to keys already stored, and to keys it creates (`admitted` of them are counted)."""

    add: dict[Key, list[Decimal]]
    create: dict[Key, list[Decimal]]
    admitted_per_bucket: dict[tuple[str, int], int]
    admitted_per_day: dict[str, int]


@dataclass(frozen=True)
class ReportData:
    """A report's inputs, summed over its days: per key (credit, touches) and spend per currency, and the totals."""

    per_key: dict[str, tuple[Decimal, int]]
    joins: Decimal
    touches: int
    spend: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # key -> currency -> amount
    total_spend: dict[str, Decimal] = field(default_factory=dict)  # currency -> amount


class AggregateReader(Protocol):
    def read_report(self, model: str, start: date, end: date, dimension: str) -> ReportData: ...


def registry_lookups(path: list[CreditedTouch]) -> set[Key]:
    """(dimension, value) pairs from the public that are reported by name only if a marketer registered them."""
    return {(dimension, getattr(touch, dimension)) for touch in path if touch.origin not in TRUSTED_ORIGINS
            for dimension in ("campaign", "source") if getattr(touch, dimension) not in WELL_KNOWN}


def report_key(touch: CreditedTouch, dimension: str, registered: set[Key] | frozenset[Key]) -> str:
    """The name a touch is reported under for one dimension: its own, a well-known one, or (other)."""
    value: str = getattr(touch, dimension) or NOT_SET
    if dimension == "channel":
        return value if value in CHANNELS else OTHER
    if dimension == "medium":
        return value if touch.origin in TRUSTED_ORIGINS or value in KNOWN_MEDIA or value in WELL_KNOWN else OTHER
    if touch.origin in TRUSTED_ORIGINS or value in WELL_KNOWN or (dimension, value) in registered:
        return value
    if dimension == "source":
        return known_source(value) or OTHER
    return OTHER


def candidate_keys(path: list[CreditedTouch]) -> set[Key]:
    """Every key the path could be reported under, whatever the registry and the caps say: what to read first."""
    registries: tuple[set[Key], set[Key]] = (registry_lookups(path), set())
    return ({(dimension, report_key(touch, dimension, registered)) for touch in path for dimension in DIMENSIONS
             for registered in registries}
            | {(dimension, OTHER) for dimension in DIMENSIONS})


def join_contributions(path: list[CreditedTouch], registered: set[Key] | frozenset[Key]) -> dict[Key, list[Decimal]]:
    """Per (dimension, key): the join's credit under each model (MODELS order), then its touch count."""
    summed: dict[Key, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * (TOUCHES + 1))
    for touch in path:
        for dimension in DIMENSIONS:
            entry = summed[(dimension, report_key(touch, dimension, registered))]
            for index, model in enumerate(MODELS):
                entry[index] += touch.credits[model]
            entry[TOUCHES] += 1
    return fold_keys(dict(summed))


def fold_keys(contributions: dict[Key, list[Decimal]], limit: int = MAX_KEYS_PER_JOIN) -> dict[Key, list[Decimal]]:
    """At most `limit` keys over all dimensions: each dimension keeps one key at least, the slots left go round the
    dimensions in turn; a dimension short of slots keeps its most touched keys and folds the rest into (other)."""
    per_dimension: dict[str, list[str]] = defaultdict(list)
    for dimension, key in contributions:
        per_dimension[dimension].append(key)
    if len(contributions) <= limit:
        return contributions
    slots = {dimension: 1 for dimension in per_dimension}
    spare = limit - len(slots)
    while spare > 0 and any(slots[d] < len(keys) for d, keys in per_dimension.items()):
        for dimension in DIMENSIONS:
            if spare > 0 and dimension in slots and slots[dimension] < len(per_dimension[dimension]):
                slots[dimension] += 1
                spare -= 1
    folded: dict[Key, list[Decimal]] = {}
    for dimension, keys in per_dimension.items():
        named = sorted((key for key in keys if key != OTHER),
                       key=lambda key: (-contributions[(dimension, key)][TOUCHES], -sum(contributions[(dimension, key)][:TOUCHES]), key))
        keep = named if len(keys) <= slots[dimension] else named[:slots[dimension] - 1]
        for key in keys:
            target = key if key in keep else OTHER
            entry = folded.setdefault((dimension, target), [Decimal(0)] * (TOUCHES + 1))
            for index, value in enumerate(contributions[(dimension, key)]):
                entry[index] += value
    return folded


def plan_aggregates(contributions: dict[Key, list[Decimal]], stored: StoredKeys, caps: Caps) -> AggregatePlan:
    """Admit new keys while the day and their item have room; fold the others into (other). Exact, given `stored`.

    `(other)` itself is never counted against a cap: it is where the overflow goes.
    """
    final: dict[Key, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * (TOUCHES + 1))
    per_bucket: Counter = Counter()
    per_day: Counter = Counter()
    for (dimension, key), values in sorted(contributions.items()):
        if key != OTHER and (dimension, key) not in stored.present:
            bucket = (dimension, bucket_of(key, caps.buckets))
            if (stored.bucket_counts.get(bucket, 0) + per_bucket[bucket] >= caps.bucket_keys
                    or stored.day_counts.get(dimension, 0) + per_day[dimension] >= caps.day_keys):
                key = OTHER
            else:
                per_bucket[bucket] += 1
                per_day[dimension] += 1
        entry = final[(dimension, key)]
        for index, value in enumerate(values):
            entry[index] += value
    return AggregatePlan(add={k: v for k, v in final.items() if k in stored.present},
                         create={k: v for k, v in final.items() if k not in stored.present},
                         admitted_per_bucket=dict(per_bucket), admitted_per_day=dict(per_day))


def order_path(touches: list[Touch]) -> list[Touch]:
    """Oldest first; equal timestamps keep a stable, reproducible order (by touch id)."""
    return sorted(touches, key=lambda t: (t.occurred_at, t.touch_id))


def credit_path(touches: list[Touch], joined_at: datetime, half_life_days: float) -> list[CreditedTouch]:
    path = order_path(touches)
    times = [t.occurred_at for t in path]
    per_model = {model.value: credits(model, times, joined_at, half_life_days) for model in AttributionModel}
    return [
        CreditedTouch(
            touch_id=touch.touch_id, occurred_at=touch.occurred_at, origin=touch.origin, channel=touch.channel,
            campaign=touch.campaign, source=touch.source, medium=touch.medium, content=touch.content or NOT_SET,
            credits={model: shares[index] for model, shares in per_model.items()},
        )
        for index, touch in enumerate(path)
    ]


def capped_rows(per_key: dict[str, tuple[Decimal, int]], limit: int) -> tuple[list[tuple[str, Decimal, int]], int]:
    """At most `limit` rows, largest credit first; the rest summed into one (other) row. Also: how many were folded."""
    ordered = sorted(per_key.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
    if len(ordered) <= limit:
        return [(key, credit, count) for key, (credit, count) in ordered], 0
    named = [(key, credit, count) for key, (credit, count) in ordered if key != OTHER][:limit - 1]
    kept = {key for key, _, _ in named}
    rest = [value for key, value in ordered if key not in kept]
    other = (OTHER, sum((credit for credit, _ in rest), Decimal(0)), sum(count for _, count in rest))
    rows = sorted([*named, other], key=lambda row: (-row[1], -row[2], row[0]))
    return rows, len(rest) - (OTHER in per_key)


def attribution_report(model: AttributionModel, group_by: GroupBy, start: date, end: date,
                       store: AggregateReader, limit: int = DEFAULT_ROW_LIMIT) -> AttributionReport:
    if end < start:
        raise InvalidRequestError("to", "date_order", "to must not be before from")
    if (end - start).days >= MAX_REPORT_DAYS:
        raise InvalidRequestError("to", "range_too_long", f"a report covers at most {MAX_REPORT_DAYS} days")
    data = store.read_report(model.value, start, end, group_by.value)
    # A campaign that spent without a join is a row too (0 joins, its cost per join null).
    per_key = {key: data.per_key.get(key, (Decimal(0), 0)) for key in [*data.per_key, *data.spend]}
    capped, folded = capped_rows(per_key, limit)
    named = {key for key, _, _ in capped if key != OTHER}
    rows = [ReportRow(key=key, joins=round(float(credit), 6), touches=count,
                      spend=spend_entries(_row_spend(key, named, data.spend), credit))
            for key, credit, count in capped]
    totals = ReportTotals(joins=round(float(data.joins), 6), touches=data.touches,
                          spend=spend_entries(data.total_spend, data.joins))
    return AttributionReport(  # type: ignore[call-arg]  # from_ is the field's name; "from" its alias
        model=ReportModel(model.value), group_by=group_by, from_=start, to=end, rows=rows, totals=totals, limit=limit, folded_rows=folded)


CENT = Decimal("0.01")


def _row_spend(key: str, named: set[str], spend: dict[str, dict[str, Decimal]]) -> dict[str, Decimal]:
    """A named row's own spend; the (other) row's is that of every key folded into it."""
    if key != OTHER:
        return spend.get(key, {})
    summed: dict[str, Decimal] = defaultdict(Decimal)
    for other_key, amounts in spend.items():
        if other_key not in named:
            for currency, amount in amounts.items():
                summed[currency] += amount
    return summed


def spend_entries(amounts: dict[str, Decimal], joins: Decimal) -> list[Spend]:
    """Per currency (never mixed), with spend / credited joins; no cost per join without a join."""
    return [Spend(currency=currency, amount=amount.quantize(CENT, ROUND_HALF_UP),
                  cost_per_join=(amount / joins).quantize(CENT, ROUND_HALF_UP) if joins > 0 else None)
            for currency, amount in sorted(amounts.items())]
