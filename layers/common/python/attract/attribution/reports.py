"""GET /reports/attribution and GET /reports/funnels from the pre-aggregated partitions (attract.attribution.report_store).

Pure: the store's figures in, the report contract (attract.attribution.models) out. Money stays per currency
(never converted or summed across currencies); a rate or a cost without its denominator is null, never an error.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from attract.attribution.credit import AttributionModel
from attract.attribution.logic import MAX_REPORT_DAYS
from attract.attribution.models import (
    ANY_PROFILE,
    DEFAULT_ROW_LIMIT,
    OTHER,
    AttributionReport,
    Funnel,
    FunnelReport,
    FunnelStep,
    GroupBy,
    ReportModel,
    ReportRow,
    ReportTotals,
    Spend,
)
from attract.attribution.report_store import ReportInputs
from attract.errors import InvalidRequestError

MODELS = tuple(model.value for model in AttributionModel)
CENT = Decimal("0.01")
THOUSAND = Decimal(1000)


@dataclass(frozen=True)
class EmailPrice:
    """What 1,000 invitations cost (template parameters EmailPricePer1000, EmailPriceCurrency; docs/platforms.md)."""

    per_1000: Decimal = Decimal("0.10")
    currency: str = "USD"

    def cost(self, sent: int) -> Decimal:
        return self.per_1000 * sent / THOUSAND


class InputsReader(Protocol):
    def read(self, start: date, end: date, dimension: str | None, scope: str) -> ReportInputs: ...


class RunCounts(Protocol):
    def planned(self, campaign_id: str, start: date, end: date) -> int:
        """People the campaign's runs started in [start, end] planned to invite."""
        ...


def check_range(start: date, end: date) -> None:
    if end < start:
        raise InvalidRequestError("to", "date_order", "to must not be before from")
    if (end - start).days >= MAX_REPORT_DAYS:
        raise InvalidRequestError("to", "range_too_long", f"a report covers at most {MAX_REPORT_DAYS} days")


def period_of(day: date, group_by: GroupBy) -> str:
    """A day's period label: 2026-11-03 (day), 2026-W45 (ISO week, from Monday), 2026-11 (month)."""
    if group_by is GroupBy.DAY:
        return day.isoformat()
    if group_by is GroupBy.WEEK:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def _ratio(numerator: Decimal | float, denominator: Decimal | float) -> float | None:
    return round(float(Decimal(numerator) / Decimal(denominator)), 6) if denominator else None


def spend_entries(amounts: dict[str, Decimal], joins: Decimal, relevant: Decimal) -> list[Spend]:
    """Per currency (never mixed), with spend / credited joins and spend / relevant joins (null when none)."""
    return [Spend(currency=currency, amount=amount.quantize(CENT, ROUND_HALF_UP),
                  cost_per_join=(amount / joins).quantize(CENT, ROUND_HALF_UP) if joins > 0 else None,
                  cost_per_relevant_join=(amount / relevant).quantize(CENT, ROUND_HALF_UP) if relevant > 0 else None)
            for currency, amount in sorted(amounts.items())]


@dataclass
class _Figures:
    credits: list[Decimal]
    relevant: list[Decimal]
    touches: int = 0
    clicks: int = 0

    @classmethod
    def empty(cls) -> "_Figures":
        return cls([Decimal(0)] * len(MODELS), [Decimal(0)] * len(MODELS))

    def add(self, other: "_Figures") -> None:
        self.credits = [a + b for a, b in zip(self.credits, other.credits, strict=True)]
        self.relevant = [a + b for a, b in zip(self.relevant, other.relevant, strict=True)]
        self.touches += other.touches
        self.clicks += other.clicks


def _row(key: str, figures: _Figures, spend: dict[str, Decimal], model_index: int) -> ReportRow:
    joins, relevant = figures.credits[model_index], figures.relevant[model_index]
    return ReportRow(key=key, joins=round(float(joins), 6), touches=figures.touches, spend=spend_entries(spend, joins, relevant),
                     relevant_joins=round(float(relevant), 6), clicks=figures.clicks,
                     join_rate=_ratio(joins, figures.clicks), relevance_rate=_ratio(relevant, joins))


