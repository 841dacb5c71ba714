"""The five attribution models. Pure functions over an ordered path of touch times.

Credits are Decimals quantised to 1e-12 whose sum is exactly 1: rounding residue goes to the largest
credit, so aggregates added up in DynamoDB (exact decimal arithmetic) count each join exactly once.
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum

QUANTUM = Decimal("1e-12")
ONE = Decimal(1)


class AttributionModel(str, Enum):
    FIRST_TOUCH = "first_touch"
    LAST_TOUCH = "last_touch"
    LINEAR = "linear"
    TIME_DECAY = "time_decay"
    POSITION_BASED = "position_based"


def normalise(weights: Sequence[float]) -> list[Decimal]:
    """Non-negative weights -> Decimal shares summing to exactly 1."""
    if not weights:
        return []
    total = sum(weights)
    if total <= 0:
        weights, total = [1.0] * len(weights), float(len(weights))
    shares = [Decimal(repr(w / total)).quantize(QUANTUM) for w in weights]
    residue = ONE - sum(shares)
    largest = max(range(len(shares)), key=lambda i: shares[i])
    shares[largest] += residue
    return shares


def position_weights(count: int) -> list[float]:
    """40 % first, 40 % last, 20 % shared by the middle; 50/50 for two; 100 % for one."""
    if count == 1:
        return [1.0]
    if count == 2:
        return [0.5, 0.5]
    middle = 0.2 / (count - 2)
    return [0.4] + [middle] * (count - 2) + [0.4]


def time_decay_weights(times: Sequence[datetime], joined_at: datetime, half_life_days: float) -> list[float]:
    """2 ** (-(joined_at - touch_at) / half_life); touches after the join (clock skew) count as at the join."""
    half_life_s = half_life_days * 86400
    return [2 ** (-max(0.0, (joined_at - t).total_seconds()) / half_life_s) for t in times]


def credits(model: AttributionModel, times: Sequence[datetime], joined_at: datetime, half_life_days: float = 7) -> list[Decimal]:
    """Credit per touch for a path already ordered oldest first (ties broken by the caller, stably)."""
    count = len(times)
    if count == 0:
        return []
    if model is AttributionModel.FIRST_TOUCH:
        return [ONE] + [Decimal(0)] * (count - 1)
    if model is AttributionModel.LAST_TOUCH:
        return [Decimal(0)] * (count - 1) + [ONE]
    if model is AttributionModel.LINEAR:
        return normalise([1.0] * count)
    if model is AttributionModel.TIME_DECAY:
        return normalise(time_decay_weights(times, joined_at, half_life_days))
    return normalise(position_weights(count))
