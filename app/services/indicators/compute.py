"""Every indicator for a period, from one read-only snapshot of the database.

Every figure is counted over the requests **submitted in the period**, whose bounds
are local dates (``Europe/Paris`` by default): from the first day at 00:00 to the day
after the last at 00:00, local time, converted to UTC instants once. Cancelled
requests count as submitted, never in the delays; a request still open counts in
``answered_count`` only once answered.

How it is computed, so that a year of a million requests stays fast and the memory
flat: a handful of statements in one read-only snapshot, each one pass over the period's
entries of an index (never the wide rows, where the clinical fields are encrypted);
Python only ever receives aggregated rows. The delays are columns of the request
(``response_hours``, ``acknowledge_hours``, ``appointment_days``, ``answered_in_time``)
that ``models.history.record`` derives at every change of state, so no statement does
date arithmetic per row.

- the *cube*: counts and sums per (local month, priority, specialty, sub-specialty,
  specialist); the totals and the four breakdowns are its roll-ups (one year of cells
  at a time: at most 12 x priorities x sub-specialties x specialists rows), so a
  breakdown gives means and rates (percentiles do not add up: the report of a month
  gives that month's median). PostgreSQL groups each month's range of
  ``ix_request_indicator_period`` (the cube's columns INCLUDEd); SQLite, which groups
  only by sorting, aggregates each cell's contiguous range of
  ``ix_request_indicator_cells`` instead;
- the *percentiles* (median and 90th percentile of the three delays, exactly as
  ``percentile_cont`` interpolates them): when the period holds a good share of the
  table (``walk_pays``), each delay's index is walked in order up to the two ranks around each
  percentile (``ORDER BY … LIMIT 2 OFFSET rank``, the 90th from the top), with no sort;
  for a shorter period, the period's values are sorted (``percentile_cont`` on
  PostgreSQL, a ``row_number()`` window on SQLite);
- distinct patients (keyed hash, never decrypted) and distinct requesters, each by
  grouping in the database (indexes on ``(patient_key, …)`` and
  ``(requester_id, submitted_at)`` serve them);
- the members (a few hundred rows at most), prorated over the period in Python.
"""

import json
import operator
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.indicators.membership import Member, membership
from app.services.indicators.period import Period
from app.services.indicators.schemas import (
    DelayStats,
    Indicators,
    MonthIndicators,
    PriorityIndicators,
    SpecialistIndicators,
    SubspecialtyIndicators,
)
from app.services.indicators.statements import (
    CUBE_SUMS,
    DISTRIBUTIONS,
    FRACTIONS,
    WALK_SHARE,
    cube_statement_postgres,
    cube_statement_sqlite,
    in_period,
    interpolate,
    month_chunks,
    patients_statement,
    percentile_statement,
    requesters_statement,
    table_estimate_statement,
    table_requests_statement,
    walk_pays,
    without_patient_key_statement,
)
from models import Priority, Request, Role, Subspecialty, User

# Session settings of the PostgreSQL snapshot (see _begin_snapshot): no JIT, custom plans,
# and enough memory for the percentile sorts to stay in memory.
POSTGRES_WORK_MEM = "64MB"

_INDEX = {name: index for index, name in enumerate(CUBE_SUMS)}


class Sums:
    """Counts and sums of a set of requests (hours for delays, days for appointments);
    means and rates are derived from them."""

    def __init__(self) -> None:
        self.values = [0.0] * len(CUBE_SUMS)

    def add(self, values: Sequence[float]) -> None:
        assert len(values) == len(self.values)
        self.values = list(map(operator.add, self.values, values))  # a year's cells: fast

    def __getitem__(self, name: str) -> float:
        return self.values[_INDEX[name]]

    def count(self, name: str) -> int:
        return int(self[name])

    def ratio(self, numerator: str, denominator: str, digits: int) -> float | None:
        below = self[denominator]
        return round(self[numerator] / below, digits) if below else None

    def group(self) -> dict[str, Any]:
        return {
            "teleexpertise_count": self.count("total"),
            "answered_count": self.count("answered"),
            "cancelled_count": self.count("cancelled"),
            "response_delay_mean_hours": self.ratio("response_sum", "answered", 3),
            "within_sla_rate": self.ratio("within_sum", "within_count", 4),
            "acknowledge_delay_mean_hours": self.ratio("acknowledge_sum", "acknowledged", 3),
            "appointment_delay_mean_days": self.ratio("appointment_sum", "appointments", 3),
            "advanced_consultations_count": self.count("advanced"),
            "usefulness_mean": self.ratio("usefulness_sum", "feedback", 3),
            "referral_avoided_rate": self.ratio("avoided_sum", "avoided_count", 4),
        }


def _delay(results: tuple[float, ...] | None, count: int, total: float) -> DelayStats:
    if not count or results is None:
        return DelayStats(median=None, p90=None, mean=None, count=0)
    median, p90 = results
    return DelayStats(
        median=round(median, 3), p90=round(p90, 3), mean=round(total / count, 3), count=count
    )


