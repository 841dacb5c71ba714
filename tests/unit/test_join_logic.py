from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from attract.joins.logic import JoinPolicy, gather_touches, record_join
from attract.joins.models import JoinRequest
from attract.tracking.models import Touch

from tests.unit.fakes import MemoryMembers, MemoryTouchSource

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
VISITOR = "Ky6CYO0h4UJ06YCLle1L_A"
OTHER_DEVICE = "PhoneVisitor_000000001"
DIGEST = "ab" * 32
POLICY = JoinPolicy(lookback_days=30, half_life_days=7)


def touch(touch_id: str, days_ago: float, channel="paid_social", campaign="Q1", source="linkedin", **extra) -> Touch:
    return Touch(touch_id=touch_id, occurred_at=NOW - timedelta(days=days_ago), origin="click", channel=channel,
                 campaign=campaign, source=source, medium="cpc", **extra)


def request(**overrides) -> JoinRequest:
    return JoinRequest.model_validate({"email": " Ada@Example.COM ", "name": "Ada", "consent": True, **overrides})


def test_email_is_normalised_and_consent_must_be_a_real_true():
    assert request().email == "ada@example.com"
    for consent in (False, "true", 1, None):
        with pytest.raises(ValidationError) as caught:
            request(consent=consent)
        assert caught.value.errors()[0]["loc"] == ("consent",)


def test_touches_are_stitched_from_visitor_click_ids_and_email_deduplicated_and_windowed():
    # Given touches on a laptop (cookie visitor), on a phone (found through a gclid) and an imported badge scan
    source = MemoryTouchSource()
    source.add(f"VISITOR#{VISITOR}", touch("t-laptop", 3))
    source.add(f"VISITOR#{VISITOR}", touch("t-old", 45))  # outside the 30-day window
    source.add(f"VISITOR#{OTHER_DEVICE}", touch("t-phone", 10, channel="paid_search", source="google", click_ids={"gclid": "G1"}))
    source.clicks[("gclid", "G1")] = [OTHER_DEVICE]
    source.clicks[("tc_click", "t-laptop")] = [VISITOR]  # the same visitor twice: read once
    source.add(f"EMAIL#{DIGEST}", touch("t-badge", 20, channel="event", source="fair"))
    # When the join carries the visitor id, the gclid and the tc_click
    path = gather_touches(request(visitor_id=VISITOR, gclid="G1", click_ids={"tc_click": "t-laptop"}),
                          DIGEST, NOW, 30, source)
    # Then all three recent touches, oldest first, and not the 45-day-old one
    assert [t.touch_id for t in path] == ["t-badge", "t-phone", "t-laptop"]


def test_first_join_credits_every_model_and_is_counted_once():
    source, members = MemoryTouchSource(), MemoryMembers()
    source.add(f"VISITOR#{VISITOR}", touch("a", 14, campaign="Q1"))
    source.add(f"VISITOR#{VISITOR}", touch("b", 7, channel="email", campaign="Newsletter", source="crm"))
    result = record_join(request(visitor_id=VISITOR), DIGEST, NOW, POLICY, source, members)
    assert result.created and [t.touch_id for t in result.touches] == ["a", "b"]
    assert result.touches[0].credits == {"first_touch": 1, "last_touch": 0, "linear": Decimal("0.5"),
                                         "time_decay": pytest.approx(Decimal(1) / 3, abs=Decimal("1e-11")),
                                         "position_based": Decimal("0.5")}
    assert [path for _, path in members.created] == [result.touches]
    member, _ = members.members[DIGEST]
    assert member.consent == {"granted": True, "text_version": "v1", "at": NOW.isoformat()}


def test_repeat_join_returns_the_first_and_counts_nothing():
    source, members = MemoryTouchSource(), MemoryMembers()
    first = record_join(request(), DIGEST, NOW, POLICY, source, members)
    again = record_join(request(name="Ada L."), DIGEST, NOW + timedelta(days=1), POLICY, source, members)
    assert (again.created, again.member_id, again.joined_at) == (False, first.member_id, first.joined_at)
    assert len(members.created) == 1


def test_touchless_join_is_attributed_from_its_own_campaign_parameters():
    result = record_join(request(utm_source="google", utm_medium="cpc", utm_campaign="Brand"), DIGEST, NOW, POLICY,
                         MemoryTouchSource(), MemoryMembers())
    (only,) = result.touches
    assert (only.channel, only.source, only.campaign, only.origin) == ("paid_search", "google", "Brand", "join")
    assert set(only.credits.values()) == {Decimal(1)}


def test_join_with_nothing_is_direct():
    (only,) = record_join(request(), DIGEST, NOW, POLICY, MemoryTouchSource(), MemoryMembers()).touches
    assert (only.channel, only.source) == ("direct", "(direct)")
