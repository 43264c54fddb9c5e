"""Both ways to the percentiles, walking the delays' indexes or sorting the period's values,
give ``percentile_cont``'s exact result: odd and even counts, ties, one value, none."""

import math
import random
from datetime import timedelta

import pytest

from app.services.indicators import compute_indicators, parse_period
from app.services.indicators.compute import percentiles, table_requests
from app.services.indicators.statements import DISTRIBUTIONS, walk_pays
from tests.conftest import Ess
from tests.factories import PARIS, insert, paris

MARCH = parse_period("2026-03-01", "2026-03-31", PARIS)
START = paris(2026, 3, 10, 9, 0)


def percentile_cont(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def answered(ess: Ess, hours: float, *, submitted_at=START, **values) -> None:
    await insert(
        ess,
        submitted_at=submitted_at,
        status="answered",
        answered_at=submitted_at + timedelta(hours=hours),
        outcome="advice",
        **values,
    )


async def both_ways(ess: Ess, count: int) -> list[dict[str, tuple[float, ...]]]:
    counts = {"response": count, "acknowledge": 0, "appointment": 0}
    async with ess.context.db.reading() as session:
        return [await percentiles(session, MARCH, counts, walk=walk) for walk in (True, False)]


CASES = {
    "one value": [7.25],
    "two values": [1.0, 4.0],
    "odd count": [3.0, 1.0, 2.0],
    "even count": [1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0],
    "ties": [2.0, 2.0, 2.0, 2.0, 5.0, 5.0],
    "ties across the ranks": [1.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 20.0, 30.0],
    "many": [round(random.Random(7).lognormvariate(2.5, 1.0) + i / 1000, 6) for i in range(203)],
}


@pytest.mark.parametrize("hours", CASES.values(), ids=CASES.keys())
async def test_walk_and_sort_equal_percentile_cont(ess: Ess, hours: list[float]) -> None:
    for value in hours:
        await answered(ess, value)
    # Values that must not count: before the period, after it, and cancelled.
    await answered(ess, 0.5, submitted_at=paris(2026, 2, 28, 23, 0))
    await answered(ess, 999.0, submitted_at=paris(2026, 4, 1, 0, 0))
    await insert(
        ess,
        submitted_at=START,
        status="cancelled",
        accepted_at=START,
        answered_at=START + timedelta(hours=0.1),
    )
    walked, sorted_ = await both_ways(ess, len(hours))
    expected = tuple(percentile_cont(hours, fraction) for fraction in (0.5, 0.9))
    for found in (walked, sorted_):
        assert set(found) == {"response"}
        assert found["response"] == pytest.approx(expected, abs=1e-9)
    assert walked["response"] == pytest.approx(sorted_["response"], abs=1e-9)


async def test_no_value(ess: Ess) -> None:
    await insert(ess, submitted_at=START, status="pending")
    assert await both_ways(ess, 0) == [{}, {}]


async def test_the_way_follows_the_share_of_the_table(client, ess: Ess) -> None:
    assert walk_pays(4, 20) and walk_pays(20, 20)
    assert not walk_pays(3, 20)
    # Most of the table outside March: the computation sorts, with the same result.
    for value in (1.0, 2.0, 3.0):
        await answered(ess, value)
    for day in range(1, 21):
        await answered(ess, 50.0, submitted_at=paris(2026, 1, day, 9, 0))
    async with ess.context.db.reading() as session:
        assert await table_requests(session, MARCH, 3) == 23
        assert not walk_pays(3, 23)
    async with ess.context.db.reading() as session:
        found = await compute_indicators(session, MARCH, now=START)
    assert found.response_delay_hours.count == 3
    assert (found.response_delay_hours.median, found.response_delay_hours.p90) == (2.0, 2.8)
    assert DISTRIBUTIONS == ("response", "acknowledge", "appointment")
