"""Bounded aggregates: which names a join is reported under, the exact caps, and the report's row limit."""

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from attract.attribution.credit import AttributionModel
from attract.attribution.logic import (
    MODELS,
    TOUCHES,
    Caps,
    ReportData,
    StoredKeys,
    attribution_report,
    bucket_of,
    candidate_keys,
    capped_rows,
    credit_path,
    join_contributions,
    plan_aggregates,
    registry_lookups,
    report_key,
)
from attract.attribution.models import MAX_ROW_LIMIT, OTHER, GroupBy
from attract.attribution.repository import AggregateRepository
from attract.tracking.models import Touch

NOW = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)


def path_of(*touches: tuple[str, str, str, str]) -> list:
    """(origin, channel, campaign, source) per touch, credited at NOW."""
    return credit_path([Touch(touch_id=f"t{index}", occurred_at=NOW.replace(hour=index), origin=origin, channel=channel,
                              campaign=campaign, source=source, medium="x")
                        for index, (origin, channel, campaign, source) in enumerate(touches)], NOW, 7)


def keys_of(path, registered=frozenset()) -> dict[str, str]:
    (touch,) = path
    return {dimension: report_key(touch, dimension, registered) for dimension in ("channel", "campaign", "source")}


def test_public_values_are_reported_by_name_only_when_registered_or_well_known():
    # Given a touchless join whose campaign and source the public typed
    landing = path_of(("join", "referral", "x" * 100, "spam-" + "y" * 95))
    # Then nobody registered them: (other), and the lookups ask the registry for exactly those two
    assert keys_of(landing) == {"channel": "referral", "campaign": OTHER, "source": OTHER}
    assert registry_lookups(landing) == {("campaign", "x" * 100), ("source", "spam-" + "y" * 95)}
    # When a marketer registered them (by creating a link), they are reported by name
    registered = {("campaign", "x" * 100), ("source", "spam-" + "y" * 95)}
    assert keys_of(landing, registered) == {"channel": "referral", "campaign": "x" * 100, "source": "spam-" + "y" * 95}


@pytest.mark.parametrize(("source", "reported"), [
    ("www.google.de", "google"), ("google", "google"), ("m.facebook.com", "facebook.com"), ("t.co", "t.co"),
    ("linkedin", "linkedin"), ("bing", "bing"), ("(direct)", "(direct)"), ("(not set)", "(not set)"),
    ("blog.example.org", OTHER), ("google-but-not-really.example", OTHER),
])
def test_public_sources_fold_into_a_finite_set_of_well_known_names(source, reported):
    assert keys_of(path_of(("join", "organic_search", "(none)", source)))["source"] == reported


def test_marketer_values_are_trusted_and_only_known_channels_are_reported():
    clicked = path_of(("click", "paid_social", "Data team", "linkedin"))
    assert keys_of(clicked) == {"channel": "paid_social", "campaign": "Data team", "source": "linkedin"}
    assert registry_lookups(clicked) == set()
    assert keys_of(path_of(("join", "made-up", "(none)", "(direct)")))["channel"] == OTHER


def test_candidates_cover_every_outcome_so_one_read_is_enough():
    landing = path_of(("join", "organic_search", "Spring", "www.bing.com"))
    assert candidate_keys(landing) == {("channel", "organic_search"), ("campaign", "Spring"), ("campaign", OTHER),
                                       ("source", "www.bing.com"), ("source", "bing.com"), ("source", OTHER),
                                       ("channel", OTHER),
                                       # medium "x" from the public is no known medium; the landing had no content
                                       ("medium", OTHER), ("content", "(not set)"), ("content", OTHER)}


def test_contributions_hold_every_models_credit_and_the_touches_per_key():
    path = path_of(("click", "email", "A", "crm"), ("click", "email", "B", "crm"))
    contributions = join_contributions(path, frozenset())
    assert contributions[("channel", "email")][TOUCHES] == 2
    assert contributions[("campaign", "A")][MODELS.index("first_touch")] == 1
    assert contributions[("campaign", "B")][MODELS.index("first_touch")] == 0
    for index in range(len(MODELS)):  # each model credits exactly one join per dimension
        for dimension in ("channel", "campaign", "source"):
            assert sum(v[index] for (d, _), v in contributions.items() if d == dimension) == 1


def first_three(contributions: dict) -> dict:
    """The dimensions these cap tests were written for (medium and content are capped the same way)."""
    return {key: value for key, value in contributions.items() if key[0] in ("channel", "campaign", "source")}


