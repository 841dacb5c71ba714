"""Schedule expressions, SQS partial batch responses and handler module names, as the local stack reads them."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from attract.schedules import At, Rate, UnsupportedScheduleError, parse
from attract_local.openapi import function_module
from attract_local.triggers import failed_message_ids

UTC = timezone.utc
T0 = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC)  # a Thursday


def _fires(expression: str, count: int, start: datetime = T0, zone: str | None = None) -> list[str]:
    schedule, moment, out = parse(expression, zone), start, []
    for _ in range(count):
        moment = schedule.next_after(moment, start)
        out.append(moment.astimezone(UTC).strftime("%a %Y-%m-%d %H:%M"))
    return out


@pytest.mark.parametrize(("expression", "seconds"), [
    ("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600), ("rate(2 hours)", 7200),
    ("rate(1 day)", 86400), ("rate(3 days)", 259200)])
def test_rate(expression, seconds):
    schedule = parse(expression)
    assert schedule == Rate(seconds)
    assert schedule.next_after(T0, T0) == T0 + timedelta(seconds=seconds)
    assert schedule.next_after(T0 + timedelta(seconds=seconds * 2.5), T0) == T0 + timedelta(seconds=seconds * 3)


def test_cron_fields():
    assert _fires("cron(0 10 * * ? *)", 2) == ["Fri 2026-11-27 10:00", "Sat 2026-11-28 10:00"]
    assert _fires("cron(*/20 9-10 ? * MON-FRI *)", 4) == [
        "Fri 2026-11-27 09:00", "Fri 2026-11-27 09:20", "Fri 2026-11-27 09:40", "Fri 2026-11-27 10:00"]
    assert _fires("cron(15,45 12 ? * 5 *)", 2) == ["Thu 2026-11-26 12:15", "Thu 2026-11-26 12:45"]  # 5 = Thursday
    assert _fires("cron(0 0 1 JAN,JUL ? 2027-2028)", 3) == [
        "Fri 2027-01-01 00:00", "Thu 2027-07-01 00:00", "Sat 2028-01-01 00:00"]
    assert _fires("cron(0 8 L * ? *)", 2) == ["Mon 2026-11-30 08:00", "Thu 2026-12-31 08:00"]
    assert _fires("cron(0 8 ? * 6L *)", 2) == ["Fri 2026-11-27 08:00", "Fri 2026-12-25 08:00"]  # last Friday
    assert _fires("cron(0 8 ? * MON#1 *)", 2) == ["Mon 2026-12-07 08:00", "Mon 2027-01-04 08:00"]
    assert _fires("cron(5 0 2/10 * ? *)", 3) == ["Wed 2026-12-02 00:05", "Sat 2026-12-12 00:05",
                                                 "Tue 2026-12-22 00:05"]
    assert parse("cron(0 0 1 1 ? 2020)").next_after(T0, T0) is None  # only in the past


def test_cron_and_at_in_a_timezone():
    # 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
    assert _fires("cron(0 9 * * ? *)", 1, zone="Europe/Berlin") == ["Fri 2026-11-27 08:00"]
    assert _fires("cron(0 9 * * ? *)", 1, start=datetime(2026, 6, 1, tzinfo=UTC), zone="Europe/Berlin") == [
        "Mon 2026-06-01 07:00"]
    at = parse("at(2026-11-26T15:00:00)", "Europe/Berlin")
    assert at == At(datetime(2026, 11, 26, 15, tzinfo=ZoneInfo("Europe/Berlin")))
    assert at.next_after(T0, T0) == datetime(2026, 11, 26, 14, tzinfo=UTC)
    assert at.next_after(datetime(2026, 11, 26, 14, tzinfo=UTC), T0) is None  # once


@pytest.mark.parametrize("expression", [
    "cron(0 10 L-2 * ? *)", "cron(0 10 1W,15W * ? *)", "cron(0 10 32W * ? *)",  # not AWS's documented forms
    "cron(0 10 * * * *)", "cron(0 10 ? * ? *)",  # AWS wants exactly one '?'
    "cron(0 10 * * ?)", "cron(60 10 * * ? *)", "cron(0 10 * 13 ? *)", "cron(0 22-2 * * ? *)",
    "cron(0 10 ? * FOO *)", "cron(0/0 10 * * ? *)",
    "rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(1 week)", "rate(minutes)",
    "at(2026-11-26 15:00:00)", "every(5 minutes)", ""])
def test_unsupported_or_invalid_expressions_fail_loudly(expression):
    with pytest.raises(UnsupportedScheduleError):
        parse(expression)


def test_unknown_timezone_fails():
    with pytest.raises(UnsupportedScheduleError, match="timezone"):
        parse("rate(1 day)", "Mars/Olympus")


IDS = ["m1", "m2", "m3"]


@pytest.mark.parametrize(("result", "failed"), [
    (None, set()), ({}, set()), ({"batchItemFailures": []}, set()), ({"batchItemFailures": None}, set()),
    ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
    ({"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}, {"m1", "m3"}),
    # Lambda fails the whole batch on a response it cannot read:
    ("oops", set(IDS)), ([], set(IDS)), ({"batchItemFailures": "m1"}, set(IDS)),
    ({"batchItemFailures": [{"itemIdentifier": ""}]}, set(IDS)),
    ({"batchItemFailures": [{"itemIdentifier": None}]}, set(IDS)),
    ({"batchItemFailures": [{"id": "m1"}]}, set(IDS)),
    ({"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}, set(IDS)),
])
def test_partial_batch_response(result, failed):
    assert failed_message_ids(result, IDS, report_failures=True) == failed


def test_without_report_batch_item_failures_the_response_is_ignored():
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "m1"}]}, IDS, report_failures=False) == set()


def test_handler_module_of_a_nested_code_uri():
    template = {"Resources": {
        "Sender": {"Properties": {"CodeUri": "functions/invites/sender/", "Handler": "app.lambda_handler"}},
        "Joins": {"Properties": {"CodeUri": "functions/joins/", "Handler": "app.lambda_handler"}}}}
    assert function_module(template, "Sender") == "functions.invites.sender.app"
    assert function_module(template, "Joins") == "functions.joins.app"


def test_a_scheduled_function_reads_its_time_from_the_event():
    from attract.clock import scheduled_at

    assert scheduled_at({"time": "2026-12-02T15:00:00Z"}) == datetime(2026, 12, 2, 15, tzinfo=UTC)
    # Absent, unreadable or without an offset: the function falls back to its own clock
    assert scheduled_at({}) is None and scheduled_at({"time": "soon"}) is None
    assert scheduled_at({"time": "2026-12-02T15:00:00"}) is None and scheduled_at([]) is None  # type: ignore[arg-type]
