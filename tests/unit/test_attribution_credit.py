"""The five models on hand-computed paths, and properties that must hold for any path."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attract.attribution.credit import AttributionModel, credits

JOINED = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
M = AttributionModel


def days_before(*days: float) -> list[datetime]:
    return [JOINED - timedelta(days=d) for d in days]


def approx(values):
    return pytest.approx([float(v) for v in values], abs=1e-11)


def assert_credits(model, times, expected, half_life=7):
    got = credits(model, times, JOINED, half_life)
    assert [float(c) for c in got] == approx(expected)
    assert sum(got) == Decimal(1)


@pytest.mark.parametrize("model", list(AttributionModel))
def test_one_touch_gets_everything(model):
    assert credits(model, days_before(3), JOINED) == [Decimal(1)]


def test_two_touches():
    times = days_before(10, 3)
    assert_credits(M.FIRST_TOUCH, times, [1, 0])
    assert_credits(M.LAST_TOUCH, times, [0, 1])
    assert_credits(M.LINEAR, times, [0.5, 0.5])
    assert_credits(M.POSITION_BASED, times, [0.5, 0.5])
    # 7 days apart with a 7-day half-life: the later touch weighs exactly twice the earlier
    assert_credits(M.TIME_DECAY, times, [1 / 3, 2 / 3])


def test_three_touches():
    times = days_before(14, 7, 0)
    assert_credits(M.FIRST_TOUCH, times, [1, 0, 0])
    assert_credits(M.LAST_TOUCH, times, [0, 0, 1])
    assert_credits(M.LINEAR, times, [1 / 3] * 3)
    assert_credits(M.POSITION_BASED, times, [0.4, 0.2, 0.4])
    assert_credits(M.TIME_DECAY, times, [1 / 7, 2 / 7, 4 / 7])  # weights 1/4, 1/2, 1


def test_five_touches():
    times = days_before(28, 21, 14, 7, 0)
    assert_credits(M.LINEAR, times, [0.2] * 5)
    assert_credits(M.POSITION_BASED, times, [0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.4])
    assert_credits(M.TIME_DECAY, times, [1 / 31, 2 / 31, 4 / 31, 8 / 31, 16 / 31])  # weights 1/16 … 1
    assert_credits(M.FIRST_TOUCH, times, [1, 0, 0, 0, 0])
    assert_credits(M.LAST_TOUCH, times, [0, 0, 0, 0, 1])


def test_equal_timestamps():
    times = days_before(2, 2, 2)
    assert_credits(M.TIME_DECAY, times, [1 / 3] * 3)
    assert_credits(M.LINEAR, times, [1 / 3] * 3)
    assert_credits(M.POSITION_BASED, times, [0.4, 0.2, 0.4])  # order among equals is the caller's (stable)
    assert_credits(M.FIRST_TOUCH, times, [1, 0, 0])


def test_half_life_is_configurable():
    assert_credits(M.TIME_DECAY, days_before(1, 0), [1 / 3, 2 / 3], half_life=1)


def test_touch_after_join_counts_as_at_join():
    times = [JOINED - timedelta(days=7), JOINED + timedelta(minutes=2)]
    assert_credits(M.TIME_DECAY, times, [1 / 3, 2 / 3])


@st.composite
def paths(draw):
    offsets = draw(st.lists(st.floats(min_value=0, max_value=365, allow_nan=False), min_size=1, max_size=30))
    return sorted(days_before(*offsets)), draw(st.floats(min_value=0.01, max_value=90))


@settings(max_examples=300, deadline=None)
@given(paths(), st.sampled_from(list(AttributionModel)))
def test_credits_are_non_negative_and_sum_to_exactly_one(path, model):
    times, half_life = path
    shares = credits(model, times, JOINED, half_life)
    assert len(shares) == len(times)
    assert all(share >= 0 for share in shares)
    assert sum(shares) == Decimal(1)


@settings(max_examples=100, deadline=None)
@given(paths())
def test_single_touch_models_give_one_touch_everything(path):
    times, _ = path
    assert credits(M.FIRST_TOUCH, times, JOINED)[0] == 1
    assert credits(M.LAST_TOUCH, times, JOINED)[-1] == 1