def test_the_day_cap_is_exact_and_the_overflow_goes_to_other():
    caps = Caps(day_keys=3, bucket_keys=100, buckets=4)
    path = path_of(*[("click", "email", name, "crm") for name in ("A", "B", "C", "D")])
    contributions = first_three(join_contributions(path, frozenset()))
    # Given two campaigns already admitted today, one of them being this path's A
    stored = StoredKeys(present=frozenset({("campaign", "A"), ("channel", "email"), ("source", "crm")}),
                        day_counts={"campaign": 2, "channel": 1, "source": 1})
    plan = plan_aggregates(contributions, stored, caps)
    # Then only one of B, C, D fits (the first in order); the others are counted in (other), nothing lost
    assert set(plan.create) == {("campaign", "B"), ("campaign", OTHER)}
    assert plan.create[("campaign", OTHER)][TOUCHES] == 2
    assert plan.admitted_per_day == {"campaign": 1}
    assert set(plan.add) == {("campaign", "A"), ("channel", "email"), ("source", "crm")}
    totals = [sum(v[i] for (d, _), v in {**plan.add, **plan.create}.items() if d == "campaign") for i in range(TOUCHES + 1)]
    assert totals == [1, 1, 1, 1, 1, 4]


def test_a_full_item_sends_new_keys_to_other_even_when_the_day_has_room():
    caps = Caps(day_keys=10_000, bucket_keys=2, buckets=1)
    contributions = first_three(join_contributions(path_of(("click", "email", "New", "crm")), frozenset()))
    plan = plan_aggregates(contributions, StoredKeys(bucket_counts={("campaign", 0): 2}), caps)
    assert ("campaign", OTHER) in plan.create and ("campaign", "New") not in plan.create
    # (other) itself never counts against a cap
    assert plan.admitted_per_bucket == {("channel", 0): 1, ("source", 0): 1}


def test_buckets_are_stable_and_spread():
    assert bucket_of("Data team", 64) == bucket_of("Data team", 64) == 35  # pinned: stored data depends on it
    sizes = [0] * 64
    for index in range(10_000):
        sizes[bucket_of(f"campaign-{index}", 64)] += 1
    assert max(sizes) < Caps().bucket_keys  # 10,000 keys fit the per-item cap with a wide margin


def test_row_limit_folds_the_rest_into_other_and_keeps_the_sums():
    per_key = {f"c{i}": (Decimal(i), i) for i in range(1, 11)} | {OTHER: (Decimal("0.5"), 1)}
    rows, folded = capped_rows(per_key, 4)
    assert [key for key, _, _ in rows] == [OTHER, "c10", "c9", "c8"]  # (other) = c1..c7 + 0.5 = 28.5
    assert folded == 7
    assert sum(credit for _, credit, _ in rows) == sum(credit for credit, _ in per_key.values())
    assert sum(count for _, _, count in rows) == sum(count for _, count in per_key.values())
    assert capped_rows(per_key, 11) == (sorted(((k, c, t) for k, (c, t) in per_key.items()),
                                                key=lambda r: (-r[1], -r[2], r[0])), 0)


class Reader:
    def __init__(self, per_key):
        self.per_key = per_key

    def read_report(self, model, start, end, dimension):
        return ReportData(self.per_key, sum(c for c, _ in self.per_key.values()), sum(t for _, t in self.per_key.values()))


def test_report_has_at_most_limit_rows_and_unchanged_totals():
    per_key = {f"campaign {i:04d}": (Decimal(1), 1) for i in range(2_465)}
    report = attribution_report(AttributionModel.LINEAR, GroupBy.CAMPAIGN, date(2026, 11, 1), date(2026, 11, 1),
                                Reader(per_key), limit=50)
    assert len(report.rows) == 50 and (report.limit, report.folded_rows) == (50, 2_416)
    assert (report.totals.joins, report.totals.touches) == (2_465, 2_465)
    assert sum(row.joins for row in report.rows) == report.totals.joins
    assert next(row for row in report.rows if row.key == OTHER).joins == 2_416


def test_the_largest_item_update_of_a_path_fits_dynamodbs_expression_limit():
    # Given 20 keys (MAX_PATH) landing in one item, every number non-zero, once as new keys and once as existing
    numbers = [Decimal("0.123456789012")] * (TOUCHES + 1)
    keys = {f"campaign {index} " + "\U0001F600" * 90: numbers for index in range(20)}
    repository = AggregateRepository("t", dynamodb=object())
    for add, create in ((keys, {}), ({}, keys)):
        update = repository._bucket_update("campaign", date(2026, 11, 25), 0, add, create, len(create))["Update"]
        # Then the expressions stay under 4 KB (names and values are substituted, they do not count)
        assert len(update["UpdateExpression"]) < 4_096 and len(update.get("ConditionExpression", "")) < 4_096


def test_the_largest_report_body_stays_far_below_lambdas_6_mb():
    # Given 10,000 keys a day for a year, each as long as a key may be (100 characters needing JSON escapes)
    per_key = {f"{index:05d}" + "\U0001F600" * 95: (Decimal("1234.567891234567"), 10**9) for index in range(10_000)}
    report = attribution_report(AttributionModel.TIME_DECAY, GroupBy.CAMPAIGN, date(2026, 1, 1), date(2026, 12, 31),
                                Reader(per_key), limit=MAX_ROW_LIMIT)
    # Then the response body (JSON, ASCII-escaped as the resolver sends it) is under 1 MB
    body = json.dumps(report.model_dump(mode="json", by_alias=True))
    assert len(report.rows) == MAX_ROW_LIMIT and len(body.encode()) < 1_000_000
