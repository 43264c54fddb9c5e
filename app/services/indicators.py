"""The ESS's indicators for any period, computed by the database.

What the ARS and the CPAM ask for (the national indicators of the activity report),
the delays of the regional specification (to answer a téléexpertise, to get an
appointment), the close-out feedback, breakdowns, and the membership that the annual
grant is prorated on. ``app.services.report`` turns them into the activity report.

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
import math
import operator
import re
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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
    text,
    true,
    union_all,
)
from sqlalchemy import (
    values as sql_values,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import CompoundSelect
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime

from models import Outcome, Priority, Request, Role, Status, Subspecialty, User
from models.errors import InvalidInputError

# --- the rules the report states ------------------------------------------------------------

MAX_PERIOD_YEARS = 10
"""Longest period accepted (a longer one is almost certainly a typo)."""
FRACTIONS = (0.5, 0.9)
"""The percentiles reported: median and 90th percentile."""
CONSULTATION_OUTCOMES = (Outcome.CONSULTATION, Outcome.ADVANCED_CONSULTATION)
"""Answers that lead to a consultation, for the delay to get an appointment."""

# The annual grant (cahier des charges national des ESS): 50 000 € for 10 member
# doctors to 100 000 € for 100 or more, prorated on the exact number over the year.
# Between the two the texts give no formula: a linear interpolation is an assumption.
GRANT_MIN_EUR = 50_000
GRANT_MAX_EUR = 100_000
GRANT_MIN_MEMBERS = 10
GRANT_MAX_MEMBERS = 100
COVERAGE_THRESHOLDS = (0.10, 0.30, 0.50)
"""Share of the territory's self-employed specialists: 10 % to create an ESS, 30 % then
50 % targeted within five years."""

# Session settings of the PostgreSQL snapshot (see _begin_snapshot): no JIT, custom plans,
# and enough memory for the percentile sorts to stay in memory.
POSTGRES_WORK_MEM = "64MB"
CUBE_MONTHS = 12
"""Months per cube statement: the cells of one year are in memory at a time."""

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --- the period ---------------------------------------------------------------------------


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


# --- what the API returns -----------------------------------------------------------------


class DelayStats(SQLModel):
    """A delay's distribution over the requests it applies to."""

    median: float | None
    p90: float | None
    mean: float | None
    count: int


class GroupIndicators(SQLModel):
    """The additive indicators of one breakdown row (means, not percentiles)."""

    teleexpertise_count: int
    answered_count: int
    cancelled_count: int
    response_delay_mean_hours: float | None
    within_sla_rate: float | None
    acknowledge_delay_mean_hours: float | None
    appointment_delay_mean_days: float | None
    advanced_consultations_count: int
    usefulness_mean: float | None
    referral_avoided_rate: float | None


class MonthIndicators(GroupIndicators):
    month: str


class SubspecialtyIndicators(GroupIndicators):
    specialty: str
    subspecialty: str | None
    name: str


class SpecialistIndicators(GroupIndicators):
    specialist_id: uuid.UUID | None
    name: str
    member: bool


class PriorityIndicators(GroupIndicators):
    priority: Priority


class CoverageThreshold(SQLModel):
    threshold: float
    reached: bool
    members_needed: int


class Membership(SQLModel):
    members_count: int
    members_prorated: float
    estimated_annual_grant_eur: int | None
    territory_specialists: int | None
    coverage_rate: float | None
    coverage_thresholds: list[CoverageThreshold]


class Indicators(SQLModel):
    period: dict[str, date]
    timezone: str
    generated_at: datetime
    teleexpertise_count: int
    answered_count: int
    cancelled_count: int
    open_count: int
    patients_count: int
    requests_without_patient_key: int
    requesters_count: int
    treating_physicians_count: int
    response_delay_hours: DelayStats
    within_sla_rate: float | None
    acknowledge_delay_hours: DelayStats
    appointment_delay_days: DelayStats
    usefulness_mean: float | None
    referral_avoided_rate: float | None
    feedback_count: int
    advanced_consultation_specialists_count: int
    advanced_consultations_count: int
    by_month: list[MonthIndicators]
    by_subspecialty: list[SubspecialtyIndicators]
    by_specialist: list[SpecialistIndicators]
    by_priority: list[PriorityIndicators]
    membership: Membership


