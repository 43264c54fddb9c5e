"""Business calendars: which instants count towards a deadline, and how to add open time.

Everything here is pure: no clock reads, no I/O. Instants are timezone-aware datetimes
and results are returned in UTC.
"""

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

ZERO = timedelta(0)
ONE_DAY = timedelta(days=1)

OpeningHours = Mapping[int, Sequence[tuple[time, time]]]

DEFAULT_OPENING_HOURS: dict[int, list[tuple[time, time]]] = {
    weekday: [(time(8), time(18))] for weekday in range(5)
}
"""Monday to Friday, 08:00-18:00 local time; the weekend is closed."""

# The holidays package knows Moselle as "57" and the Collectivité européenne d'Alsace
# as "6AE"; operators naturally name the two Alsace departments by their numbers.
SUBDIVISION_ALIASES = {"67": "6AE", "68": "6AE"}

CALENDAR_KINDS = ("business", "24/7")


class Calendar(Protocol):
    def add(self, start: datetime, duration: timedelta) -> datetime:
        """Return the instant when ``duration`` of open time has elapsed after ``start``."""
        ...

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Return the open time between two instants (zero if ``end`` is not after ``start``)."""
        ...

    def is_business_time(self, instant: datetime) -> bool:
        """Tell whether ``instant`` falls in business time (counts towards a deadline)."""
        ...

    def next_opening(self, instant: datetime) -> datetime:
        """Return the first business instant at or after ``instant``, in UTC."""
        ...


def _utc(instant: datetime, name: str = "instant") -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {instant!r}")
    # Aware datetimes sharing a tzinfo subtract by wall clock, so all arithmetic is in UTC.
    return instant.astimezone(UTC)


def _check_duration(duration: timedelta) -> None:
    if duration < ZERO:
        raise ValueError(f"duration must not be negative, got {duration!r}")


class TwentyFourSevenCalendar:
    """Count every instant: deadlines are plain elapsed time."""

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """Return ``start`` plus ``duration`` of real time, in UTC."""
        begin = _utc(start, "start")
        _check_duration(duration)
        return begin + duration

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Return the real time between two instants (zero if ``end`` is not after ``start``)."""
        elapsed = _utc(end, "end") - _utc(start, "start")
        return max(elapsed, ZERO)

    def is_business_time(self, instant: datetime) -> bool:
        """Tell whether ``instant`` falls in business time (always)."""
        _utc(instant)
        return True

    def next_opening(self, instant: datetime) -> datetime:
        """Return ``instant`` in UTC: the calendar never closes."""
        return _utc(instant)

    def __repr__(self) -> str:
        return "TwentyFourSevenCalendar()"


def _normalise_opening_hours(
    opening_hours: OpeningHours,
) -> dict[int, tuple[tuple[time, time | None], ...]]:
    normalised: dict[int, tuple[tuple[time, time | None], ...]] = {}
    for weekday, slots in opening_hours.items():
        if not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ValueError(f"opening hours weekday must be 0 (Monday) to 6, got {weekday!r}")
        checked: list[tuple[time, time | None]] = []
        for opens, closes in slots:
            if opens.tzinfo is not None or closes.tzinfo is not None:
                raise ValueError("opening hours are local wall-clock times, without tzinfo")
            # time() cannot say 24:00, so a closing time of 00:00 means the end of the day.
            end: time | None = None if closes == time(0) else closes
            if end is not None and end <= opens:
                raise ValueError(
                    f"opening hours on weekday {weekday}: {opens} is not before {closes}"
                )
            checked.append((opens, end))
        normalised[weekday] = tuple(sorted(checked, key=lambda slot: slot[0]))
    if not any(normalised.values()):
        raise ValueError("opening hours leave the calendar closed on every day of the week")
    return normalised


def _country_holidays(
    subdivision: str | None, years: int | Sequence[int] = ()
) -> holidays.HolidayBase:
    try:
        return holidays.country_holidays("FR", subdiv=subdivision, years=years)
    except NotImplementedError as error:
        raise ValueError(f"unknown French holiday subdivision {subdivision!r}: {error}") from None


