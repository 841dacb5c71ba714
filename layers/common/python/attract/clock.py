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


def scheduled_at(event: dict) -> datetime | None:
    """The `time` of an EventBridge scheduled event (when the schedule fired), or None when absent or unreadable.

    A scheduled function that works "as of" this time, rather than of its own clock, does the same work
    when Lambda retries it later, and the local stack can fire it as of another time.
    """
    value = event.get("time") if isinstance(event, dict) else None
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
