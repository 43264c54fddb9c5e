"""The reporting period: local dates, checked, and their UTC bounds."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from models.errors import InvalidInputError

MAX_PERIOD_YEARS = 10
"""Longest period accepted (a longer one is almost certainly a typo)."""

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Period:
    """Local dates ``first`` to ``last`` (both included) in ``zone``."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        """The first instant (UTC): ``first`` at 00:00 local time."""
        return local_midnight(self.first, self.zone)

    @property
    def end(self) -> datetime:
        """The instant after the last one (UTC): the day after ``last`` at 00:00 local."""
        return local_midnight(self.last + timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def months(self) -> list[tuple[str, datetime, datetime]]:
        """Each local month the period touches: (``YYYY-MM``, start, end) in UTC, clipped."""
        found = []
        year, month = self.first.year, self.first.month
        while date(year, month, 1) <= self.last:
            following = date(year + month // 12, month % 12 + 1, 1)
            start = max(local_midnight(date(year, month, 1), self.zone), self.start)
            end = min(local_midnight(following, self.zone), self.end)
            found.append((f"{year:04d}-{month:02d}", start, end))
            year, month = following.year, following.month
        return found


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """``day`` at 00:00 in ``zone``, as a UTC instant (midnight exists in French time)."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def parse_day(value: str | date, name: str) -> date:
    """A local date written ``AAAA-MM-JJ``; anything else is refused with a French message."""
    if isinstance(value, date):
        return value
    text_value = value.strip()
    try:
        if not _DATE.match(text_value):
            raise ValueError
        return date.fromisoformat(text_value)
    except ValueError:
        raise InvalidInputError(
            f"« {value} » n'est pas une date valide : le format attendu est AAAA-MM-JJ "
            "(par exemple 2025-01-31).",
            field=name,
        ) from None


def parse_period(first: str | date, last: str | date, zone: ZoneInfo) -> Period:
    """Check a period given by its first and last days (both included)."""
    start = parse_day(first, "from")
    end = parse_day(last, "to")
    if end < start:
        raise InvalidInputError(
            f"La période est inversée : le {end:%d/%m/%Y} (to) précède le {start:%d/%m/%Y} (from).",
            field="to",
        )
    if start.year < 2000 or end.year > 2999:
        raise InvalidInputError(
            "La période doit se situer entre l'an 2000 et l'an 2999.", field="from"
        )
    if end >= _add_years(start, MAX_PERIOD_YEARS):
        raise InvalidInputError(
            f"La période est trop longue : {MAX_PERIOD_YEARS} ans au plus.", field="to"
        )
    return Period(start, end, zone)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
