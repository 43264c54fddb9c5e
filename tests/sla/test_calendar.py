"""Business and 24/7 calendars, with expectations worked out by hand in Europe/Paris."""

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.calendar import (
    BusinessCalendar,
    Calendar,
    TwentyFourSevenCalendar,
    build_calendar,
)
from tests.conftest import PARIS
from tests.factories import paris

CET = timedelta(hours=1)
CEST = timedelta(hours=2)

BUSINESS = BusinessCalendar(PARIS)
ALWAYS = TwentyFourSevenCalendar()
# Every local day open around the clock: business arithmetic that must equal real time.
ALL_DAY = BusinessCalendar(PARIS, opening_hours={d: [(time(0), time(0))] for d in range(7)})


def hours(count: float) -> timedelta:
    return timedelta(hours=count)


def assert_same_instant(actual: datetime, expected: datetime) -> None:
    # Compare instant, UTC tag and local offset: a right instant with a wrong offset
    # would still show the wrong wall-clock time to a user.
    assert actual == expected
    assert actual.tzinfo is UTC
    assert actual.astimezone(PARIS).utcoffset() == expected.utcoffset()


# --- weekends, nights and closing time ---------------------------------------------------


def test_friday_afternoon_rolls_over_the_weekend() -> None:
    result = BUSINESS.add(paris(2026, 1, 16, 17), hours(2))
    assert_same_instant(result, paris(2026, 1, 19, 9))


def test_between_over_a_weekend_counts_business_time_only() -> None:
    assert BUSINESS.between(paris(2026, 1, 16, 17), paris(2026, 1, 19, 9)) == hours(2)
    assert BUSINESS.between(paris(2026, 1, 16, 12), paris(2026, 1, 19, 12)) == hours(10)


def test_submission_at_night_starts_counting_at_the_next_opening() -> None:
    assert_same_instant(BUSINESS.add(paris(2026, 1, 20, 22), hours(1)), paris(2026, 1, 21, 9))
    assert_same_instant(BUSINESS.add(paris(2026, 1, 20, 6), hours(1)), paris(2026, 1, 20, 9))


def test_submission_on_a_weekend_starts_counting_on_monday_morning() -> None:
    result = BUSINESS.add(paris(2026, 1, 17, 10), timedelta(minutes=30))
    assert_same_instant(result, paris(2026, 1, 19, 8, 30))
    assert BUSINESS.between(paris(2026, 1, 17, 10), paris(2026, 1, 18, 20)) == timedelta(0)


def test_duration_ending_exactly_at_closing_time_stops_there() -> None:
    assert_same_instant(BUSINESS.add(paris(2026, 1, 16, 16), hours(2)), paris(2026, 1, 16, 18))


def test_opening_hours_are_half_open() -> None:
    assert BUSINESS.is_business_time(paris(2026, 1, 16, 8))
    assert BUSINESS.is_business_time(paris(2026, 1, 16, 17, 59))
    assert not BUSINESS.is_business_time(paris(2026, 1, 16, 18))
    assert not BUSINESS.is_business_time(paris(2026, 1, 16, 7, 59))
    assert not BUSINESS.is_business_time(paris(2026, 1, 17, 10))


def test_zero_duration_returns_the_start() -> None:
    start = paris(2026, 1, 17, 10)
    assert_same_instant(BUSINESS.add(start, timedelta(0)), start)


def test_instants_in_another_zone_are_read_as_instants() -> None:
    # Friday 16:00 UTC is 17:00 in Paris (CET in January).
    result = BUSINESS.add(datetime(2026, 1, 16, 16, tzinfo=UTC), hours(2))
    assert result == datetime(2026, 1, 19, 8, tzinfo=UTC)


def test_between_is_zero_when_end_is_not_after_start() -> None:
    a, b = paris(2026, 1, 16, 10), paris(2026, 1, 16, 12)
    for calendar in (BUSINESS, ALWAYS):
        assert calendar.between(b, a) == timedelta(0)
        assert calendar.between(a, a) == timedelta(0)


# --- daylight-saving changes (29 March and 25 October 2026) -----------------------------


def test_spring_forward_weekend_business_add() -> None:
    start = paris(2026, 3, 27, 17)
    assert start.utcoffset() == CET
    result = BUSINESS.add(start, hours(3))
    assert_same_instant(result, paris(2026, 3, 30, 10))
    assert result.astimezone(PARIS).utcoffset() == CEST
    assert result == datetime(2026, 3, 30, 8, tzinfo=UTC)


def test_fall_back_weekend_business_add() -> None:
    start = paris(2026, 10, 23, 17)
    assert start.utcoffset() == CEST
    result = BUSINESS.add(start, hours(3))
    assert_same_instant(result, paris(2026, 10, 26, 10))
    assert result.astimezone(PARIS).utcoffset() == CET
    assert result == datetime(2026, 10, 26, 9, tzinfo=UTC)


