"""The dashboard's weeks (``trends.weekly``): requests per local week and priority, those
answered, and the median and 90th percentile of the time to answer as ``percentile_cont``
gives them, the same on both backends."""

import math
from datetime import date, timedelta

import pytest

from app.services.indicators.trends import WEEKS, weekly
from models import Priority
from tests.conftest import Ess
from tests.factories import PARIS, insert, paris

TODAY = date(2026, 3, 31)  # a Tuesday; its week starts on Monday 30 March
THIS_MONDAY = date(2026, 3, 30)


def percentile_cont(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 3)


async def answered(ess: Ess, at, hours: float, priority: str = "standard") -> None:  # type: ignore[no-untyped-def]
    await insert(
        ess,
        submitted_at=at,
        status="answered",
        priority=priority,
        answered_at=at + timedelta(hours=hours),
        outcome="advice",
    )


async def test_weeks_count_and_interpolate_like_percentile_cont(ess: Ess) -> None:
    # The week of 23 March: five answered (two urgent), one still open.
    hours = [2.0, 30.5, 7.25, 11.0, 3.5]
    for index, value in enumerate(hours):
        priority = "urgent" if index < 2 else "standard"
        await answered(ess, paris(2026, 3, 24, 9, index), value, priority)
    await insert(ess, submitted_at=paris(2026, 3, 25, 10, 0), status="accepted")
    # Sunday 29 March 23:30 in Paris belongs to that week; Monday 00:30 to this one
    # (the clocks moved to summer time that night).
    await answered(ess, paris(2026, 3, 29, 23, 30), 1.0)
    await answered(ess, paris(2026, 3, 30, 0, 30), 40.0, "urgent")
    # Before the 52 weeks: not counted.
    await answered(ess, paris(2025, 3, 1, 12, 0), 500.0)

    async with ess.context.db.reading() as session:
        weeks = await weekly(session, TODAY, PARIS)

    assert len(weeks) == WEEKS
    assert weeks[-1].monday == THIS_MONDAY
    assert weeks[0].monday == THIS_MONDAY - timedelta(weeks=WEEKS - 1)
    last_week, this_week = weeks[-2], weeks[-1]
    assert last_week.monday == date(2026, 3, 23)
    assert last_week.submitted == {Priority.URGENT: 2, Priority.STANDARD: 5}
    assert last_week.answered == 6
    expected = [*hours, 1.0]
    assert last_week.response_median == pytest.approx(percentile_cont(expected, 0.5))
    assert last_week.response_p90 == pytest.approx(percentile_cont(expected, 0.9))
    assert this_week.submitted == {Priority.URGENT: 1, Priority.STANDARD: 0}
    assert (this_week.answered, this_week.response_median, this_week.response_p90) == (
        1,
        40.0,
        40.0,
    )
    empty = weeks[0]
    assert empty.submitted == {Priority.URGENT: 0, Priority.STANDARD: 0}
    assert (empty.answered, empty.response_median, empty.response_p90) == (0, None, None)


async def test_a_week_with_requests_but_no_answer_has_no_delay(ess: Ess) -> None:
    await insert(ess, submitted_at=paris(2026, 3, 31, 8, 0), status="pending")
    async with ess.context.db.reading() as session:
        this_week = (await weekly(session, TODAY, PARIS))[-1]
    assert this_week.submitted == {Priority.URGENT: 0, Priority.STANDARD: 1}
    assert (this_week.answered, this_week.response_median, this_week.response_p90) == (
        0,
        None,
        None,
    )
