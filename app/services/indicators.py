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
flat: a handful of statements in one read-only snapshot, each one pass of aggregates
over the period's rows; Python only ever receives aggregated rows.

- the *cube*: counts and sums per (local month, priority, specialty, sub-specialty,
  specialist), one ``GROUP BY`` per month glued by ``UNION ALL``; the totals and the
  four breakdowns are its roll-ups (one year of cells at a time: at most 12 x
  priorities x sub-specialties x specialists rows), so a breakdown gives means and
  rates (percentiles do not add up: the report of a month gives that month's median);
- the *percentiles* (median and 90th percentile of the three delays):
  ``percentile_cont`` on PostgreSQL; on SQLite, which has none, the same linear
  interpolation between the two ranked values that ``percentile_cont`` uses, the
  ranks coming from a ``row_number()`` window computed by the database, which
  returns only those (at most twelve) rows;
- distinct patients (keyed hash, never decrypted) and distinct requesters, each by
  grouping in the database (indexes on ``(patient_key, …)`` and
  ``(requester_id, submitted_at)`` serve them);
- the members (a few hundred rows at most), prorated over the period in Python.
"""

import math
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import CompoundSelect
from sqlmodel import SQLModel

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


def _hours(dialect: str, later: Any, earlier: Any) -> ColumnElement[float]:
    """Calendar hours from ``earlier`` to ``later``, per request (microseconds kept)."""
    if dialect == "postgresql":
        return func.date_part(literal_column("'epoch'"), later - earlier) / literal_column("3600.0")
    return (func.julianday(later) - func.julianday(earlier)) * literal_column("24.0")


def _sum_hours(dialect: str, later: Any, earlier: Any, where: Any) -> ColumnElement[float]:
    """Total calendar hours from ``earlier`` to ``later`` over a group's requests.

    PostgreSQL sums exact intervals and converts the total once; SQLite sums days.
    """
    if dialect == "postgresql":
        total = func.sum(later - earlier).filter(where)
        return func.date_part(literal_column("'epoch'"), total) / literal_column("3600.0")
    return func.sum(func.julianday(later) - func.julianday(earlier)).filter(where) * literal_column(
        "24.0"
    )


@dataclass(frozen=True)
class Measures:
    """The conditions and per-request delays every statement aggregates."""

    dialect: str
    in_period: ColumnElement[bool]
    submitted_in_period: ColumnElement[bool]
    cancelled: ColumnElement[bool]
    answered: ColumnElement[bool]
    with_deadline: ColumnElement[bool]
    within: ColumnElement[bool]
    acknowledged: ColumnElement[bool]
    with_appointment: ColumnElement[bool]
    advanced: ColumnElement[bool]

    def hours(self, later: Any, earlier: Any) -> ColumnElement[float]:
        return _hours(self.dialect, later, earlier)

    def sum_hours(self, later: Any, earlier: Any, where: Any) -> ColumnElement[float]:
        return _sum_hours(self.dialect, later, earlier, where)


def measures(period: Period, dialect: str) -> Measures:
    r = Request
    live = r.status != Status.CANCELLED
    answered = and_(live, r.answered_at.is_not(None))
    with_appointment = and_(
        answered, r.outcome.in_(CONSULTATION_OUTCOMES), r.appointment_at.is_not(None)
    )
    return Measures(
        dialect=dialect,
        # "status IN (every status)" is always true: it lets the (status, submitted_at)
        # index serve the period as one range per status, so a year among many is read
        # without scanning the whole table; the planner still scans when that is cheaper.
        in_period=and_(
            r.status.in_([status.value for status in Status]),
            r.submitted_at >= period.start,
            r.submitted_at < period.end,
        ),
        submitted_in_period=and_(r.submitted_at >= period.start, r.submitted_at < period.end),
        cancelled=r.status == Status.CANCELLED,
        answered=answered,
        with_deadline=and_(answered, r.answer_due_at.is_not(None)),
        within=and_(answered, r.answered_at <= r.answer_due_at),
        acknowledged=and_(live, r.accepted_at.is_not(None)),
        with_appointment=with_appointment,
        advanced=and_(with_appointment, r.outcome == Outcome.ADVANCED_CONSULTATION),
    )


CUBE_SUMS = (
    "total",
    "cancelled",
    "keyed",
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


def _cube_sums(m: Measures) -> tuple[ColumnElement[Any], ...]:
    r = Request
    count = func.count
    return (
        count(),
        count().filter(m.cancelled),
        count(r.patient_key),
        count().filter(m.answered),
        m.sum_hours(r.answered_at, r.submitted_at, m.answered),
        count().filter(m.with_deadline),
        count().filter(m.within),
        count().filter(m.acknowledged),
        m.sum_hours(r.accepted_at, r.submitted_at, m.acknowledged),
        count().filter(m.with_appointment),
        m.sum_hours(r.appointment_at, r.answered_at, m.with_appointment) / literal_column("24.0"),
        count().filter(m.advanced),
        count(r.usefulness),
        func.sum(r.usefulness),
        count(r.referral_avoided),
        count().filter(r.referral_avoided.is_(True)),
    )


def cube_statements(m: Measures, period: Period) -> list[CompoundSelect | Select[Any]]:
    """Counts and sums per (local month, priority, specialty, sub-specialty, specialist).

    One ``GROUP BY`` per local month, on that month's range of ``submitted_at`` (the
    ``(status, submitted_at)`` index serves it), glued by ``UNION ALL``: each sort or hash
    stays small, PostgreSQL runs the months in parallel, and a month is exactly its UTC
    range (daylight saving and New Year's Eve included). Twelve months per statement, so
    a ten-year period holds one year of cells in memory at a time.
    """
    r = Request
    keys = (r.priority, r.specialty_code, r.subspecialty_code, r.assignee_id)
    sums = [s.label(n) for s, n in zip(_cube_sums(m), CUBE_SUMS, strict=True)]
    every_status = r.status.in_([status.value for status in Status])
    branches = [
        select(literal(index).label("month"), *keys, *sums)
        .where(every_status, r.submitted_at >= start, r.submitted_at < end)
        .group_by(*(literal_column(str(i)) for i in range(2, len(keys) + 2)))
        for index, (_, start, end) in enumerate(period.months())
    ]
    return [
        union_all(*branches[i : i + CUBE_MONTHS])
        if len(branches[i : i + CUBE_MONTHS]) > 1
        else branches[i]
        for i in range(0, len(branches), CUBE_MONTHS)
    ]


def _delays(m: Measures) -> dict[str, tuple[ColumnElement[bool], ColumnElement[float]]]:
    """Each distribution: which requests it covers, and their delay (hours, days)."""
    r = Request
    return {
        "response": (m.answered, m.hours(r.answered_at, r.submitted_at)),
        "acknowledge": (m.acknowledged, m.hours(r.accepted_at, r.submitted_at)),
        "appointment": (
            m.with_appointment,
            m.hours(r.appointment_at, r.answered_at) / literal_column("24.0"),
        ),
    }


DISTRIBUTIONS = ("response", "acknowledge", "appointment")


def percentile_statement_postgres(m: Measures) -> Select[Any]:
    """``percentile_cont`` of the three delays, each over the requests it covers."""
    fractions = literal_column("ARRAY[" + ", ".join(str(f) for f in FRACTIONS) + "]")
    return select(
        *(
            func.percentile_cont(fractions).within_group(value).filter(covered).label(name)
            for name, (covered, value) in _delays(m).items()
        )
    ).where(m.in_period)


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


def percentile_statement_sqlite(m: Measures, counts: dict[str, int]) -> Select[Any] | None:
    """The ranked values ``percentile_cont`` needs, from a window over one scan.

    Each request is paired with the three distributions (a cross join on a constant
    table, so the table is read once); ``row_number()`` ranks each distribution's values
    and only the wanted ranks (at most four per distribution) leave the database.
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
    delays = _delays(m)
    value = case(
        *(
            (and_(kind == index, covered), delay)
            for index, (covered, delay) in enumerate(delays.values(), start=1)
        )
    ).label("value")
    values = (
        select(kind.label("kind"), value)
        # A LEFT JOIN keeps ``request`` the outer loop (SQLite never reorders it): one
        # scan of the table, three rows out of each request.
        .select_from(Request)
        .outerjoin(kinds, true())
        .where(m.in_period)
        .subquery("dist")
    )
    ranked = (
        select(
            values.c.kind,
            values.c.value,
            (func.row_number().over(partition_by=values.c.kind, order_by=values.c.value) - 1).label(
                "rank"
            ),
        )
        .where(values.c.value.is_not(None))
        .subquery("ranked")
    )
    conditions = [
        and_(ranked.c.kind == DISTRIBUTIONS.index(name) + 1, ranked.c.rank.in_(positions))
        for name, positions in wanted.items()
    ]
    return select(ranked.c.kind, ranked.c.rank, ranked.c.value).where(or_(*conditions))


def patients_statement(m: Measures) -> Select[Any]:
    """Distinct patients through the keyed identity hash (never the identity itself).

    PostgreSQL hashes the keys; SQLite, which would sort them, reads them in order from an
    index on ``(patient_key, submitted_at)`` when there is one (see docs/report.md).
    """
    if m.dialect == "postgresql":
        keys = (
            select(Request.patient_key)
            .where(m.submitted_in_period, Request.patient_key.is_not(None))
            .group_by(Request.patient_key)
            .subquery("patients")
        )
        return select(func.count()).select_from(keys)
    return select(func.count(Request.patient_key.distinct())).where(m.submitted_in_period)


def requesters_statement(m: Measures) -> Select[Any]:
    """Distinct requesters and, among them, médecins traitants."""
    ids = (
        select(Request.requester_id)
        .where(m.submitted_in_period)
        .group_by(Request.requester_id)
        .subquery("requesters")
    )
    return (
        select(func.count(), func.count().filter(User.treating_physician.is_(True)))
        .select_from(ids)
        .join(User, User.id == ids.c.requester_id)
    )


def explain_statements(period: Period, dialect: str) -> dict[str, Select[Any] | CompoundSelect]:
    """The statements, by name, for a benchmark's EXPLAIN (SQLite's percentile one needs
    counts: it gets placeholders)."""
    m = measures(period, dialect)
    found: dict[str, Select[Any] | CompoundSelect] = {
        "cube": cube_statements(m, period)[0],
        "patients": patients_statement(m),
        "requesters": requesters_statement(m),
    }
    if dialect == "postgresql":
        found["percentiles"] = percentile_statement_postgres(m)
    else:
        statement = percentile_statement_sqlite(m, {name: 1000 for name in DISTRIBUTIONS})
        assert statement is not None
        found["percentiles"] = statement
    return found


# --- roll-ups -------------------------------------------------------------------------------


_INDEX = {name: index for index, name in enumerate(CUBE_SUMS)}


class Sums:
    """Counts and sums of a set of requests (hours for delays, days for appointments);
    means and rates are derived from them."""

    def __init__(self) -> None:
        self.values = [0.0] * len(CUBE_SUMS)

    def add(self, values: Sequence[float]) -> None:
        self.values = [a + b for a, b in zip(self.values, values, strict=True)]

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


async def _percentiles(
    session: AsyncSession, m: Measures, dialect: str, counts: dict[str, int]
) -> dict[str, tuple[float, ...]]:
    """Median and 90th percentile of each distribution that has values."""
    if not any(counts.values()):
        return {}
    if dialect == "postgresql":
        row = (await session.execute(percentile_statement_postgres(m))).one()
        return {
            name: tuple(float(v) for v in getattr(row, name))
            for name in DISTRIBUTIONS
            if getattr(row, name) is not None
        }
    statement = percentile_statement_sqlite(m, counts)
    assert statement is not None
    ranked: dict[str, dict[int, float]] = {}
    for kind, rank, value in (await session.execute(statement)).all():
        ranked.setdefault(DISTRIBUTIONS[kind - 1], {})[rank] = float(value)
    return {
        name: tuple(interpolate(values, counts[name], fraction) for fraction in FRACTIONS)
        for name, values in ranked.items()
    }


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
    m = measures(period, dialect)
    months = period.months()

    overall = Sums()
    by_month = [Sums() for _ in months]
    by_priority: dict[str, Sums] = {p.value: Sums() for p in Priority}
    by_sub: dict[tuple[str, str | None], Sums] = {}
    by_specialist: dict[uuid.UUID | None, Sums] = {}
    keys = 5  # month, priority, specialty, sub-specialty, specialist
    for statement in cube_statements(m, period):
        for row in (await session.execute(statement)).all():
            month, priority, specialty, subspecialty, specialist = row[:keys]
            values = [float(value or 0) for value in row[keys:]]
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
    percentiles = await _percentiles(session, m, dialect, counts)
    patients = (await session.execute(patients_statement(m))).scalar_one()
    requesters, treating = (await session.execute(requesters_statement(m))).one()

    members = await _members(session)
    subspecialties = await _subspecialty_names(session)
    names = await _names(session, [key for key in by_specialist if key is not None])

    delays = {
        name: _delay(percentiles.get(name), counts[name], overall[f"{name}_sum"])
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
        requests_without_patient_key=overall.count("total") - overall.count("keyed"),
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