def test_between_across_dst_weekends_counts_business_time_only() -> None:
    # Friday 12:00-18:00 plus Monday 08:00-12:00; the lost or gained hour is at night.
    assert BUSINESS.between(paris(2026, 3, 27, 12), paris(2026, 3, 30, 12)) == hours(10)
    assert BUSINESS.between(paris(2026, 10, 23, 12), paris(2026, 10, 26, 12)) == hours(10)
    assert BUSINESS.between(paris(2026, 3, 27, 17), paris(2026, 3, 30, 10)) == hours(3)
    assert BUSINESS.between(paris(2026, 10, 23, 17), paris(2026, 10, 26, 10)) == hours(3)


def test_24_7_across_spring_forward_gives_real_hours() -> None:
    # 11:00 UTC Saturday + 24 h = 11:00 UTC Sunday = 13:00 CEST.
    result = ALWAYS.add(paris(2026, 3, 28, 12), hours(24))
    assert_same_instant(result, paris(2026, 3, 29, 13))
    assert ALWAYS.between(paris(2026, 3, 29), paris(2026, 3, 30)) == hours(23)


def test_24_7_across_fall_back_gives_real_hours() -> None:
    # 10:00 UTC Saturday + 24 h = 10:00 UTC Sunday = 11:00 CET.
    result = ALWAYS.add(paris(2026, 10, 24, 12), hours(24))
    assert_same_instant(result, paris(2026, 10, 25, 11))
    assert ALWAYS.between(paris(2026, 10, 25), paris(2026, 10, 26)) == hours(25)


def test_wall_clock_opening_hours_follow_the_dst_change() -> None:
    assert ALL_DAY.between(paris(2026, 3, 29), paris(2026, 3, 30)) == hours(23)
    assert ALL_DAY.between(paris(2026, 10, 25), paris(2026, 10, 26)) == hours(25)
    assert_same_instant(ALL_DAY.add(paris(2026, 3, 28, 12), hours(24)), paris(2026, 3, 29, 13))
    # Sunday 01:00-04:00 local: two real hours in spring (01:00 CET-04:00 CEST),
    # four in autumn (01:00 CEST-04:00 CET).
    night = BusinessCalendar(PARIS, opening_hours={6: [(time(1), time(4))]})
    assert night.between(paris(2026, 3, 29), paris(2026, 3, 30)) == hours(2)
    assert night.between(paris(2026, 10, 25), paris(2026, 10, 26)) == hours(4)
    assert night.add(paris(2026, 10, 25), hours(4)) == datetime(2026, 10, 25, 3, tzinfo=UTC)


# --- French public holidays ---------------------------------------------------------------


def test_ascension_thursday_is_closed() -> None:
    assert not BUSINESS.is_business_time(paris(2026, 5, 14, 10))
    assert_same_instant(BUSINESS.add(paris(2026, 5, 13, 17), hours(2)), paris(2026, 5, 15, 9))


def test_bastille_day_is_closed() -> None:
    assert not BUSINESS.is_business_time(paris(2026, 7, 14, 10))
    assert_same_instant(BUSINESS.add(paris(2026, 7, 13, 17), hours(2)), paris(2026, 7, 15, 9))


def test_labour_day_is_closed() -> None:
    # 1 May 2026 is a Friday: Thursday evening rolls to Monday 4 May.
    assert not BUSINESS.is_business_time(paris(2026, 5, 1, 10))
    assert_same_instant(BUSINESS.add(paris(2026, 4, 30, 17), hours(2)), paris(2026, 5, 4, 9))


def test_christmas_is_closed() -> None:
    # 25 December 2026 is a Friday.
    assert not BUSINESS.is_business_time(paris(2026, 12, 25, 10))
    assert_same_instant(BUSINESS.add(paris(2026, 12, 24, 17), hours(2)), paris(2026, 12, 28, 9))


@pytest.mark.parametrize(
    "holiday",
    [
        date(2026, 1, 1),
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),
        date(2026, 5, 8),
        date(2026, 5, 14),  # Ascension
        date(2026, 5, 25),  # Whit Monday
        date(2026, 7, 14),
        date(2026, 11, 11),
        date(2026, 12, 25),
    ],
)
def test_weekday_public_holidays_are_closed_all_day(holiday: date) -> None:
    start = paris(holiday.year, holiday.month, holiday.day)
    assert BUSINESS.between(start, start + timedelta(days=1)) == timedelta(0)
    assert not BUSINESS.is_business_time(start + hours(10))


