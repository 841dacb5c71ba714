"""The layer's schedule expressions (attract.schedules): how often a schedule fires, in real time, and the
day-of-month forms and DST rules EventBridge Scheduler documents. The local stack fires with the same module."""

from datetime import datetime, timedelta, timezone

import pytest

from attract.schedules import parse, shortest_interval

UTC = timezone.utc
NOW = datetime(2026, 5, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(("expression", "zone", "interval"), [
    ("rate(1 minute)", "UTC", timedelta(minutes=1)),
    ("rate(59 minutes)", "UTC", timedelta(minutes=59)),
    ("rate(60 minutes)", "UTC", HOUR),
    ("rate(1 hour)", "UTC", HOUR),
    ("rate(3 days)", "UTC", timedelta(days=3)),
    ("cron(* * * * ? *)", "UTC", timedelta(minutes=1)),
    ("cron(0/15 9 ? * MON-FRI *)", "UTC", timedelta(minutes=15)),
    ("cron(0,59 9 ? * MON *)", "UTC", timedelta(minutes=59)),
    ("cron(0 * * * ? *)", "Europe/Berlin", HOUR),
    ("cron(0 9-17 ? * MON-FRI *)", "UTC", HOUR),
    ("cron(0 23,0 * * ? *)", "UTC", HOUR),  # 23:00 and the next day's 00:00
    ("cron(0 9 ? * MON *)", "UTC", timedelta(days=7)),
    # The night clocks go forward, 02:30 does not happen: 01:30 CET to 03:30 CEST is one hour, never less
    ("cron(30 1,2,3 * * ? *)", "Europe/Berlin", HOUR),
    # Lord Howe Island moves its clocks by half an hour: 01:30 (+10:30) and 02:30 (+11) are 30 minutes apart
    ("cron(30 * * * ? *)", "Australia/Lord_Howe", timedelta(minutes=30)),
    ("cron(45 1,2 * * ? *)", "Australia/Lord_Howe", timedelta(minutes=30)),
])
def test_the_shortest_interval_between_two_firings_is_measured_in_real_time(expression, zone, interval):
    assert shortest_interval(parse(expression, zone), NOW) == interval


def test_a_schedule_firing_once_has_no_interval():
    assert shortest_interval(parse("at(2027-01-15T09:30:00)", "Europe/Berlin"), NOW) is None
    assert shortest_interval(parse("cron(0 9 1 1 ? 2030)"), NOW) is None  # once, in 2030
    assert shortest_interval(parse("cron(0 9 1 1 ? 2020)"), NOW) is None  # never again


def test_a_cron_of_later_years_is_measured_in_those_years():
    # Given a cron firing every minute, but only from 2100 on (the 28-year window from now would see nothing)
    assert shortest_interval(parse("cron(* 9 * * ? 2100-2101)"), NOW) == timedelta(minutes=1)


def test_measuring_stops_at_the_first_interval_shorter_than_asked():
    # A minute apart on the first day: found at once, whatever the 28 years hold
    assert shortest_interval(parse("cron(0,1 9 * * ? *)"), NOW, below=HOUR) == timedelta(minutes=1)


def _fires(expression: str, count: int, zone: str | None = None, start: datetime = NOW) -> list[str]:
    schedule, moment, out = parse(expression, zone), start, []
    for _ in range(count):
        moment = schedule.next_after(moment, start)
        out.append(moment.astimezone(UTC).strftime("%a %Y-%m-%d %H:%M"))
    return out


def test_the_weekday_nearest_a_day_never_leaves_its_month():
    # 15 Aug 2026 is a Saturday: the Friday before; 1 Aug 2026 is a Saturday too: the Monday after (3 Aug)
    assert _fires("cron(0 10 15W * ? *)", 4) == ["Fri 2026-05-15 10:00", "Mon 2026-06-15 10:00",
                                                 "Wed 2026-07-15 10:00", "Fri 2026-08-14 10:00"]
    assert _fires("cron(0 10 1W 8 ? 2026)", 1) == ["Mon 2026-08-03 10:00"]
    # The last weekday: 31 May 2026 is a Sunday, so Friday the 29th
    assert _fires("cron(0 10 LW * ? *)", 2) == ["Fri 2026-05-29 10:00", "Tue 2026-06-30 10:00"]


def test_a_wall_time_skipped_by_a_dst_change_does_not_fire_and_a_repeated_one_fires_once():
    # Europe/Berlin: 29 March 2026 02:00 CET -> 03:00 CEST; 25 October 2026 03:00 CEST -> 02:00 CET
    assert _fires("cron(30 2 * * ? *)", 2, "Europe/Berlin", datetime(2026, 3, 28, 12, tzinfo=UTC)) == [
        "Mon 2026-03-30 00:30", "Tue 2026-03-31 00:30"]  # not on the 29th
    assert _fires("cron(30 2 * * ? *)", 2, "Europe/Berlin", datetime(2026, 10, 24, 12, tzinfo=UTC)) == [
        "Sun 2026-10-25 00:30", "Mon 2026-10-26 01:30"]  # the first 02:30 (CEST) only
