"""A join reports at most MAX_KEYS_PER_JOIN keys over all dimensions: medium and content are counted too."""

from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from attract.attribution.logic import (
    MAX_KEYS_PER_JOIN,
    MODELS,
    TOUCHES,
    credit_path,
    fold_keys,
    join_contributions,
    report_key,
)
from attract.attribution.models import DIMENSIONS, OTHER
from attract.tracking.models import Touch

NOW = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)


def touch(index: int, origin: str = "click", **values) -> Touch:
    fields = {"channel": "paid_social", "campaign": f"campaign-{index}", "source": f"source-{index}", "medium": "cpc",
              "content": f"ad-{index}"} | values
    return Touch(touch_id=f"t{index:02d}", occurred_at=NOW - timedelta(hours=20 - index), origin=origin, **fields)


def test_twenty_distinct_touches_fold_into_eighteen_keys_shared_round_the_dimensions():
    # Given a 20-touch path (the most a join keeps) whose campaign, source and content all differ
    contributions = join_contributions(credit_path([touch(i) for i in range(20)], NOW, 7), frozenset())
    # Then 62 keys (1 channel + 20 + 20 + 1 medium + 20) fold into 18: one each, then the 13 spare slots go round
    # channel (full), campaign, source, medium (full), content: campaign 6, source 5, content 5
    per_dimension = Counter(dimension for dimension, _ in contributions)
    assert len(contributions) == MAX_KEYS_PER_JOIN == 18
    assert per_dimension == {"channel": 1, "campaign": 6, "source": 5, "medium": 1, "content": 5}
    # Each dimension keeps (slots - 1) names and (other), which holds the rest: nothing is lost
    assert contributions[("campaign", OTHER)][TOUCHES] == 15 and contributions[("content", OTHER)][TOUCHES] == 16
    for dimension in DIMENSIONS:
        values = [v for (d, _), v in contributions.items() if d == dimension]
        assert sum(v[TOUCHES] for v in values) == 20
        assert [sum(v[i] for v in values) for i in range(len(MODELS))] == [Decimal(1)] * len(MODELS)
    # The last touch (t19: campaign-19) keeps its name: ties in touches go to the most credited
    assert ("campaign", "campaign-19") in contributions and ("content", "ad-19") in contributions


def test_a_short_path_is_not_folded():
    contributions = join_contributions(credit_path([touch(i) for i in range(3)], NOW, 7), frozenset())
    assert len(contributions) == 1 + 3 + 3 + 1 + 3 and (("campaign", OTHER)) not in contributions


def test_fold_keeps_the_most_touched_keys():
    one = [Decimal(0)] * TOUCHES
    contributions = {("campaign", name): [*one, touches] for name, touches in (("a", 1), ("b", 5), ("c", 3), (OTHER, 2))}
    folded = fold_keys(contributions, limit=2)
    assert {key: value[TOUCHES] for (_, key), value in folded.items()} == {"b": 5, OTHER: 6}


def test_public_medium_and_content_are_reported_by_name_only_when_known_or_trusted():
    landing = credit_path([touch(0, origin="join", medium="cpc", content="made-up")], NOW, 7)[0]
    assert (report_key(landing, "medium", frozenset()), report_key(landing, "content", frozenset())) == ("cpc", OTHER)
    odd = credit_path([touch(0, origin="join", medium="x" * 90, content=None)], NOW, 7)[0]
    assert (report_key(odd, "medium", frozenset()), report_key(odd, "content", frozenset())) == (OTHER, "(not set)")
    clicked = credit_path([touch(0, medium="Partner-Mailing", content="banner-a")], NOW, 7)[0]
    assert (report_key(clicked, "medium", frozenset()), report_key(clicked, "content", frozenset())) == (
        "partner-mailing", "banner-a")  # a link's values (medium folded to lower case by the touch)
