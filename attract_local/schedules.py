"""Schedule expressions as EventBridge (rules and Scheduler) reads them: `rate()`, `cron()` and `at()`.

`parse(expression, timezone)` returns a Schedule whose `next_after(moment)` is the first fire time
strictly after `moment` (None when there is none). What AWS accepts and this module does not
(`W`, `LW`, `L-n` in day-of-month) raises UnsupportedScheduleError: never a schedule that silently
fires at other times than AWS would.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}  # JAN -> 1
_DAYS = {name: i + 1 for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}  # AWS: 1 = Sunday
_RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
HORIZON_DAYS = 366 * 5  # a cron expression with no fire time in five years is treated as never firing


class UnsupportedScheduleError(ValueError):
    """An expression AWS would refuse, or one the local stack cannot honour: an error, never a guess."""

    def __init__(self, expression: str, detail: str):
        super().__init__(f"schedule expression {expression!r}: {detail}")


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

    def next_after(self, moment: datetime, anchor: datetime) -> datetime | None:
        local = moment.astimezone(self.zone)
        day = local.date()
        for _ in range(HORIZON_DAYS):
            if (self.years is None or day.year in self.years) and day.month in self.months and self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone)
                        if at > moment:
                            return at
            day += timedelta(days=1)
        return None

    def _day_matches(self, day: date) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        if self.weekdays == "?":
            if self.days == "L":
                return day.day == last
            return day.day in _field(self.days, 1, 31, {}, self.expression, "day-of-month")
        aws_weekday = (day.isoweekday() % 7) + 1  # Sunday 1 ... Saturday 7
        if "#" in self.weekdays:
            weekday, nth = self.weekdays.split("#")
            return aws_weekday == _value(weekday, _DAYS, self.expression) and (day.day - 1) // 7 + 1 == int(nth)
        if self.weekdays.endswith("L"):
            return aws_weekday == _value(self.weekdays[:-1], _DAYS, self.expression) and day.day + 7 > last
        return aws_weekday in _field(self.weekdays, 1, 7, _DAYS, self.expression, "day-of-week")


Schedule = Rate | At | Cron


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
                                           + (" (wrap-around ranges are not supported locally)" if start > end
                                              else ""))
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
    if days != "?" and days != "L" and re.search(r"[LW]", days.upper()):
        raise UnsupportedScheduleError(expression, f"day-of-month {days!r}: W, LW and L-n are not supported locally")
    if weekdays != "?":
        if re.fullmatch(r"[A-Za-z0-9]+#[1-5]", weekdays) or re.fullmatch(r"[A-Za-z0-9]+L", weekdays):
            _value(re.split(r"[#L]", weekdays)[0], _DAYS, expression)  # validated now, not at the first fire
        else:
            _field(weekdays, 1, 7, _DAYS, expression, "day-of-week")
    elif days != "L":
        _field(days, 1, 31, {}, expression, "day-of-month")
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
