"""Week by week over the last year: the dashboard's charts.

The same rules as ``compute``: requests counted by their submission, the time to answer
(``response_hours``, stored by ``models.history.record``) over those answered, the median
and 90th percentile as ``percentile_cont`` interpolates them (``statements.interpolate``).
A week is a local week, Monday 00:00 to Monday 00:00 in the ESS's time zone.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Integer,
    Select,
    and_,
    case,
    cast,
    column,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy import values as sql_values
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel.sql.sqltypes import UTCDateTime

from app.services.indicators.period import local_midnight
from app.services.indicators.statements import FRACTIONS, interpolate
from models import Priority, Request

WEEKS = 52


@dataclass(frozen=True)
class Week:
    """One local week's figures."""

    monday: date
    submitted: dict[Priority, int]
    answered: int
    response_median: float | None
    response_p90: float | None


def weeks_ending(
    today: date, zone: ZoneInfo, count: int = WEEKS
) -> list[tuple[date, datetime, datetime]]:
    """The ``count`` local weeks up to the one holding ``today``: (Monday, UTC start, UTC end)."""
    monday = today - timedelta(days=today.weekday())
    mondays = [monday - timedelta(weeks=count - 1 - i) for i in range(count)]
    return [
        (day, local_midnight(day, zone), local_midnight(day + timedelta(days=7), zone))
        for day in mondays
    ]


def _calendar(weeks: list[tuple[date, datetime, datetime]]) -> Any:
    return (
        sql_values(
            column("week", Integer),
            column("start", UTCDateTime()),
            column("stop", UTCDateTime()),
            name="weeks",
        )
        .data([(index, start, stop) for index, (_, start, stop) in enumerate(weeks)])
        .cte("weeks")
    )


def _week_of(weeks: list[tuple[date, datetime, datetime]]) -> Any:
    """SQLite: the index of the week a submission falls in, from the weeks' ends (SQLite has
    no index leading with ``submitted_at``: a join on the calendar would scan a whole index
    once per week, this reads the year's rows once)."""
    return case(*((Request.submitted_at < stop, index) for index, (_, _, stop) in enumerate(weeks)))


def _in_weeks(weeks: list[tuple[date, datetime, datetime]]) -> Any:
    return and_(Request.submitted_at >= weeks[0][1], Request.submitted_at < weeks[-1][2])


def counts_statement(weeks: list[tuple[date, datetime, datetime]]) -> Select[Any]:
    """Requests submitted and answered per week and priority (SQLite)."""
    week = _week_of(weeks).label("week")
    return (
        select(week, Request.priority, func.count(), func.count(Request.response_hours))
        .where(_in_weeks(weeks))
        .group_by(week, Request.priority)
    )


def weeks_statement_postgres(calendar: Any) -> Select[Any]:
    """Each week's figures in one pass over the period index: requests per priority, those
    answered, and the percentiles (NULL delays are ignored). The aggregate runs per week
    (LATERAL), so each week's delays are sorted alone, in memory, instead of the year's
    rows being sorted by week."""
    fractions = literal_column("ARRAY[" + ", ".join(str(f) for f in FRACTIONS) + "]")
    week = (
        select(
            *(func.count().filter(Request.priority == p) for p in Priority),
            func.count(Request.response_hours),
            func.percentile_cont(fractions).within_group(Request.response_hours),
        )
        .where(Request.submitted_at >= calendar.c.start, Request.submitted_at < calendar.c.stop)
        .lateral("week_figures")
    )
    return select(calendar.c.week, week).select_from(calendar.join(week, true()))


def percentiles_statement_sqlite(weeks: list[tuple[date, datetime, datetime]]) -> Select[Any]:
    """The ranked values ``percentile_cont`` needs, per week (a window, no percentile in
    SQLite): only the ranks around each fraction leave the database."""
    week = _week_of(weeks)
    ranked = (
        select(
            week.label("week"),
            Request.response_hours.label("value"),
            (func.row_number().over(partition_by=week, order_by=Request.response_hours) - 1).label(
                "rank"
            ),
            func.count().over(partition_by=week).label("n"),
        )
        .where(_in_weeks(weeks), Request.response_hours.is_not(None))
        .subquery("ranked")
    )
    wanted = []
    for fraction in FRACTIONS:
        low = cast(fraction * (ranked.c.n - 1), Integer)  # a floor: never negative
        wanted += [low, low + 1]
    return select(ranked.c.week, ranked.c.rank, ranked.c.n, ranked.c.value).where(
        ranked.c.rank.in_(wanted)
    )


async def weekly(session: AsyncSession, today: date, zone: ZoneInfo) -> list[Week]:
    """The last ``WEEKS`` local weeks, oldest first."""
    weeks = weeks_ending(today, zone)
    submitted: dict[int, dict[Priority, int]] = {}
    answered: dict[int, int] = {}
    found: dict[int, tuple[float, float]] = {}
    if session.bind.dialect.name == "postgresql":
        for week, *totals, done, values in (
            await session.execute(weeks_statement_postgres(_calendar(weeks)))
        ).all():
            submitted[week] = dict(zip(Priority, totals, strict=True))
            answered[week] = done
            if values is not None:
                found[week] = (float(values[0]), float(values[1]))
    else:
        for week, priority, total, done in (await session.execute(counts_statement(weeks))).all():
            submitted.setdefault(week, {})[Priority(priority)] = total
            answered[week] = answered.get(week, 0) + done
        ranked: dict[int, tuple[int, dict[int, float]]] = {}
        rows = (await session.execute(percentiles_statement_sqlite(weeks))).all()
        for week, rank, count, value in rows:
            ranked.setdefault(week, (count, {}))[1][rank] = float(value)
        for week, (count, values) in ranked.items():
            median, p90 = (interpolate(values, count, fraction) for fraction in FRACTIONS)
            found[week] = (median, p90)
    return [
        Week(
            monday=monday,
            submitted={p: submitted.get(index, {}).get(p, 0) for p in Priority},
            answered=answered.get(index, 0),
            response_median=round(found[index][0], 3) if index in found else None,
            response_p90=round(found[index][1], 3) if index in found else None,
        )
        for index, (monday, _, _) in enumerate(weeks)
    ]