class BusinessCalendar:
    """Count local opening hours, skipping French public holidays."""

    def __init__(
        self,
        zone: ZoneInfo,
        opening_hours: OpeningHours | None = None,
        subdivision: str | None = None,
    ) -> None:
        self.zone = zone
        self._hours = _normalise_opening_hours(
            DEFAULT_OPENING_HOURS if opening_hours is None else opening_hours
        )
        # An empty environment variable means "no subdivision", like an unset one.
        cleaned = subdivision.strip() if subdivision else ""
        self.subdivision = SUBDIVISION_ALIASES.get(cleaned, cleaned) or None
        # Fail at start-up on a misspelt subdivision, not at the first deadline.
        _country_holidays(self.subdivision)
        self._holidays: dict[int, frozenset[date]] = {}

    def __repr__(self) -> str:
        return f"BusinessCalendar(zone={self.zone.key!r}, subdivision={self.subdivision!r})"

    def holidays_in(self, year: int) -> frozenset[date]:
        """Return the public holidays of ``year`` (computed once per year)."""
        found = self._holidays.get(year)
        if found is None:
            found = frozenset(_country_holidays(self.subdivision, year))
            self._holidays[year] = found
        return found

    def open_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """Return the open intervals of local date ``day`` as half-open UTC pairs, in order."""
        slots = self._hours.get(day.weekday())
        if not slots or day in self.holidays_in(day.year):
            return []
        intervals: list[tuple[datetime, datetime]] = []
        for opens, closes in slots:
            begin = self._to_utc(day, opens)
            if closes is None:
                end = self._to_utc(day + ONE_DAY, time(0))
            else:
                end = self._to_utc(day, closes)
            # A slot inside the spring-forward gap can collapse to nothing.
            if end <= begin:
                continue
            if intervals and begin <= intervals[-1][1]:
                # Overlapping or touching slots: merge them so no time is counted twice.
                intervals[-1] = (intervals[-1][0], max(intervals[-1][1], end))
            else:
                intervals.append((begin, end))
        return intervals

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """Return the instant when ``duration`` of open time has elapsed after ``start``."""
        cursor = _utc(start, "start")
        _check_duration(duration)
        if duration == ZERO:
            return cursor
        remaining = duration
        for begin, end in self._intervals_from(cursor):
            if end <= cursor:
                continue
            begin = max(begin, cursor)
            available = end - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable: the interval generator never ends")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Return the open time between two instants (zero if ``end`` is not after ``start``)."""
        lower = _utc(start, "start")
        upper = _utc(end, "end")
        total = ZERO
        if upper <= lower:
            return total
        for begin, finish in self._intervals_from(lower):
            if begin >= upper:
                break
            overlap = min(finish, upper) - max(begin, lower)
            if overlap > ZERO:
                total += overlap
        return total

    def is_business_time(self, instant: datetime) -> bool:
        """Tell whether ``instant`` falls within opening hours on a working day."""
        moment = _utc(instant)
        day = moment.astimezone(self.zone).date()
        return any(begin <= moment < end for begin, end in self.open_intervals(day))

    def next_opening(self, instant: datetime) -> datetime:
        """Return the first business instant at or after ``instant`` (itself when open), in UTC."""
        moment = _utc(instant)
        for begin, end in self._intervals_from(moment):
            if end > moment:
                return max(begin, moment)
        raise AssertionError("unreachable: the interval generator never ends")

    def _to_utc(self, day: date, wall_clock: time) -> datetime:
        # fold=0: an ambiguous time takes its first occurrence, and a time in the
        # spring-forward gap is read with the offset in force before the change.
        return datetime.combine(day, wall_clock, tzinfo=self.zone).astimezone(UTC)

    def _intervals_from(self, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
        # Each local day's intervals lie within that day, so starting from the day that
        # contains `instant` misses nothing; stepping a day at a time keeps large
        # durations cheap. Opening hours are validated to be non-empty and holidays
        # never fill a year, so this never stalls.
        day = instant.astimezone(self.zone).date()
        while True:
            yield from self.open_intervals(day)
            day += ONE_DAY


def build_calendar(
    kind: str,
    zone: str,
    subdivision: str | None = None,
    opening_hours: OpeningHours | None = None,
) -> Calendar:
    """Build the calendar named by the settings (``business`` or ``24/7``)."""
    try:
        zone_info = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown timezone {zone!r}: {error}") from None
    if kind == "business":
        return BusinessCalendar(zone_info, opening_hours=opening_hours, subdivision=subdivision)
    if kind == "24/7":
        return TwentyFourSevenCalendar()
    raise ValueError(f"unknown calendar kind {kind!r}; expected one of {', '.join(CALENDAR_KINDS)}")
