"""When things happen in the demo's year: arrivals, working delays, absences, appointments.

Pure functions of a seeded ``random.Random`` and the business calendar, so the same
seed and the same end instant give the same history.
"""

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sla.calendar import Calendar

# Requests a year at scale 1: some six a working day for a dozen specialists, about
# 125 each (the README's example report counts 60 each, 6 000 for 100 specialists).
# Each costs some 25 ms of CPU to play through the services: this keeps the first
# start of ``make run`` under a minute (docs/benchmarks.md).
REQUESTS_PER_YEAR = 1500

# General practitioners write after their consultations: mostly in office hours,
# a good share in the evening, a little at weekends (index: local hour).
WEEKDAY_HOURS = [0, 0, 0, 0, 0, 0, 1, 2, 5, 7, 8, 9, 8, 5, 6, 7, 8, 9, 9, 7, 5, 3, 2, 1]
WEEKEND_HOURS = [0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 5, 5, 4, 2, 2, 2, 2, 2, 2, 2, 1, 1, 0, 0]
# Monday is busy, Wednesday afternoon many GPs are off, Sunday is quiet.
WEEKDAY_FACTOR = [1.25, 1.1, 0.9, 1.05, 1.0, 0.3, 0.1]


def season(day: date) -> float:
    if day.month == 8 or (day.month == 12 and day.day >= 22) or (day.month == 1 and day.day < 3):
        return 0.6
    if day.month == 7:
        return 0.85
    return 1.0


def poisson(rng: random.Random, mean: float) -> int:
    """Draw from a Poisson law (Knuth: fine for the few requests of a day)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def arrivals(
    rng: random.Random, start: datetime, end: datetime, zone: ZoneInfo, per_year: float
) -> Iterator[datetime]:
    """Yield submission instants (UTC, in order) between ``start`` and ``end``."""
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    weights = [WEEKDAY_FACTOR[d.weekday()] * season(d) for d in days]
    scale = per_year * len(days) / 365 / sum(weights)
    for day, weight in zip(days, weights, strict=True):
        hours = WEEKDAY_HOURS if day.weekday() < 5 else WEEKEND_HOURS
        instants = []
        for _ in range(poisson(rng, weight * scale)):
            hour = rng.choices(range(24), weights=hours)[0]
            local = datetime.combine(day, time(hour), zone) + timedelta(seconds=rng.randrange(3600))
            instants.append(local.astimezone(UTC))
        for instant in sorted(instants):
            if start <= instant < end:
                yield instant


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return rng.lognormvariate(math.log(median), sigma)


def after_work(calendar: Calendar, now: datetime, hours: float) -> datetime:
    """When someone who starts now is done after ``hours`` of work.

    In business time when the ESS is open (the evening's on-call specialist works in
    the evening, in calendar time).
    """
    if calendar.is_business_time(now):
        return calendar.add(now, timedelta(hours=hours))
    return now + timedelta(hours=min(hours, 3))


def waking(now: datetime, hours: float, zone: ZoneInfo) -> datetime:
    """``hours`` later in calendar time, moved out of the night (a GP replies by day)."""
    then = (now + timedelta(hours=hours)).astimezone(zone)
    if then.hour < 8:
        then = then.replace(hour=8) + timedelta(minutes=then.minute)
    elif then.hour >= 21:
        then = (then + timedelta(days=1)).replace(hour=8) + timedelta(minutes=then.minute)
    return then.astimezone(UTC)


def appointment(rng: random.Random, answered: datetime, days: float, zone: ZoneInfo) -> datetime:
    """A plausible appointment about ``days`` after the answer: a weekday, 08:30 to 17:30."""
    day = (answered + timedelta(days=max(days, 1))).astimezone(zone).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    slot = time(8, 30) if rng.random() < 0.5 else time(14)
    local = datetime.combine(day, slot, zone) + timedelta(minutes=30 * rng.randrange(7))
    return local.astimezone(UTC)


@dataclass(frozen=True)
class AbsencePlan:
    who: str
    first_day: date
    days: int
    reason: str
    declared_days_before: int


def absences(
    rng: random.Random, names: list[str], start: datetime, end: datetime, zone: ZoneInfo
) -> list[AbsencePlan]:
    """Summer and winter holidays, congresses, someone away now and someone away soon."""
    today = end.astimezone(zone).date()
    first = start.astimezone(zone).date()
    plans: list[AbsencePlan] = []
    summer = today.year if today >= date(today.year, 9, 1) else today.year - 1
    winter = date(today.year - 1 if today.month < 12 or today.day < 20 else today.year, 12, 22)
    for index, name in enumerate(names):
        begin = date(summer, 7, 6) + timedelta(days=7 * (index % 7) + rng.randrange(3))
        plans.append(AbsencePlan(name, begin, 14 + 7 * (index % 2), "Congés", 60))
        if index % 3 == 0 and first < winter < today:
            plans.append(AbsencePlan(name, winter, 10, "Congés", 45))
        if index % 4 == 1:
            congress = first + timedelta(days=60 + 37 * index % 200)
            plans.append(AbsencePlan(name, congress, 3, "Congrès", 30))
    return [p for p in plans if first < p.first_day and p.first_day + timedelta(p.days) < today]


def current_and_future_absences(end: datetime, zone: ZoneInfo) -> list[AbsencePlan]:
    """Absences around the present: the only vascular physician and four cardiologists
    are away now (the colleague left in their pools fills up), two more soon."""
    today = end.astimezone(zone).date()
    around = [
        ("Dr Ella Stique", -4, 10, "Congrès", 40),
        ("Dr Guy Mauve", -1, 3, "Formation", 2),
        ("Dr Sarah Croche", -9, 12, "Congés", 30),
        ("Dr Jean Sérien", -7, 9, "Congés", 30),
        ("Dr Élie Coptère", -8, 14, "Congrès", 45),
        ("Dr Anne Onyme", 14, 7, "Congés", 20),
        ("Dr Alex Térieur", 30, 5, "Congés", 35),
    ]
    return [
        AbsencePlan(name, today + timedelta(days=offset), days, reason, declared)
        for name, offset, days, reason, declared in around
    ]


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)