def test_default_calendar_keeps_good_friday_and_26_december_open() -> None:
    assert BUSINESS.is_business_time(paris(2026, 4, 3, 10))
    assert_same_instant(BUSINESS.add(paris(2026, 4, 2, 17), hours(2)), paris(2026, 4, 3, 9))
    # 26 December 2025 is a Friday.
    assert BUSINESS.is_business_time(paris(2025, 12, 26, 10))
    assert_same_instant(BUSINESS.add(paris(2025, 12, 24, 17), hours(2)), paris(2025, 12, 26, 9))


@pytest.mark.parametrize("subdivision", ["57", "6AE", "67", "68"])
def test_alsace_moselle_closes_good_friday_and_26_december(subdivision: str) -> None:
    calendar = BusinessCalendar(PARIS, subdivision=subdivision)
    # Good Friday 3 April, then Easter Monday 6 April: Thursday evening rolls to Tuesday.
    assert not calendar.is_business_time(paris(2026, 4, 3, 10))
    assert_same_instant(calendar.add(paris(2026, 4, 2, 17), hours(2)), paris(2026, 4, 7, 9))
    # 25 and 26 December 2025 are Thursday and Friday.
    assert not calendar.is_business_time(paris(2025, 12, 26, 10))
    assert_same_instant(calendar.add(paris(2025, 12, 24, 17), hours(2)), paris(2025, 12, 29, 9))
    assert not calendar.is_business_time(paris(2028, 12, 26, 10))


def test_unknown_subdivision_is_rejected() -> None:
    with pytest.raises(ValueError, match="subdivision"):
        BusinessCalendar(PARIS, subdivision="99")


def test_empty_subdivision_means_none() -> None:
    assert BusinessCalendar(PARIS, subdivision="").subdivision is None


# --- large durations ----------------------------------------------------------------------


def test_large_duration_steps_day_by_day() -> None:
    # 2 000 h = 200 ten-hour days. From Monday 5 January, 206 weekdays reach Monday
    # 19 October; six of them are holidays (6 Apr, 1, 8, 14, 25 May, 14 Jul), so the
    # 200th working day is 19 October and the duration ends at its closing time.
    calendar = BusinessCalendar(PARIS)
    calls = 0
    original = calendar.open_intervals

    def counting(day: date) -> list[tuple[datetime, datetime]]:
        nonlocal calls
        calls += 1
        return original(day)

    calendar.open_intervals = counting  # type: ignore[method-assign]
    start = paris(2026, 1, 5, 8)
    result = calendar.add(start, hours(2000))
    assert_same_instant(result, paris(2026, 10, 19, 18))
    # 288 calendar days: one interval lookup per day, not per minute.
    assert calls <= 300
    assert calendar.between(start, result) == hours(2000)


# --- invalid input ------------------------------------------------------------------------


@pytest.mark.parametrize("calendar", [BUSINESS, ALWAYS], ids=["business", "24/7"])
def test_naive_datetimes_are_rejected(calendar: Calendar) -> None:
    naive = datetime(2026, 1, 16, 17)
    aware = paris(2026, 1, 16, 17)
    with pytest.raises(ValueError, match="aware"):
        calendar.add(naive, hours(1))
    with pytest.raises(ValueError, match="aware"):
        calendar.between(naive, aware)
    with pytest.raises(ValueError, match="aware"):
        calendar.between(aware, naive)
    with pytest.raises(ValueError, match="aware"):
        calendar.is_business_time(naive)


