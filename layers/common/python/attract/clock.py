"""Time in one place so logic takes `now` as an argument and tests can fix it."""

from datetime import datetime, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    """Sortable UTC timestamp with millisecond precision, used in sort keys."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_micro(moment: datetime) -> str:
    """Fixed-width UTC timestamp with microseconds: compares as text exactly as the moments compare."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
