"""Crediting a join's path under every model, and reading the aggregates back as a report."""

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from attract.attribution.credit import AttributionModel, credits
from attract.attribution.models import DIMENSIONS, AttributionReport, GroupBy, ReportRow, ReportTotals
from attract.errors import InvalidRequestError
from attract.joins.models import CreditedTouch
from attract.tracking.models import Touch

MAX_REPORT_DAYS = 366


class AggregateReader(Protocol):
    def totals(self, model: str, start: date, end: date, dimension: str) -> tuple[dict[str, tuple[Decimal, int]], Decimal, int]: ...


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
            campaign=touch.campaign, source=touch.source, medium=touch.medium,
            credits={model: shares[index] for model, shares in per_model.items()},
        )
        for index, touch in enumerate(path)
    ]


def contributions(path: list[CreditedTouch], model: str) -> dict[tuple[str, str], tuple[Decimal, int]]:
    """What one join adds to one model's aggregates: per (dimension, key), credited joins and touches."""
    summed: dict[tuple[str, str], list] = defaultdict(lambda: [Decimal(0), 0])
    for touch in path:
        for dimension in DIMENSIONS:
            entry = summed[(dimension, getattr(touch, dimension))]
            entry[0] += touch.credits[model]
            entry[1] += 1
    return {key: (value[0], value[1]) for key, value in summed.items()}


def attribution_report(model: AttributionModel, group_by: GroupBy, start: date, end: date,
                       store: AggregateReader) -> AttributionReport:
    if end < start:
        raise InvalidRequestError("to", "date_order", "to must not be before from")
    if (end - start).days >= MAX_REPORT_DAYS:
        raise InvalidRequestError("to", "range_too_long", f"a report covers at most {MAX_REPORT_DAYS} days")
    per_key, joins, touches = store.totals(model.value, start, end, group_by.value)
    rows = [ReportRow(key=key, joins=round(float(credit), 6), touches=count) for key, (credit, count) in per_key.items()]
    rows.sort(key=lambda row: (-row.joins, -row.touches, row.key))
    return AttributionReport(model=model, group_by=group_by, from_=start, to=end, rows=rows,
                             totals=ReportTotals(joins=round(float(joins), 6), touches=touches))
