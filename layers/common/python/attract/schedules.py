"""Schedule expressions as EventBridge (rules and Scheduler) reads them: `rate()`, `cron()` and `at()`.

One owner for both sides: the invite API checks how often a campaign's schedule fires with it
(`shortest_interval`), and the local stack (`attract_local.triggers`) fires schedules with it. Stdlib only.

`parse(expression, timezone)` returns a Schedule whose `next_after(moment)` is the first fire time
strictly after `moment` (None when there is none). What AWS accepts and this module does not (`L-n`
in day-of-month, wrap-around ranges) raises UnsupportedScheduleError: never a schedule that silently
fires at other times than AWS would.

Daylight saving time as EventBridge Scheduler documents it: a wall time that a change skips does not
fire, and one that a change repeats fires once (the first time it happens).
"""

import calendar
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}  # JAN -> 1
_DAYS = {name: i + 1 for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}  # AWS: 1 = Sunday
_RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
HORIZON_DAYS = 366 * 5  # a cron expression with no fire time in five years is treated as never firing
# The Gregorian calendar's dates and weekdays repeat every 28 years (1901-2099), and time zones change on rules
# like "the last Sunday of March": 28 years of firings meet every day a cron can fire on and every DST change.
INTERVAL_YEARS = 28


class UnsupportedScheduleError(ValueError):
    """An expression AWS would refuse, or one this module cannot honour: an error, never a guess."""

    def __init__(self, expression: str, detail: str):
        super().__init__(f"schedule expression {expression!r}: {detail}")
        self.detail = detail  # without the expression