@pytest.mark.parametrize("calendar", [BUSINESS, ALWAYS], ids=["business", "24/7"])
def test_negative_durations_are_rejected(calendar: Calendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        calendar.add(paris(2026, 1, 16, 17), timedelta(seconds=-1))


@pytest.mark.parametrize(
    "opening_hours",
    [
        {7: [(time(8), time(18))]},
        {0: [(time(18), time(8))]},
        {0: [(time(8), time(8))]},
        {},
        {0: []},
    ],
)
def test_invalid_opening_hours_are_rejected(opening_hours: dict) -> None:
    with pytest.raises(ValueError):
        BusinessCalendar(PARIS, opening_hours=opening_hours)


def test_overlapping_slots_are_counted_once() -> None:
    calendar = BusinessCalendar(
        PARIS, opening_hours={0: [(time(8), time(12)), (time(10), time(14))]}
    )
    assert calendar.between(paris(2026, 1, 19), paris(2026, 1, 20)) == hours(6)


# --- factory ------------------------------------------------------------------------------


def test_build_calendar_kinds() -> None:
    business = build_calendar("business", "Europe/Paris", subdivision="57")
    assert isinstance(business, BusinessCalendar)
    assert business.zone == PARIS
    assert business.subdivision == "57"
    assert isinstance(build_calendar("24/7", "Europe/Paris"), TwentyFourSevenCalendar)


def test_build_calendar_passes_opening_hours() -> None:
    calendar = build_calendar("business", "Europe/Paris", opening_hours={5: [(time(9), time(12))]})
    assert calendar.is_business_time(paris(2026, 1, 17, 10))
    assert not calendar.is_business_time(paris(2026, 1, 16, 10))


@pytest.mark.parametrize(
    ("kind", "zone"), [("weekly", "Europe/Paris"), ("business", "Europe/Nowhere")]
)
def test_build_calendar_rejects_unknown_settings(kind: str, zone: str) -> None:
    with pytest.raises(ValueError):
        build_calendar(kind, zone)


# --- properties ---------------------------------------------------------------------------

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_SECONDS = int((datetime(2028, 1, 1, tzinfo=UTC) - EPOCH).total_seconds())

# Whole seconds keep every expectation exact; the zones vary how the instants are tagged.
instants = st.builds(
    lambda seconds, zone: (EPOCH + timedelta(seconds=seconds)).astimezone(zone),
    st.integers(min_value=0, max_value=SPAN_SECONDS - 1),
    st.sampled_from([UTC, PARIS, ZoneInfo("America/New_York"), timezone(timedelta(hours=5))]),
)
durations = st.integers(min_value=0, max_value=200 * 3600).map(lambda s: timedelta(seconds=s))
calendars = st.sampled_from([BUSINESS, ALWAYS, ALL_DAY])


@settings(max_examples=300, deadline=None)
@given(calendar=calendars, start=instants, duration=durations)
def test_between_undoes_add(calendar: Calendar, start: datetime, duration: timedelta) -> None:
    end = calendar.add(start, duration)
    assert end.tzinfo is UTC
    assert end >= start
    assert calendar.between(start, end) == duration
    if duration > timedelta(0):
        # The deadline is the earliest such instant: the moment before it was open time.
        assert calendar.is_business_time(end - timedelta(microseconds=1))


@settings(max_examples=200, deadline=None)
@given(calendar=calendars, a=instants, b=instants, c=instants)
def test_between_is_additive(calendar: Calendar, a: datetime, b: datetime, c: datetime) -> None:
    first, middle, last = sorted([a, b, c])
    assert calendar.between(first, last) == (
        calendar.between(first, middle) + calendar.between(middle, last)
    )


def _window(first: datetime, last: datetime) -> st.SearchStrategy[datetime]:
    span = int((last - first).total_seconds())
    return st.integers(min_value=0, max_value=span).map(
        lambda seconds: first + timedelta(seconds=seconds)
    )


# Holiday-free stretches of at least 200 h past their end, each holding a DST change,
# so the only difference left between the two calendars would be the wall-clock mapping.
holiday_free_instants = st.one_of(
    _window(datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 3, 27, tzinfo=UTC)),
    _window(datetime(2026, 8, 16, tzinfo=UTC), datetime(2026, 10, 22, tzinfo=UTC)),
)


@settings(max_examples=200, deadline=None)
@given(start=holiday_free_instants, duration=durations)
def test_all_day_business_calendar_matches_real_time(start: datetime, duration: timedelta) -> None:
    assert ALL_DAY.add(start, duration) == ALWAYS.add(start, duration)


def test_next_opening_is_the_start_of_the_next_open_interval() -> None:
    # Friday 19:00 → Monday 08:00; a Thursday-evening request → Friday 08:00.
    assert BUSINESS.next_opening(paris(2026, 1, 16, 19)) == paris(2026, 1, 19, 8)
    assert BUSINESS.next_opening(paris(2026, 1, 15, 22, 30)) == paris(2026, 1, 16, 8)
    # Open: the instant itself; the closing instant is closed (half-open hours).
    assert BUSINESS.next_opening(paris(2026, 1, 16, 10, 15)) == paris(2026, 1, 16, 10, 15)
    assert BUSINESS.next_opening(paris(2026, 1, 16, 18)) == paris(2026, 1, 19, 8)
    # Ascension Thursday (14 May 2026) is skipped; the lunch break waits until 14:00.
    assert BUSINESS.next_opening(paris(2026, 5, 13, 20)) == paris(2026, 5, 15, 8)
    split = BusinessCalendar(PARIS, opening_hours={0: [(time(8), time(12)), (time(14), time(18))]})
    assert split.next_opening(paris(2026, 1, 19, 12, 30)) == paris(2026, 1, 19, 14)
    # Results are in UTC; 24/7 is always open.
    assert BUSINESS.next_opening(paris(2026, 1, 17, 3)).tzinfo == UTC
    assert ALWAYS.next_opening(paris(2026, 1, 17, 3)) == paris(2026, 1, 17, 3)
