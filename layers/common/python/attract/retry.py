"""Retries through one bounded helper: a number of attempts, exponential backoff with full jitter, and a
sleep tests inject. Every retry loop of the layer goes through here, never a bare `while`.

Full jitter (a random delay between 0 and min(cap, base * 2^attempt)) spreads the retries of many callers
throttled at once, as AWS's "Exponential Backoff And Jitter" recommends.
"""

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
Sleep = Callable[[float], None]


class RetriesExhaustedError(RuntimeError):
    """The last attempt still left work undone."""


def backoff_bound(attempt: int, base_s: float, cap_s: float) -> float:
    """The longest delay after attempt `attempt` (0-based): base_s, doubling, capped (the exponent too: no overflow)."""
    return min(cap_s, base_s * 2 ** min(attempt, 62))


def backoff(attempt: int, base_s: float, cap_s: float, jitter: Callable[[], float] = random.random) -> float:
    """The delay after attempt `attempt` (0-based): full jitter under `backoff_bound`."""
    return jitter() * backoff_bound(attempt, base_s, cap_s)


def with_backoff(call: Callable[[], T], *, retry_on: type[BaseException] | tuple[type[BaseException], ...],
                 attempts: int, base_s: float, cap_s: float, sleep: Sleep = time.sleep,
                 jitter: Callable[[], float] = random.random) -> T:
    """`call()`, called again after a backoff while it raises `retry_on`, at most `attempts` times in all; the
    last such error is raised."""
    for attempt in range(attempts):
        try:
            return call()
        except retry_on:
            if attempt == attempts - 1:
                raise
            sleep(backoff(attempt, base_s, cap_s, jitter))
    raise AssertionError("attempts must be at least 1")


def drain(step: Callable[[R], R], work: R, *, attempts: int, base_s: float, cap_s: float, sleep: Sleep | None = None,
          jitter: Callable[[], float] = random.random, what: str = "work left undone after retries") -> None:
    """`work = step(work)` until nothing is left (a falsy `work`): a batch call handing back what it left undone
    (DynamoDB's UnprocessedKeys, UnprocessedItems). A backoff between calls; RetriesExhaustedError(`what`) when
    `attempts` calls still left some."""
    for attempt in range(attempts):
        work = step(work)
        if not work:
            return
        if attempt < attempts - 1:
            (sleep or time.sleep)(backoff(attempt, base_s, cap_s, jitter))
    raise RetriesExhaustedError(what)