# --- the statements -------------------------------------------------------------------------
#
# Every statement reads the delays models.history.record stores on the request (hours and
# days as plain numbers, NULL when a request does not count), so no per-row date arithmetic
# and, through the indexes of migration 0002, never the wide rows of the table.


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


def explain_statements(
    period: Period, dialect: str, counts: dict[str, int] | None = None
) -> dict[str, Select[Any] | CompoundSelect]:
    """The statements, by name, for a benchmark's timing or EXPLAIN (the percentiles need
    the distributions' counts: placeholders when not given; the walk is shown)."""
    counts = counts or {name: 1000 for name in DISTRIBUTIONS}
    chunk = month_chunks(period)[0]
    found: dict[str, Select[Any] | CompoundSelect] = {
        "cube": (
            cube_statement_postgres(chunk)
            if dialect == "postgresql"
            else cube_statement_sqlite(chunk)
        ),
        "patients": patients_statement(period, dialect),
        "requesters": requesters_statement(period),
    }
    walk = percentile_walk_statement(period, counts)
    if walk is not None:
        found["percentiles"] = walk
    return found


# --- roll-ups -------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Member:
    id: uuid.UUID
    name: str
    since: date | None
    until: date | None
    advanced: bool

    def days_in(self, period: Period) -> int:
        """Days of the period this specialist was a member (0 without a start date)."""
        if self.since is None:
            return 0
        first = max(self.since, period.first)
        last = min(self.until or period.last, period.last)
        return max((last - first).days + 1, 0)

    def member_on(self, day: date) -> bool:
        return (
            self.since is not None
            and self.since <= day
            and (self.until is None or day <= self.until)
        )


def estimated_grant(members: float) -> int | None:
    """The annual grant for ``members`` (prorated) members; None below the floor of 10."""
    if members < GRANT_MIN_MEMBERS:
        return None
    if members >= GRANT_MAX_MEMBERS:
        return GRANT_MAX_EUR
    share = (members - GRANT_MIN_MEMBERS) / (GRANT_MAX_MEMBERS - GRANT_MIN_MEMBERS)
    return round(GRANT_MIN_EUR + share * (GRANT_MAX_EUR - GRANT_MIN_EUR))


def membership(members: Sequence[Member], period: Period, territory: int | None) -> Membership:
    count = sum(1 for member in members if member.member_on(period.last))
    prorated = sum(member.days_in(period) for member in members) / period.days
    rate = round(count / territory, 4) if territory else None
    return Membership(
        members_count=count,
        members_prorated=round(prorated, 2),
        estimated_annual_grant_eur=estimated_grant(round(prorated, 2)),
        territory_specialists=territory,
        coverage_rate=rate,
        coverage_thresholds=[
            CoverageThreshold(
                threshold=threshold,
                reached=territory is not None and count >= math.ceil(threshold * territory),
                members_needed=math.ceil(round(threshold * territory, 6)) if territory else 0,
            )
            for threshold in COVERAGE_THRESHOLDS
        ]
        if territory
        else [],
    )


def _delay(results: tuple[float, ...] | None, count: int, total: float) -> DelayStats:
    if not count or results is None:
        return DelayStats(median=None, p90=None, mean=None, count=0)
    median, p90 = results
    return DelayStats(
        median=round(median, 3), p90=round(p90, 3), mean=round(total / count, 3), count=count
    )


# --- the computation ----------------------------------------------------------------------


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


async def table_requests(session: AsyncSession, period: Period, period_requests: int) -> int:
    """The table's requests (``period_requests`` of them in the period)."""
    dialect = session.bind.dialect.name
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
    table = await table_requests(session, period, overall.count("total"))
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