async def _begin_snapshot(session: AsyncSession, dialect: str) -> None:
    """One consistent, read-only snapshot for every statement (SQLite's WAL read
    transaction gives it already)."""
    if dialect == "postgresql":
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        await session.execute(text("SET LOCAL jit = off"))
        # The statements are prepared once per connection; after five runs PostgreSQL may
        # switch to a generic plan that ignores the period's bounds (a month and ten years
        # then share one plan): plan each run for its own period.
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        await session.execute(text(f"SET LOCAL work_mem = '{POSTGRES_WORK_MEM}'"))


async def percentiles(
    session: AsyncSession, period: Period, counts: dict[str, int], *, walk: bool
) -> dict[str, tuple[float, ...]]:
    """Median and 90th percentile of each distribution that has values (``counts``: how
    many values each has in the period), by walking the delays' indexes or by sorting."""
    if not any(counts.values()):
        return {}
    dialect = session.bind.dialect.name
    rows = (await session.execute(percentile_statement(period, dialect, counts, walk=walk))).all()
    if not walk and dialect == "postgresql":
        (row,) = rows
        return {
            name: tuple(float(v) for v in getattr(row, name))
            for name in DISTRIBUTIONS
            if getattr(row, name) is not None
        }
    ranked: dict[str, dict[int, float]] = {}
    if walk:
        for kind, first, low, high in rows:
            values = ranked.setdefault(DISTRIBUTIONS[kind - 1], {})
            values[first], values[first + 1] = float(low), float(high)
    else:
        for kind, rank, value in rows:
            ranked.setdefault(DISTRIBUTIONS[kind - 1], {})[rank] = float(value)
    return {
        name: tuple(interpolate(values, counts[name], fraction) for fraction in FRACTIONS)
        for name, values in ranked.items()
    }


async def table_requests(
    session: AsyncSession, period: Period, period_requests: int, *, exact: bool = True
) -> int:
    """The table's requests (``period_requests`` of them in the period).

    Unless ``exact``, PostgreSQL's own estimate of the table's rows (``reltuples``, kept by
    ``ANALYZE`` and autovacuum) when it is well above what a walk needs: a short period of a
    big table then sorts without counting the rest of the table (a month of a million
    requests: some 900 000 index entries, about 0.1 s). The estimate only chooses the way;
    both give the same figures.
    """
    dialect = session.bind.dialect.name
    if not exact and dialect == "postgresql":
        estimate = (await session.execute(table_estimate_statement())).scalar_one()
        if estimate is not None and estimate > 2 * WALK_SHARE * period_requests:
            return int(estimate)
    found = (await session.execute(table_requests_statement(period, dialect))).scalar_one()
    return found + period_requests if dialect == "postgresql" else found


async def _cube_rows(
    session: AsyncSession, period: Period, dialect: str
) -> AsyncIterator[tuple[int, str, str, str | None, uuid.UUID | None, list[float]]]:
    """The cube's non-empty cells, a year of them at a time: (month, keys…, sums)."""
    for months in month_chunks(period):
        if dialect == "postgresql":
            for row in (await session.execute(cube_statement_postgres(months))).all():
                yield (*row[:5], [float(value or 0) for value in row[5:]])  # type: ignore[misc]
            continue
        for *keys, sums in (await session.execute(cube_statement_sqlite(months))).all():
            values = [float(value or 0) for value in json.loads(sums)]
            if values[0]:  # a combination absent that month
                yield (*keys, values)  # type: ignore[misc]