def _add_money(target: dict[str, Decimal], amounts: dict[str, Decimal]) -> None:
    for currency, amount in amounts.items():
        target[currency] = target.get(currency, Decimal(0)) + amount


def build_report(model: ReportModel, group_by: GroupBy, start: date, end: date, store: InputsReader,
                 limit: int = DEFAULT_ROW_LIMIT, profile: str | None = None,
                 email_price: EmailPrice | None = None) -> AttributionReport:
    """Rows of one model (or `by_model` for all five, same rows), relevant joins for `profile` (or any profile)."""
    check_range(start, end)
    scope = profile or ANY_PROFILE
    price = email_price or EmailPrice()
    inputs = store.read(start, end, None if group_by.is_time else group_by.value, scope)
    figures: dict[str, _Figures] = defaultdict(_Figures.empty)
    spend: dict[str, dict[str, Decimal]] = defaultdict(dict)
    if group_by.is_time:
        day = start
        while day <= end:  # every period of the range, zeros included: a chart's x axis
            figures[period_of(day, group_by)]
            day += timedelta(days=1)
        for day, of_day in inputs.days.items():
            entry = figures[period_of(day, group_by)]
            entry.add(_Figures([of_day.joins] * len(MODELS), [of_day.relevant] * len(MODELS), of_day.touches, of_day.clicks))
            _add_money(spend[period_of(day, group_by)], dict(of_day.spend))
            if of_day.sent:
                _add_money(spend[period_of(day, group_by)], {price.currency: price.cost(of_day.sent)})
        keys = sorted(figures)
        folded = 0
    else:
        for key in {*inputs.credits, *inputs.spend, *inputs.clicks, *inputs.sent}:
            figures[key] = _Figures(list(inputs.credits.get(key) or [Decimal(0)] * len(MODELS)),
                                    list(inputs.relevant.get(key) or [Decimal(0)] * len(MODELS)),
                                    inputs.touches.get(key, 0), inputs.clicks.get(key, 0))
            _add_money(spend[key], dict(inputs.spend.get(key, {})))
            if inputs.sent.get(key):
                _add_money(spend[key], {price.currency: price.cost(inputs.sent[key])})
        keys, folded = _capped(figures, spend, limit, MODELS.index((model if model is not ReportModel.ALL
                                                                     else ReportModel.LAST_TOUCH).value))
    total = _Figures.empty()
    total_spend: dict[str, Decimal] = {}
    for day_totals in inputs.days.values():
        total.add(_Figures([day_totals.joins] * len(MODELS), [day_totals.relevant] * len(MODELS),
                           day_totals.touches, day_totals.clicks))
        _add_money(total_spend, dict(day_totals.spend))
        if day_totals.sent:
            _add_money(total_spend, {price.currency: price.cost(day_totals.sent)})
    totals_row = _row("", total, total_spend, 0)
    totals = ReportTotals(**totals_row.model_dump(exclude={"key"}))

    def rows_of(model_index: int) -> list[ReportRow]:
        return [_row(key, figures[key], spend.get(key, {}), model_index) for key in keys]

    by_model = ({AttributionModel(name): rows_of(index) for index, name in enumerate(MODELS)}
                if model is ReportModel.ALL else None)
    return AttributionReport(  # type: ignore[call-arg]  # from_ is the field's name; "from" its alias
        model=model, group_by=group_by, from_=start, to=end, totals=totals, limit=limit, folded_rows=folded,
        profile=scope, by_model=by_model, rows=[] if by_model else rows_of(MODELS.index(model.value)))


def _capped(figures: dict[str, _Figures], spend: dict[str, dict[str, Decimal]], limit: int,
            order_by: int) -> tuple[list[str], int]:
    """At most `limit` keys, most credited (under the model ordering the rows) first; the rest folded into (other)."""
    def rank(key: str) -> tuple:
        return (-figures[key].credits[order_by], -figures[key].touches, -figures[key].clicks, key)

    ordered = sorted(figures, key=rank)
    if len(ordered) <= limit:
        return ordered, 0
    named = [key for key in ordered if key != OTHER][:limit - 1]
    rest = [key for key in ordered if key not in named]
    other = _Figures.empty()
    other_spend: dict[str, Decimal] = {}
    for key in rest:
        other.add(figures[key])
        _add_money(other_spend, spend.get(key, {}))
    figures[OTHER], spend[OTHER] = other, other_spend
    return sorted([*named, OTHER], key=rank), len(rest) - (OTHER in rest)


