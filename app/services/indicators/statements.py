"""The statements, one pass each over the period's entries of an index.

Every statement reads the delays ``models.history.record`` stores on the request (hours and
days as plain numbers, NULL when a request does not count), so no per-row date arithmetic
and, through the indexes of migration 0002, never the wide rows of the table. Where the two
databases need different plans, each has its own twin (``…_postgres``, ``…_sqlite``).
"""

import math
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    true,
    union_all,
)
from sqlalchemy import (
    values as sql_values,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import CompoundSelect
from sqlmodel.sql.sqltypes import UTCDateTime

from app.services.indicators.period import Period
from models import Outcome, Request, Status, User

FRACTIONS = (0.5, 0.9)
"""The percentiles reported: median and 90th percentile."""
CUBE_MONTHS = 12
"""Months per cube statement: the cells of one year are in memory at a time."""


def in_period(start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(Request.submitted_at >= start, Request.submitted_at < end)


CUBE_KEYS = (
    Request.priority,
    Request.specialty_code,
    Request.subspecialty_code,
    Request.assignee_id,
)

CUBE_SUMS = (
    "total",
    "cancelled",
    "answered",
    "response_sum",
    "within_count",
    "within_sum",
    "acknowledged",
    "acknowledge_sum",
    "appointments",
    "appointment_sum",
    "advanced",
    "feedback",
    "usefulness_sum",
    "avoided_count",
    "avoided_sum",
)


def _cube_sums(r: Any) -> tuple[ColumnElement[Any], ...]:
    """The sums of ``CUBE_SUMS`` over the rows of ``r`` (the table, an alias, a subquery's
    columns)."""
    count = func.count
    return (
        count(),
        count().filter(r.status == Status.CANCELLED),
        count(r.response_hours),
        func.sum(r.response_hours),
        count(r.answered_in_time),
        count().filter(r.answered_in_time.is_(True)),
        count(r.acknowledge_hours),
        func.sum(r.acknowledge_hours),
        count(r.appointment_days),
        func.sum(r.appointment_days),
        count(r.appointment_days).filter(r.outcome == Outcome.ADVANCED_CONSULTATION),
        count(r.usefulness),
        func.sum(r.usefulness),
        count(r.referral_avoided),
        count().filter(r.referral_avoided.is_(True)),
    )


def _labelled(sums: tuple[ColumnElement[Any], ...]) -> list[ColumnElement[Any]]:
    return [s.label(name) for s, name in zip(sums, CUBE_SUMS, strict=True)]


def month_chunks(period: Period) -> list[list[tuple[int, datetime, datetime]]]:
    """The period's local months (index, UTC start, UTC end), ``CUBE_MONTHS`` at a time."""
    months = [(index, start, end) for index, (_, start, end) in enumerate(period.months())]
    return [months[i : i + CUBE_MONTHS] for i in range(0, len(months), CUBE_MONTHS)]


def cube_statement_postgres(
    months: list[tuple[int, datetime, datetime]],
) -> CompoundSelect | Select[Any]:
    """Counts and sums per (local month, priority, specialty, sub-specialty, specialist).

    One ``GROUP BY`` per local month over its range of ``ix_request_indicator_period``
    (an index-only scan: the cube's columns are INCLUDEd), glued by ``UNION ALL``: each
    hash of cells stays small, PostgreSQL runs the months in parallel, and a month is
    exactly its UTC range (daylight saving and New Year's Eve included).
    """
    branches = [
        select(literal(index).label("month"), *CUBE_KEYS, *_labelled(_cube_sums(Request)))
        .where(in_period(start, end))
        .group_by(*CUBE_KEYS)
        for index, start, end in months
    ]
    return union_all(*branches) if len(branches) > 1 else branches[0]


def cube_statement_sqlite(months: list[tuple[int, datetime, datetime]]) -> Select[Any]:
    """The same cells without sorting a million rows (SQLite groups only by sorting).

    ``ix_request_indicator_cells`` is ordered by (priority, specialty, sub-specialty,
    specialist, submitted_at): one cell, a combination of those four in one month, is one
    contiguous range of it. So: the combinations present in the months (read in the
    index's order, no sort), times the months, and for each cell a correlated subquery
    that aggregates its range, read from the index alone. A scalar subquery returns one
    value: the sums travel as a JSON array (in ``CUBE_SUMS`` order).
    """
    start, end = months[0][1], months[-1][2]
    combos = select(*CUBE_KEYS).where(in_period(start, end)).distinct().cte("combos")
    calendar = (
        sql_values(
            column("month", Integer),
            column("start", UTCDateTime()),
            column("stop", UTCDateTime()),
            name="months",
        )
        .data(months)
        .cte("months")
    )
    r = aliased(Request, name="r")
    cell = (
        select(func.json_array(*_cube_sums(r)))
        .where(
            r.priority == combos.c.priority,
            r.specialty_code == combos.c.specialty_code,
            r.subspecialty_code.is_not_distinct_from(combos.c.subspecialty_code),
            r.assignee_id.is_not_distinct_from(combos.c.assignee_id),
            r.submitted_at >= calendar.c.start,
            r.submitted_at < calendar.c.stop,
        )
        .scalar_subquery()
    )
    return select(calendar.c.month, *combos.c, cell.label("sums")).select_from(
        calendar.join(combos, true())
    )


DISTRIBUTIONS = ("response", "acknowledge", "appointment")


def _delay_columns() -> dict[str, Any]:
    """Each distribution's stored delay (hours, or days for appointments)."""
    r = Request
    return {
        "response": r.response_hours,
        "acknowledge": r.acknowledge_hours,
        "appointment": r.appointment_days,
    }


def ranks(count: int) -> list[int]:
    """The 0-based ranks ``percentile_cont`` interpolates between, for every fraction."""
    wanted: set[int] = set()
    for fraction in FRACTIONS:
        low = math.floor(fraction * (count - 1))
        wanted.update({low, min(low + 1, count - 1)})
    return sorted(wanted)


def interpolate(values: dict[int, float], count: int, fraction: float) -> float:
    """``percentile_cont``: linear interpolation between the two ranks around the position."""
    position = fraction * (count - 1)
    low = math.floor(position)
    high = min(low + 1, count - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def rank_pairs(count: int) -> list[tuple[int, int]]:
    """For each fraction, the two ranks around its position (the same when it falls on
    one): the lowest and highest value of a walk of at most two."""
    pairs = []
    for fraction in FRACTIONS:
        low = math.floor(fraction * (count - 1))
        pairs.append((low, min(low + 1, count - 1)))
    return sorted(set(pairs))


def percentile_walk_statement(period: Period, counts: dict[str, int]) -> CompoundSelect | None:
    """The ranked values ``percentile_cont`` needs, read in order from each delay's index.

    ``ix_request_<delay>`` is ordered by the delay: ``ORDER BY … LIMIT … OFFSET rank``
    walks it from the nearer end (the 90th percentile from the top) and stops at the rank,
    checking each entry's ``submitted_at`` against the period, with no sort. Worth it
    when the period holds a good share of the table (the walk also passes the entries
    outside it, see ``walk_pays``); otherwise a sort. Each walk of the two ranks around a
    fraction's position gives its lowest and highest value: those of the two ranks.
    """
    walks = []
    for kind, (name, delay) in enumerate(_delay_columns().items(), start=1):
        count = counts.get(name, 0)
        for first, last in rank_pairs(count) if count else []:
            from_top = count - 1 - last < first
            walk = (
                select(delay.label("value"))
                .where(delay.is_not(None), in_period(period.start, period.end))
                .order_by(delay.desc() if from_top else delay)
                .limit(last - first + 1)
                .offset(count - 1 - last if from_top else first)
                .subquery()
            )
            walks.append(
                select(
                    literal(kind).label("kind"),
                    literal(first).label("first"),
                    func.min(walk.c.value),
                    func.max(walk.c.value),
                )
            )
    return union_all(*walks) if walks else None


def percentile_sort_statement_postgres(period: Period) -> Select[Any]:
    """``percentile_cont`` of the three delays over the period's requests (a sort each)."""
    fractions = literal_column("ARRAY[" + ", ".join(str(f) for f in FRACTIONS) + "]")
    return select(
        *(
            func.percentile_cont(fractions).within_group(delay).label(name)
            for name, delay in _delay_columns().items()
        )
    ).where(in_period(period.start, period.end))


def percentile_sort_statement_sqlite(period: Period, counts: dict[str, int]) -> Select[Any] | None:
    """The ranked values ``percentile_cont`` needs, from a window over the period's rows.

    SQLite has no ``percentile_cont``: each request is paired with the three distributions
    (a cross join on a constant table, so the table is read once); ``row_number()`` ranks
    each distribution's values and only the wanted ranks leave the database.
    """
    wanted = {name: ranks(n) for name, n in counts.items() if n > 0}
    if not wanted:
        return None
    kinds = (
        select(literal_column("1").label("kind"))
        .union_all(select(literal_column("2")), select(literal_column("3")))
        .subquery("kinds")
    )
    kind = kinds.c.kind
    value = case(
        *((kind == index, delay) for index, delay in enumerate(_delay_columns().values(), 1))
    ).label("value")
    dist = (
        select(kind.label("kind"), value)
        # A LEFT JOIN keeps ``request`` the outer loop (SQLite never reorders it), three
        # rows out of each request. "status IN (every status)" is always true: it lets
        # the (status, submitted_at) index serve the period as one range per status.
        .select_from(Request)
        .outerjoin(kinds, true())
        .where(
            Request.status.in_([status.value for status in Status]),
            in_period(period.start, period.end),
        )
        .subquery("dist")
    )
    ranked = (
        select(
            dist.c.kind,
            dist.c.value,
            (func.row_number().over(partition_by=dist.c.kind, order_by=dist.c.value) - 1).label(
                "rank"
            ),
        )
        .where(dist.c.value.is_not(None))
        .subquery("ranked")
    )
    conditions = [
        and_(ranked.c.kind == DISTRIBUTIONS.index(name) + 1, ranked.c.rank.in_(positions))
        for name, positions in wanted.items()
    ]
    return select(ranked.c.kind, ranked.c.rank, ranked.c.value).where(or_(*conditions))


WALK_SHARE = 5
"""Walk the delays' indexes when the period holds at least 1/5 of the table's requests."""


def walk_pays(period_requests: int, table_requests: int) -> bool:
    """Whether walking the delays' indexes beats sorting the period's values.

    A walk passes the index entries up to the ranks, the period's or not: at most a few
    tenths of a second per million requests in the table, whatever the period. A sort
    reads and orders the period's values: cheap for a month of a long history, dear for
    a large share of a big table (on SQLite, which reads them from the wide rows).
    """
    return WALK_SHARE * period_requests >= table_requests


def percentile_statement(
    period: Period, dialect: str, counts: dict[str, int], *, walk: bool
) -> Select[Any] | CompoundSelect:
    """The statement that gives the percentiles' values (at least one count is positive):
    the walk, else the sort of the dialect."""
    if walk:
        statement: Select[Any] | CompoundSelect | None = percentile_walk_statement(period, counts)
    elif dialect == "postgresql":
        statement = percentile_sort_statement_postgres(period)
    else:
        statement = percentile_sort_statement_sqlite(period, counts)
    assert statement is not None, "no distribution has values"
    return statement


def patients_statement(period: Period, dialect: str) -> Select[Any]:
    """Distinct patients through the keyed identity hash (never the identity itself).

    PostgreSQL hashes the keys; SQLite, which would sort them, reads them in order from the
    index on ``(patient_key, submitted_at)``.
    """
    submitted = in_period(period.start, period.end)
    if dialect == "postgresql":
        keys = (
            select(Request.patient_key)
            .where(submitted, Request.patient_key.is_not(None))
            .group_by(Request.patient_key)
            .subquery("patients")
        )
        return select(func.count()).select_from(keys)
    return select(func.count(Request.patient_key.distinct())).where(submitted)


def without_patient_key_statement(period: Period) -> Select[Any]:
    """Requests without a patient key: the NULL end of the same index, one short range."""
    return select(func.count()).where(
        Request.patient_key.is_(None), in_period(period.start, period.end)
    )


def requesters_statement(period: Period) -> Select[Any]:
    """Distinct requesters and, among them, médecins traitants."""
    ids = (
        select(Request.requester_id)
        .where(in_period(period.start, period.end))
        .group_by(Request.requester_id)
        .subquery("requesters")
    )
    return (
        select(func.count(), func.count().filter(User.treating_physician.is_(True)))
        .select_from(ids)
        .join(User, User.id == ids.c.requester_id)
    )


def table_estimate_statement() -> Select[Any]:
    """PostgreSQL's estimate of the request table's rows (NULL before its first ANALYZE)."""
    reltuples = column("reltuples")
    return (
        select(case((reltuples >= 0, reltuples), else_=None))
        .where(column("oid") == func.to_regclass(Request.__tablename__))
        .select_from(table("pg_class"))
    )


def table_requests_statement(period: Period, dialect: str) -> Select[Any]:
    """The table's requests, to choose the percentiles' way: on PostgreSQL those *outside*
    the period (the two ends of ``ix_request_indicator_period``, short when the period
    holds most of the table), to add to the period's; on SQLite all of them, from the
    table's smallest index."""
    if dialect == "postgresql":
        before = select(func.count()).where(Request.submitted_at < period.start)
        after = select(func.count()).where(Request.submitted_at >= period.end)
        return select(before.scalar_subquery() + after.scalar_subquery())
    return select(func.count()).select_from(Request)