async def compute_indicators(
    session: AsyncSession,
    period: Period,
    *,
    now: datetime,
    territory_specialists: int | None = None,
) -> Indicators:
    """Every indicator for ``period``, from one read-only snapshot of the database."""
    dialect = session.bind.dialect.name
    await _begin_snapshot(session, dialect)
    months = period.months()

    overall = Sums()
    by_month = [Sums() for _ in months]
    by_priority: dict[str, Sums] = {p.value: Sums() for p in Priority}
    by_sub: dict[tuple[str, str | None], Sums] = {}
    by_specialist: dict[uuid.UUID | None, Sums] = {}
    async for month, priority, specialty, subspecialty, specialist, values in _cube_rows(
        session, period, dialect
    ):
        by_month[month].add(values)
        if priority not in by_priority:
            by_priority[priority] = Sums()
        by_priority[priority].add(values)
        if (specialty, subspecialty) not in by_sub:
            by_sub[specialty, subspecialty] = Sums()
        by_sub[specialty, subspecialty].add(values)
        if specialist not in by_specialist:
            by_specialist[specialist] = Sums()
        by_specialist[specialist].add(values)
    for sums in by_priority.values():
        overall.add(sums.values)

    counts = {
        "response": overall.count("answered"),
        "acknowledge": overall.count("acknowledged"),
        "appointment": overall.count("appointments"),
    }
    table = await table_requests(session, period, overall.count("total"), exact=False)
    walk = walk_pays(overall.count("total"), table)
    found = await percentiles(session, period, counts, walk=walk)
    patients = (await session.execute(patients_statement(period, dialect))).scalar_one()
    without_key = (await session.execute(without_patient_key_statement(period))).scalar_one()
    requesters, treating = (await session.execute(requesters_statement(period))).one()

    members = await _members(session)
    subspecialties = await _subspecialty_names(session)
    names = await _names(session, [key for key in by_specialist if key is not None])

    delays = {
        name: _delay(found.get(name), counts[name], overall[f"{name}_sum"])
        for name in DISTRIBUTIONS
    }
    return Indicators(
        period={"from": period.first, "to": period.last},
        timezone=period.zone.key,
        generated_at=now,
        teleexpertise_count=overall.count("total"),
        answered_count=overall.count("answered"),
        cancelled_count=overall.count("cancelled"),
        open_count=overall.count("total") - overall.count("answered") - overall.count("cancelled"),
        patients_count=patients,
        requests_without_patient_key=without_key,
        requesters_count=requesters,
        treating_physicians_count=int(treating or 0),
        response_delay_hours=delays["response"],
        within_sla_rate=overall.ratio("within_sum", "within_count", 4),
        acknowledge_delay_hours=delays["acknowledge"],
        appointment_delay_days=delays["appointment"],
        usefulness_mean=overall.ratio("usefulness_sum", "feedback", 3),
        referral_avoided_rate=overall.ratio("avoided_sum", "avoided_count", 4),
        feedback_count=overall.count("feedback"),
        advanced_consultation_specialists_count=sum(
            1 for member in members if member.advanced and member.days_in(period) > 0
        ),
        advanced_consultations_count=overall.count("advanced"),
        by_month=[
            MonthIndicators(month=label, **sums.group())
            for (label, _, _), sums in zip(months, by_month, strict=True)
        ],
        by_subspecialty=_subspecialty_rows(by_sub, subspecialties),
        by_specialist=_specialist_rows(by_specialist, members, names, period),
        by_priority=[
            PriorityIndicators(priority=Priority(key), **sums.group())
            for key, sums in sorted(by_priority.items(), key=lambda item: item[0] != "urgent")
        ],
        membership=membership(members, period, territory_specialists),
    )


async def submitted_counts(session: AsyncSession, periods: Sequence[Period]) -> list[int]:
    """How many requests were submitted in each of ``periods``: one pass over their span of
    the ``submitted_at`` index, for the report's choice of periods."""
    if not periods:
        return []
    span = in_period(min(p.start for p in periods), max(p.end for p in periods))
    counts = [func.count().filter(in_period(p.start, p.end)) for p in periods]
    return list((await session.execute(select(*counts).where(span))).one())


async def first_submitted_at(session: AsyncSession) -> datetime | None:
    """When the ESS's first request was submitted (None before any)."""
    first = (await session.execute(select(func.min(Request.submitted_at)))).scalar_one()
    if first is None:
        return None
    return first if first.tzinfo else first.replace(tzinfo=UTC)


async def _members(session: AsyncSession) -> list[Member]:
    rows = await session.execute(
        select(
            User.id, User.name, User.member_since, User.member_until, User.advanced_consultations
        ).where(User.role == Role.SPECIALIST)
    )
    return [Member(*row) for row in rows]


async def _subspecialty_names(session: AsyncSession) -> dict[tuple[str, str], str]:
    rows = await session.execute(
        select(Subspecialty.specialty_code, Subspecialty.code, Subspecialty.name)
    )
    return {(specialty, code): name for specialty, code, name in rows}


async def _names(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {user_id: name for user_id, name in rows}


NO_SUBSPECIALTY = "Sans sur-spécialité"
UNASSIGNED = "Non attribuée"


def _subspecialty_rows(
    found: dict[tuple[str, str | None], Sums], names: dict[tuple[str, str], str]
) -> list[SubspecialtyIndicators]:
    specialties = {specialty for specialty, _ in found}
    keys = set(found) | {key for key in names if key[0] in specialties or not found}
    rows = []
    for specialty, code in keys:
        label = names.get((specialty, code), code) if code else NO_SUBSPECIALTY
        sums = found.get((specialty, code), Sums())
        rows.append(
            SubspecialtyIndicators(
                specialty=specialty, subspecialty=code, name=str(label), **sums.group()
            )
        )
    rows.sort(key=lambda r: (r.specialty, r.subspecialty is None, r.name.casefold()))
    return rows


def _specialist_rows(
    found: dict[uuid.UUID | None, Sums],
    members: Sequence[Member],
    names: dict[uuid.UUID, str],
    period: Period,
) -> list[SpecialistIndicators]:
    in_period = {member.id: member for member in members if member.days_in(period) > 0}
    rows = []
    for key in set(found) | set(in_period):
        sums = found.get(key, Sums())
        if key is None:
            name = UNASSIGNED
        else:
            name = names.get(key) or (in_period[key].name if key in in_period else str(key))
        rows.append(
            SpecialistIndicators(
                specialist_id=key, name=name, member=key in in_period, **sums.group()
            )
        )
    rows.sort(key=lambda r: (r.specialist_id is None, r.name.casefold(), str(r.specialist_id)))
    return rows
