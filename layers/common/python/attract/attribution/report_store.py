"""What a report reads: every pre-aggregated partition of a day range, in one Query each (never a Scan).

- `AGG#<dimension>`: key items (credits under every model, touches) and the spend sync's items;
- `AGG#totals`: joins and touches per day, and all spend per day;
- `AGG#rel#<scope>#<dimension>` and `AGG#rel#<scope>#totals`: relevant joins (attract.attribution.relevant);
- `AGG#clicks`: human clicks per day and key (the redirect and the ad landings, attract.tracking.repository);
- `AGG#email`: invitations sent per day and campaign (the invitation sender).

Six Queries over at most (days x 64) items each, whatever the number of joins: the report's cost is flat in joins.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from attract.attribution.keys import (
    CAMPAIGN_ID_PREFIX,
    CLICK_PREFIX,
    CLICKS,
    EMAIL,
    FUNNEL_CLICK_PREFIX,
    SENT_PREFIX,
    aggregate_partition,
    day_of,
    day_sort_key,
)
from attract.attribution.relevant import parse_relevant_attribute, relevant_partition
from attract.aws import Repository, from_item

KEY_PREFIX = "k|"
SPEND_PREFIX = "s|"
MODEL_COUNT = 5
# Where an invitation is counted in each dimension (the sender's invite touch: attract.invites.repository).
EMAIL_KEYS = {"channel": "email", "source": "invitation", "medium": "email"}


def _zero() -> list[Decimal]:
    return [Decimal(0)] * MODEL_COUNT


@dataclass
class Day:
    """One day's totals: joins, touches, relevant joins, clicks, invitations sent, spend per currency."""

    joins: Decimal = Decimal(0)
    touches: int = 0
    relevant: Decimal = Decimal(0)
    clicks: int = 0
    sent: int = 0
    spend: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))


@dataclass
class ReportInputs:
    """Per key of one dimension (credits per model, touches, relevant per model, clicks, spend, sent) and per day."""

    credits: dict[str, list[Decimal]] = field(default_factory=lambda: defaultdict(_zero))
    touches: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    relevant: dict[str, list[Decimal]] = field(default_factory=lambda: defaultdict(_zero))
    clicks: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    spend: dict[str, dict[str, Decimal]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(Decimal)))
    sent: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    days: dict[date, Day] = field(default_factory=lambda: defaultdict(Day))
    # Funnels: per (channel, campaign) clicks; per campaign id its name; per campaign its ads (channel, impressions, clicks)
    pair_clicks: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    campaign_ids: dict[str, str] = field(default_factory=dict)
    ads: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    items_read: int = 0


class ReportStore(Repository):
    """Reads the aggregate partitions of a report (docs/data-model.md, "Aggregates")."""

    def read(self, start: date, end: date, dimension: str | None, scope: str) -> ReportInputs:
        """`dimension` None: the per-day totals only (a report grouped by day, week or month)."""
        inputs = ReportInputs()
        if dimension is not None:
            self._keys(inputs, start, end, dimension)
            for item in self._days(relevant_partition(scope, dimension), start, end, inputs):
                for name, value in item.items():
                    parsed = parse_relevant_attribute(name)
                    if parsed is not None and parsed[0] < MODEL_COUNT:
                        inputs.relevant[parsed[1]][parsed[0]] += Decimal(value)
        for item in self._days(aggregate_partition("totals"), start, end, inputs):
            day = inputs.days[day_of(item["SK"])]
            if item.get("type") == "spend":
                for entry in _spend_entries(item):
                    day.spend[entry["currency"]] += entry["cost"]
                continue
            day.joins += item.get("joins", 0)
            day.touches += int(item.get("touches", 0))
        for item in self._days(relevant_partition(scope, "totals"), start, end, inputs):
            inputs.days[day_of(item["SK"])].relevant += item.get("joins", 0)
        for item in self._days(aggregate_partition(CLICKS), start, end, inputs):
            day = inputs.days[day_of(item["SK"])]
            for name, value in item.items():
                if name.startswith(CLICK_PREFIX):
                    click_dimension, _, key = name[len(CLICK_PREFIX):].partition("|")
                    if click_dimension == "channel":
                        day.clicks += int(value)
                    if click_dimension == dimension:
                        inputs.clicks[key] += int(value)
                elif name.startswith(FUNNEL_CLICK_PREFIX):
                    channel, _, campaign = name[len(FUNNEL_CLICK_PREFIX):].partition("|")
                    inputs.pair_clicks[(channel, campaign)] += int(value)
        for item in self._days(aggregate_partition(EMAIL), start, end, inputs):
            day = inputs.days[day_of(item["SK"])]
            for name, value in item.items():
                if name.startswith(SENT_PREFIX):
                    campaign, count = name[len(SENT_PREFIX):], int(value)
                    day.sent += count
                    key = campaign if dimension == "campaign" else EMAIL_KEYS.get(dimension or "")
                    if key is not None:
                        inputs.sent[key] += count
                elif name.startswith(CAMPAIGN_ID_PREFIX):
                    inputs.campaign_ids[name[len(CAMPAIGN_ID_PREFIX):]] = str(value)
        return inputs

    def _keys(self, inputs: ReportInputs, start: date, end: date, dimension: str) -> None:
        for item in self._days(aggregate_partition(dimension), start, end, inputs):
            if item.get("type") == "spend":
                for name, entry in item.items():
                    if name.startswith(SPEND_PREFIX):
                        if "currency" in entry:  # organic posts' counts cost nothing (attract.posts.live_repository)
                            inputs.spend[entry["key"]][entry["currency"]] += entry["cost"]
                        if dimension == "campaign":
                            ads = inputs.ads[(_report_channel(name), entry["key"])]
                            ads[0] += int(entry.get("impressions", 0) or 0)
                            ads[1] += int(entry.get("clicks", 0) or 0)
                continue
            for name, numbers in item.items():
                if name.startswith(KEY_PREFIX):
                    key = name[len(KEY_PREFIX):]
                    credits = inputs.credits[key]
                    for index in range(MODEL_COUNT):
                        credits[index] += numbers[index]
                    inputs.touches[key] += int(numbers[MODEL_COUNT])

    def _days(self, partition: str, start: date, end: date, inputs: ReportInputs) -> Iterator[dict]:
        pages = self.dynamodb.get_paginator("query").paginate(
            TableName=self.table, KeyConditionExpression="PK = :pk AND SK BETWEEN :start AND :end",
            ExpressionAttributeValues={":pk": {"S": partition}, ":start": {"S": day_sort_key(start)},
                                       ":end": {"S": day_sort_key(end, "\uffff")}})
        for page in pages:
            inputs.items_read += len(page["Items"])
            for raw in page["Items"]:
                yield from_item(raw)


def _spend_entries(item: dict) -> list[dict]:
    """Entries that cost something: an organic post's counts have no currency (attract.posts.live_repository)."""
    return [value for name, value in item.items() if name.startswith(SPEND_PREFIX) and "currency" in value]


def _report_channel(attribute: str) -> str:
    """`s|<ads channel>|<id>` -> the report channel of its tracked links (google_search -> paid_search, meta -> paid_social)."""
    from attract.campaigns.channels import AD_CHANNELS  # the one registry of ad channels
    from attract.posts.channels import ORGANIC_CHANNELS  # and of organic ones: their posts' counts

    ads_channel = attribute[len(SPEND_PREFIX):].split("|", 1)[0]
    entry = AD_CHANNELS.get(ads_channel)
    if entry is None and ads_channel in ORGANIC_CHANNELS:
        return "organic_social"
    return str(entry.report_channel.value) if entry else ads_channel