def build_funnels(start: date, end: date, store: InputsReader, runs: RunCounts, profile: str | None = None,
                  model: AttributionModel = AttributionModel.LAST_TOUCH) -> FunnelReport:
    """Per campaign: email invited -> sent -> clicked -> joined -> relevant; ads impressions -> clicks -> joins -> relevant.

    Joins and relevant joins are the campaign's credited joins under `model` (last touch by default).
    """
    check_range(start, end)
    scope = profile or ANY_PROFILE
    inputs = store.read(start, end, "campaign", scope)
    index = MODELS.index(model.value)
    funnels: list[Funnel] = []
    names: dict[str, list[str]] = defaultdict(list)
    for campaign_id, name in sorted(inputs.campaign_ids.items()):
        names[name].append(campaign_id)
    email_campaigns = set(names) | {campaign for channel, campaign in inputs.pair_clicks if channel == "email"}
    for campaign in sorted(email_campaigns):
        if campaign not in names and campaign not in inputs.sent:
            continue  # an email link that is no invitation campaign (a newsletter's): no invitations to count
        invited = sum(runs.planned(campaign_id, start, end) for campaign_id in names.get(campaign, []))
        credits = inputs.credits.get(campaign)
        relevant = inputs.relevant.get(campaign)
        funnels.append(Funnel(kind="email", channel="email", campaign=campaign, steps=[
            FunnelStep(name="invited", count=invited), FunnelStep(name="sent", count=inputs.sent.get(campaign, 0)),
            FunnelStep(name="clicked", count=inputs.pair_clicks.get(("email", campaign), 0)),
            FunnelStep(name="joined", count=round(float(credits[index]), 6) if credits else 0),
            FunnelStep(name="relevant", count=round(float(relevant[index]), 6) if relevant else 0)]))
    for (channel, campaign), (impressions, clicks) in sorted(inputs.ads.items()):
        credits = inputs.credits.get(campaign)
        relevant = inputs.relevant.get(campaign)
        funnels.append(Funnel(kind="ads", channel=channel, campaign=campaign, steps=[
            FunnelStep(name="impressions", count=impressions), FunnelStep(name="clicks", count=clicks),
            FunnelStep(name="joins", count=round(float(credits[index]), 6) if credits else 0),
            FunnelStep(name="relevant", count=round(float(relevant[index]), 6) if relevant else 0)]))
    return FunnelReport(from_=start, to=end, profile=scope, campaigns=funnels)  # type: ignore[call-arg]


# -- CSV: one record per row (per model and row with model=all; per step for funnels) -------------------------

REPORT_CSV_HEADER = ("model", "key", "joins", "touches", "relevant_joins", "clicks", "join_rate", "relevance_rate",
                     "currency", "spend", "cost_per_join", "cost_per_relevant_join")
FUNNEL_CSV_HEADER = ("kind", "channel", "campaign", "step", "count")


def report_records(report: AttributionReport) -> list[tuple]:
    """A row with spend in two currencies is two records (one per currency): currencies are never summed."""
    per_model = report.by_model or {AttributionModel(report.model.value): report.rows}
    records: list[tuple] = []
    for model, rows in per_model.items():
        listed: list[ReportRow | ReportTotals] = [*rows, report.totals]
        for row in listed:
            key = row.key if isinstance(row, ReportRow) else "(total)"
            base = (model.value, key, row.joins, row.touches, row.relevant_joins, row.clicks, row.join_rate,
                    row.relevance_rate)
            if not row.spend:
                records.append((*base, None, None, None, None))
            for entry in row.spend:
                records.append((*base, entry.currency, entry.amount, entry.cost_per_join, entry.cost_per_relevant_join))
    return records


def funnel_records(report: FunnelReport) -> list[tuple]:
    return [(funnel.kind, funnel.channel, funnel.campaign, step.name, step.count)
            for funnel in report.campaigns for step in funnel.steps]