@dataclass(frozen=True)
class Rate:
    seconds: int

    def next_after(self, moment: datetime, anchor: datetime) -> datetime:
        """Every `seconds` from `anchor` (when the schedule started locally); the first one after `moment`."""
        if moment < anchor:
            return anchor + timedelta(seconds=self.seconds)
        periods = int((moment - anchor).total_seconds() // self.seconds) + 1
        return anchor + timedelta(seconds=periods * self.seconds)


@dataclass(frozen=True)
class At:
    moment: datetime  # aware

    def next_after(self, moment: datetime, anchor: datetime) -> datetime | None:
        return self.moment if moment < self.moment else None


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: str  # the day-of-month field as written ("?" when day-of-week decides)
    months: frozenset[int]
    weekdays: str  # the day-of-week field as written ("?" when day-of-month decides)
    years: frozenset[int] | None  # None: every year
    zone: ZoneInfo | timezone
    expression: str
    # The day fields, read once: a set of days (of the month or the week), or one special form.
    _day_set: frozenset[int] = field(default=frozenset(), repr=False, compare=False)
    _times: tuple[tuple[int, int], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_times", tuple(sorted((h, m) for h in self.hours for m in self.minutes)))
        if self.weekdays == "?" and not self.days.upper().endswith(("L", "W")):
            object.__setattr__(self, "_day_set", _field(self.days, 1, 31, {}, self.expression, "day-of-month"))
        elif self.days == "?" and not re.search(r"[#L]", self.weekdays):
            object.__setattr__(self, "_day_set", _field(self.weekdays, 1, 7, _DAYS, self.expression, "day-of-week"))

    def next_after(self, moment: datetime, anchor: datetime) -> datetime | None:
        day = moment.astimezone(self.zone).date()
        for _ in range(HORIZON_DAYS):
            if self.fires_on(day):
                for hour, minute in self._times:
                    at = self.instant(day, hour, minute)
                    if at is not None and at > moment:
                        return at.astimezone(self.zone)
            day += timedelta(days=1)
        return None

    def instant(self, day: date, hour: int, minute: int) -> datetime | None:
        """When the zone's wall time `day hour:minute` happens (UTC); None when a DST change skips it."""
        local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone)  # fold 0: the first one
        moment = local.astimezone(UTC)
        return moment if moment.astimezone(self.zone).replace(tzinfo=None) == local.replace(tzinfo=None) else None

    def fires_on(self, day: date) -> bool:
        """Whether the year, month and day fields take `day` (a date of the schedule's zone)."""
        if (self.years is not None and day.year not in self.years) or day.month not in self.months:
            return False
        if self._day_set:
            return (day.day if self.weekdays == "?" else day.isoweekday() % 7 + 1) in self._day_set
        last = calendar.monthrange(day.year, day.month)[1]
        if self.weekdays == "?":
            form = self.days.upper()
            if form == "L":
                return day.day == last
            if form == "LW":
                return day.day == _nearest_weekday(day, last)
            return day.day == _nearest_weekday(day, int(form[:-1]))  # nW
        aws_weekday = day.isoweekday() % 7 + 1  # Sunday 1 ... Saturday 7
        if "#" in self.weekdays:
            weekday, nth = self.weekdays.split("#")
            return aws_weekday == _value(weekday, _DAYS, self.expression) and (day.day - 1) // 7 + 1 == int(nth)
        # <day>L: the last such weekday of the month
        return aws_weekday == _value(self.weekdays[:-1], _DAYS, self.expression) and day.day + 7 > last

    def firings(self, start: datetime, days: int) -> Iterator[tuple[date, list[datetime] | None]]:
        """For each day the schedule fires on, from `start`'s day on for `days` days: the day and its fire times
        (UTC, in order), or None when the zone's offset is the same all day (the times are then the wall times)."""
        day, one = start.astimezone(self.zone).date(), timedelta(days=1)
        offset = datetime(day.year, day.month, day.day, tzinfo=self.zone).utcoffset()
        for _ in range(days):
            following = day + one
            tomorrow = datetime(following.year, following.month, following.day, tzinfo=self.zone).utcoffset()
            if self.fires_on(day):
                yield day, None if offset == tomorrow else [at for h, m in self._times if (at := self.instant(day, h, m))]
            day, offset = following, tomorrow


Schedule = Rate | At | Cron


def shortest_interval(schedule: Schedule, start: datetime, below: timedelta | None = None) -> timedelta | None:
    """The shortest time between two consecutive firings from `start` on; None for a schedule firing at most once.

    rate(): its period. at(): None. cron(): every firing of the next INTERVAL_YEARS years (from its first year
    when the year field starts later), in real time: a DST change can bring two wall times closer (on Lord Howe
    Island, 01:30 and 02:30 are 30 minutes apart the night clocks go forward half an hour). Stops at the first
    interval shorter than `below`, and returns it.
    """
    if isinstance(schedule, Rate):
        return timedelta(seconds=schedule.seconds)
    if isinstance(schedule, At):
        return None
    if schedule.years is not None:
        later = [year for year in schedule.years if year >= start.year]
        if not later:
            return None
        start = max(start, datetime(min(later), 1, 1, tzinfo=UTC))
    walls = [hour * 3600 + minute * 60 for hour, minute in schedule._times]
    same_day = min((b - a for a, b in itertools.pairwise(walls)), default=None)
    shortest: int | None = None
    previous: float | None = None  # the last firing so far, epoch seconds

    def seen(gap: float) -> bool:
        nonlocal shortest
        if shortest is None or gap < shortest:
            shortest = int(gap)
        return below is not None and gap < below.total_seconds()

    for day, moments in schedule.firings(start, INTERVAL_YEARS * 366):
        if moments is None:  # the wall times, shifted by the day's one offset
            midnight = datetime(day.year, day.month, day.day, tzinfo=schedule.zone).timestamp()
            first, last = midnight + walls[0], midnight + walls[-1]
            if same_day is not None and seen(same_day):
                break
        else:
            if not moments:
                continue
            stamps = [moment.timestamp() for moment in moments]
            first, last = stamps[0], stamps[-1]
            if any(seen(b - a) for a, b in itertools.pairwise(stamps)):
                break
        if previous is not None and seen(first - previous):
            break
        previous = last
    return None if shortest is None else timedelta(seconds=shortest)


def _nearest_weekday(day: date, target: int) -> int:
    """`<target>W`: the weekday (Monday-Friday) nearest the target day of `day`'s month, never in another month;
    0 when the month has no such day."""
    last = calendar.monthrange(day.year, day.month)[1]
    if target > last:
        return 0
    weekday = date(day.year, day.month, target).weekday()  # Monday 0 ... Sunday 6
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return target + 1 if target < last else target - 2
    return target


def _value(text: str, names: dict[str, int], expression: str) -> int:
    text = text.upper()
    if text in names:
        return names[text]
    if not text.isdigit():
        raise UnsupportedScheduleError(expression, f"{text!r} is not a number or a name")
    return int(text)


def _field(text: str, low: int, high: int, names: dict[str, int], expression: str, label: str) -> frozenset[int]:
    """`*`, `n`, `a-b`, `*/s`, `a/s`, `a-b/s` and lists of them, as in AWS's cron fields."""
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise UnsupportedScheduleError(expression, f"bad step {part!r} in the {label} field")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, second = base.partition("-")
            start, end = _value(first, names, expression), _value(second, names, expression)
        else:
            start = _value(base, names, expression)
            end = high if step else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise UnsupportedScheduleError(expression, f"{part!r} is outside {low}-{high} in the {label} field"
                                           + (" (wrap-around ranges are not supported)" if start > end else ""))
        values.update(range(start, end + 1, step or 1))
    return frozenset(values)


def _cron(body: str, zone: ZoneInfo | timezone, expression: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise UnsupportedScheduleError(expression, "cron() takes six fields: minutes hours day-of-month month "
                                                   "day-of-week year")
    minutes, hours, days, months, weekdays, years = fields
    if (days == "?") == (weekdays == "?"):
        raise UnsupportedScheduleError(expression, "exactly one of day-of-month and day-of-week must be '?'")
    if days != "?":
        special = re.fullmatch(r"L|LW|(\d{1,2})W", days.upper())
        if special and special.group(1) and not 1 <= int(special.group(1)) <= 31:
            raise UnsupportedScheduleError(expression, f"day-of-month {days!r}: nW takes a day 1-31")
        if not special and re.search(r"[LW]", days.upper()):
            raise UnsupportedScheduleError(expression, f"day-of-month {days!r}: only L, LW and nW are supported "
                                                       "(not L-n, nor W in a list)")
    if weekdays != "?":
        if re.fullmatch(r"[A-Za-z0-9]+#[1-5]", weekdays) or re.fullmatch(r"[A-Za-z0-9]+L", weekdays):
            _value(re.split(r"[#L]", weekdays)[0], _DAYS, expression)  # validated now, not at the first fire
        else:
            _field(weekdays, 1, 7, _DAYS, expression, "day-of-week")
    return Cron(
        minutes=_field(minutes, 0, 59, {}, expression, "minutes"),
        hours=_field(hours, 0, 23, {}, expression, "hours"),
        days=days, months=_field(months, 1, 12, _MONTHS, expression, "month"), weekdays=weekdays.upper(),
        years=None if years == "*" else _field(years, 1970, 2199, {}, expression, "year"),
        zone=zone, expression=expression,
    )


def parse(expression: str, zone_name: str | None = None) -> Schedule:
    """A Schedule for `expression`; `zone_name` (Scheduler's ScheduleExpressionTimezone) applies to cron and at."""
    try:
        zone: ZoneInfo | timezone = ZoneInfo(zone_name) if zone_name and zone_name != "UTC" else UTC
    except (KeyError, ValueError) as error:
        raise UnsupportedScheduleError(expression, f"unknown timezone {zone_name!r}") from error
    match = re.fullmatch(r"\s*(rate|cron|at)\((.*)\)\s*", expression or "")
    if not match:
        raise UnsupportedScheduleError(expression, "expected rate(...), cron(...) or at(...)")
    kind, body = match.groups()
    if kind == "rate":
        rate = re.fullmatch(r"\s*(\d+)\s+([a-z]+)\s*", body)
        if not rate or rate.group(2) not in _RATE_UNITS or int(rate.group(1)) < 1:
            raise UnsupportedScheduleError(expression, "expected rate(N minute|minutes|hour|hours|day|days)")
        count, unit = int(rate.group(1)), rate.group(2)
        if (count == 1) != (unit in ("minute", "hour", "day")):
            raise UnsupportedScheduleError(expression, "AWS wants the singular unit for 1 and the plural otherwise")
        return Rate(count * _RATE_UNITS[unit])
    if kind == "at":
        try:
            moment = datetime.strptime(body.strip(), "%Y-%m-%dT%H:%M:%S")
        except ValueError as error:
            raise UnsupportedScheduleError(expression, "expected at(yyyy-mm-ddThh:mm:ss)") from error
        return At(moment.replace(tzinfo=zone))
    return _cron(body, zone, expression)
