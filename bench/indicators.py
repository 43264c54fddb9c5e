"""The coordinator's indicators for a year, on SQLite and PostgreSQL, up to 1 000 000 requests.

For each ``--years`` value Y: a fresh, migrated database per backend loaded in bulk with a
fixed seed (the same rows on every backend): one specialty with four sub-specialties, 100
specialists (some joining or leaving during the year), 3 000 requesters and ``--total``
requests submitted over the Y years ending with 2025, plus 5 % more before and after them,
each with random delays and the deadlines of the service's own functions. Then
``compute_indicators`` (what ``GET /api/v1/indicators`` runs) is timed for the year 2025, a
quarter and a month, with the peak of the Python heap during one call; the year's figures
are checked against a reference computed from the generated rows, and its statements are
timed one by one.

    python -m bench.indicators [--total 1000000] [--years 1,10] [--repeat 3] [--explain]
                               [--workdir DIR --reuse] [--backends sqlite,postgres]
                               [--write-doc]

With ``--reuse`` the databases (and the SQLite files in ``--workdir``) are kept, and loaded
again only when they do not hold the dataset asked for at the schema's current migration.
"""

import argparse
import hashlib
import json
import math
import random
import statistics
import sys
import time
import tracemalloc
import uuid
from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
from alembic.script import ScriptDirectory
from sqlalchemy import Select, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.expression import CompoundSelect

from app.services.indicators import Indicators, Period, compute_indicators, parse_period
from app.services.indicators.compute import table_requests
from app.services.indicators.statements import (
    DISTRIBUTIONS,
    cube_statement_postgres,
    cube_statement_sqlite,
    month_chunks,
    patients_statement,
    percentile_statement,
    percentile_walk_statement,
    requesters_statement,
    walk_pays,
)
from bench.dataset import (
    ANSWER,
    COLUMNS,
    PATIENTS,
    QUESTION,
    USER_TABLE,
    bulk_load,
    clinical,
    model_row,
    pick,
    specialty_rows,
    user_row,
)
from bench.harness import (
    PARIS,
    BenchError,
    Report,
    Table,
    after_load,
    bench_context,
    explain,
    int_list,
    main,
    migrated_database,
    positive,
    postgres_url,
    sample_ms,
    seeded_uuid,
    spaced,
)
from migrations import alembic_config
from models import Outcome, Priority, Request, Role, Status
from models.history import measure as measure_delays
from models.sla_state import refresh
from models.storage import Database
from sla.deadlines import (
    SlaPolicy,
    pause_answer_clock,
    resume_answer_clock,
    start_acknowledge_clock,
    start_answer_clock,
)

TITLE = "## Indicators (issue 7)"
SEED = 20260307
WARMUP = 1

YEAR = 2025
YEAR_START = datetime(YEAR, 1, 1, tzinfo=PARIS)
YEAR_END = datetime(YEAR + 1, 1, 1, tzinfo=PARIS)
PERIODS = (
    ("year 2025", "2025-01-01", "2025-12-31"),
    ("Q2 2025", "2025-04-01", "2025-06-30"),
    ("March 2025", "2025-03-01", "2025-03-31"),
)
# Requests before and after the spread years, as a fraction of --total.
OUTSIDE = 0.05
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=PARIS).astimezone(UTC)

SPECIALTY = "cardiologie"
SUBSPECIALTIES = ("rythmologie", "hta", "insuffisance-cardiaque", "coronaropathie")
SPECIALISTS = 100
REQUESTERS = 3_000
PATIENT_POOL = 700_000  # drawn with repeats: fewer distinct patients than requests

# The mix of past requests.
STATUS_MIX = (
    (Status.CLOSED, 0.80),
    (Status.ANSWERED, 0.07),
    (Status.CANCELLED, 0.05),
    (Status.AWAITING_INFO, 0.02),
    (Status.ACCEPTED, 0.02),
    (Status.ASSIGNED, 0.02),
    (Status.PENDING, 0.02),
)
URGENT = 0.2
ASKED_INFO = 0.15  # answered requests that paused awaiting information first
OUTCOME_MIX = (
    (Outcome.ADVICE, 0.50),
    (Outcome.CONSULTATION, 0.25),
    (Outcome.ADVANCED_CONSULTATION, 0.10),
    (Outcome.HOSPITAL_REFERRAL, 0.15),
)
WITH_APPOINTMENT = 0.9  # of the answers leading to a consultation
# Medians of the log-normal delays (sigma 1): acceptance after assignment, answer after
# acceptance, the requester's reply to a question, appointment after the answer, close.
ACCEPT_MEDIAN_H = 1.5
ANSWER_MEDIAN_H = 12.0
REPLY_MEDIAN_H = 20.0
APPOINTMENT_MEDIAN_D = 14.0
CLOSE_MEDIAN_H = 48.0
CANCEL_MEDIAN_H = 3.0


HEADER = (
    "backend", "requests in table", "period", "requests in period", "median s", "min–max s",
    "Python peak MB", "cube / percentiles / patients / requesters s", "percentiles", "check",
)  # fmt: skip
STATEMENTS = ("cube", "percentiles", "patients", "requesters")


def lognormal(rng: random.Random, median: float) -> float:
    return median * math.exp(rng.gauss(0.0, 1.0))


def patient_key(index: int) -> str:
    """Stands in for the service's HMAC of the patient identity (64 hex characters)."""
    return hashlib.sha256(f"bench-patient-{index}".encode()).hexdigest()


def percentile_cont(ordered: list[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont over sorted values (linear interpolation)."""
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- population ----------------------------------------------------------------------------


@dataclass
class Reference:
    """What the generator knows of the year's requests, to check the service's figures."""

    total: int = 0
    answered: int = 0
    within: int = 0
    cancelled: int = 0
    delays_h: array = field(default_factory=lambda: array("d"))
    patients: set[int] = field(default_factory=set)
    requesters: set[int] = field(default_factory=set)
    rows: int = 0  # every request loaded, in the year or not

    def expected(self) -> dict[str, Any]:
        ordered = sorted(self.delays_h)
        return {
            "teleexpertise_count": self.total,
            "answered_count": self.answered,
            "cancelled_count": self.cancelled,
            "patients_count": len(self.patients),
            "requesters_count": len(self.requesters),
            "median": percentile_cont(ordered, 0.5) if ordered else None,
            "p90": percentile_cont(ordered, 0.9) if ordered else None,
            "mean": statistics.fmean(ordered) if ordered else None,
            "within_sla_rate": self.within / self.answered if self.answered else None,
        }


@dataclass
class World:
    specialists: list[uuid.UUID]
    requesters: list[uuid.UUID]
    users: list[dict[str, Any]]


def build_world(rng: random.Random) -> World:
    created = datetime(2020, 1, 1, tzinfo=UTC)
    users: list[dict[str, Any]] = []
    specialists: list[uuid.UUID] = []
    for index in range(SPECIALISTS):
        specialist_id = seeded_uuid(rng)
        specialists.append(specialist_id)
        # Most were members before the year; some joined during it, a few left.
        since = date(2023, 1, 1) + timedelta(days=rng.randrange(700))
        if index % 10 == 0:
            since = date(YEAR, 1, 1) + timedelta(days=rng.randrange(300))
        until = date(YEAR, 6, 30) if index % 25 == 1 else None
        users.append(
            user_row(
                user_id=specialist_id,
                role=Role.SPECIALIST,
                email=f"specialiste{index}@ess-bench.fr",
                name=f"Dr Spécialiste {index:03d}",
                created_at=created,
                specialty_code=SPECIALTY,
                capacity=1000,
                member_since=since,
                member_until=until,
                advanced_consultations=index % 3 == 0,
            )
        )
    requesters: list[uuid.UUID] = []
    for index in range(REQUESTERS):
        requester_id = seeded_uuid(rng)
        requesters.append(requester_id)
        user = user_row(
            user_id=requester_id,
            role=Role.REQUESTER,
            email=f"demandeur{index}@ess-bench.fr",
            name=f"Dr Demandeur {index:04d}",
            created_at=created,
        )
        user["treating_physician"] = rng.random() < 0.6
        users.append(user)
    return World(specialists, requesters, users)


class RowMaker:
    """Request rows with random delays, deadlines from the service's own functions."""

    def __init__(self, sla: SlaPolicy, world: World, rng: random.Random) -> None:
        self.sla = sla
        self.world = world
        self.rng = rng
        self.template = model_row(
            Request,
            id=uuid.UUID(int=0),
            reference="",
            status=Status.PENDING,
            priority=Priority.STANDARD,
            specialty_code=SPECIALTY,
            requester_id=uuid.UUID(int=0),
            question=b"",
            patient=b"",
            consent=True,
            submitted_at=NOW,
            version=1,
        )
        self.numbers: Counter[int] = Counter()

    def make(
        self,
        submitted: datetime,
        reference: Reference | None,
        mix: tuple[tuple[Status, float], ...] = STATUS_MIX,
    ) -> dict[str, Any]:
        """One request submitted at ``submitted``, its status drawn from ``mix``."""
        rng, sla = self.rng, self.sla
        status: Status = pick(rng, mix)
        year = submitted.astimezone(PARIS).year
        self.numbers[year] += 1
        requester = rng.randrange(REQUESTERS)
        patient = rng.randrange(PATIENT_POOL)
        r = SimpleNamespace(**self.template)
        r.id = seeded_uuid(rng)
        r.question = clinical(r.id, "question", QUESTION)
        r.patient = clinical(r.id, "patient", PATIENTS[patient][0])
        r.reference = f"TE-{year}-{self.numbers[year]:07d}"
        r.priority = Priority.URGENT if rng.random() < URGENT else Priority.STANDARD
        r.subspecialty_code = rng.choice((*SUBSPECIALTIES, None))
        r.requester_id = self.world.requesters[requester]
        r.patient_key = patient_key(patient)
        r.submitted_at = submitted
        start_answer_clock(r, submitted, sla)  # type: ignore[arg-type]
        at = submitted
        cancelled_while_pending = status == Status.CANCELLED and rng.random() < 0.3
        if status != Status.PENDING and not cancelled_while_pending:
            at += timedelta(seconds=1)
            r.assignee_id = rng.choice(self.world.specialists)
            r.assigned_at, r.status = at, Status.ASSIGNED
            start_acknowledge_clock(r, at, sla)  # type: ignore[arg-type]
            r.version += 1
        if status == Status.CANCELLED:
            at += timedelta(hours=lognormal(rng, CANCEL_MEDIAN_H))
            r.cancelled_at, r.status = at, Status.CANCELLED
            r.version += 1
        if status in (Status.ACCEPTED, Status.AWAITING_INFO, Status.ANSWERED, Status.CLOSED):
            at += timedelta(hours=lognormal(rng, ACCEPT_MEDIAN_H))
            r.accepted_at, r.status = at, Status.ACCEPTED
            r.version += 1
        asks = status == Status.AWAITING_INFO or (
            status in (Status.ANSWERED, Status.CLOSED) and rng.random() < ASKED_INFO
        )
        if asks:
            at += timedelta(minutes=rng.uniform(5, 120))
            r.status = Status.AWAITING_INFO
            pause_answer_clock(r, at, sla)  # type: ignore[arg-type]
            r.version += 1
            if status != Status.AWAITING_INFO:
                at += timedelta(hours=lognormal(rng, REPLY_MEDIAN_H))
                r.status = Status.ACCEPTED
                resume_answer_clock(r, at, sla)  # type: ignore[arg-type]
                r.version += 1
        if status in (Status.ANSWERED, Status.CLOSED):
            at += timedelta(hours=lognormal(rng, ANSWER_MEDIAN_H))
            outcome: Outcome = pick(rng, OUTCOME_MIX)
            r.answer = clinical(r.id, "answer", ANSWER)
            r.outcome, r.answered_at = outcome, at
            r.status = Status.ANSWERED
            if (
                outcome in (Outcome.CONSULTATION, Outcome.ADVANCED_CONSULTATION)
                and rng.random() < WITH_APPOINTMENT
            ):
                r.appointment_at = at + timedelta(days=lognormal(rng, APPOINTMENT_MEDIAN_D))
            r.version += 1
        if status == Status.CLOSED:
            at += timedelta(hours=lognormal(rng, CLOSE_MEDIAN_H))
            r.closed_at, r.status = at, Status.CLOSED
            r.usefulness = rng.choices((1, 2, 3, 4, 5), (1, 2, 5, 10, 12))[0]
            r.referral_avoided = rng.random() < 0.6
            r.version += 1
        refresh(r)  # type: ignore[arg-type]
        measure_delays(r)  # type: ignore[arg-type]  # what record() keeps up to date
        if reference is not None:
            reference.total += 1
            reference.patients.add(patient)
            reference.requesters.add(requester)
            if status == Status.CANCELLED:
                reference.cancelled += 1
            elif r.answered_at is not None:
                reference.answered += 1
                reference.delays_h.append((r.answered_at - submitted).total_seconds() / 3600)
                reference.within += r.answered_at <= r.answer_due_at
        return {name: getattr(r, name) for name in COLUMNS}

    def instants(self, total: int, years: int) -> list[tuple[datetime, bool]]:
        """Submission instants: ``total`` over the ``years`` years ending with ``YEAR`` and
        ``OUTSIDE`` more before and after them, in order; True for those in ``YEAR``."""
        rng = self.rng
        first = datetime(YEAR - years + 1, 1, 1, tzinfo=PARIS)
        span = (YEAR_END - first).total_seconds()
        inside = [first + timedelta(seconds=rng.uniform(0, span)) for _ in range(total)]
        extra = int(total * OUTSIDE)
        outside = [
            (first - timedelta(days=rng.uniform(0.0001, 60)))
            if index % 2
            else (YEAR_END + timedelta(days=rng.uniform(0, 55)))
            for index in range(extra)
        ]
        if total >= 2:
            # 23:30 on 31 December, Paris time (in the year), and 00:30 on 1 January (not).
            inside[0] = datetime(YEAR, 12, 31, 23, 30, tzinfo=PARIS)
            outside.append(datetime(YEAR + 1, 1, 1, 0, 30, tzinfo=PARIS))
        # The service inserts requests as they are submitted: the table is in that order.
        return [
            (instant.astimezone(UTC), YEAR_START <= instant < YEAR_END)
            for instant in sorted(inside + outside)
        ]


async def populate(url: str, total: int, years: int, sla: SlaPolicy) -> Reference:
    """Load the seeded dataset (the same rows on every backend) into the database at ``url``."""
    rng = random.Random(SEED + total + years)
    world = build_world(rng)
    maker = RowMaker(sla, world, rng)
    reference = Reference()
    requests = (
        maker.make(instant, reference if in_year else None)
        for instant, in_year in maker.instants(total, years)
    )
    tables = [*specialty_rows(SPECIALTY, "Cardiologie", SUBSPECIALTIES), (USER_TABLE, world.users)]
    reference.rows = await bulk_load(url, [*tables, (Request.__table__, requests)])
    reference.rows -= len(world.users) + len(SUBSPECIALTIES) + 1
    return reference


# --- measurement ---------------------------------------------------------------------------


@dataclass
class Measure:
    backend: str
    years: int
    period: str
    rows_in_table: int
    rows_in_period: int
    samples_s: list[float]
    peak_mb: float
    statements_s: dict[str, float] = field(default_factory=dict)
    percentiles: str = "–"  # how the percentiles were found: walk or sort
    check: str = "–"  # the year's figures against the reference: exact, or the mismatches

    def row(self) -> tuple[str, ...]:
        statements = " / ".join(f"{self.statements_s[k]:.2f}" for k in STATEMENTS
                                if k in self.statements_s)  # fmt: skip
        return (
            self.backend, f"{spaced(self.rows_in_table)} over {self.years} y", self.period,
            spaced(self.rows_in_period), f"{statistics.median(self.samples_s):.2f}",
            f"{min(self.samples_s):.2f}–{max(self.samples_s):.2f}", f"{self.peak_mb:.1f}",
            statements or "–", self.percentiles, self.check,
        )  # fmt: skip


async def run_once(db: Database, period: Period) -> Indicators:
    async with db.reading() as session:
        return await compute_indicators(session, period, now=NOW, territory_specialists=400)


async def time_period(
    db: Database, period: Period, repeat: int
) -> tuple[list[float], float, Indicators]:
    """``repeat`` timed calls after the warm-up, then the Python heap's peak during one more."""
    samples = [ms / 1000 for ms in await sample_ms(lambda: run_once(db, period), repeat, WARMUP)]
    tracemalloc.start()
    try:
        result = await run_once(db, period)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return samples, peak / 1e6, result


def compare(found: Indicators, expected: dict[str, Any]) -> list[str]:
    """Mismatches between the service's figures and the reference (none expected)."""
    delays = found.response_delay_hours
    got = {
        "teleexpertise_count": found.teleexpertise_count,
        "answered_count": found.answered_count,
        "cancelled_count": found.cancelled_count,
        "patients_count": found.patients_count,
        "requesters_count": found.requesters_count,
        "median": delays.median,
        "p90": delays.p90,
        "mean": delays.mean,
        "within_sla_rate": found.within_sla_rate,
    }
    mismatches = []
    for name, want in expected.items():
        have = got[name]
        if isinstance(want, float):
            digits = 4 if name == "within_sla_rate" else 3
            ok = have is not None and abs(have - round(want, digits)) <= 10**-digits
        else:
            ok = have == want
        if not ok:
            mismatches.append(f"{name}: {have} (expected {want})")
    return mismatches


# --- the statements alone: their times and plans -------------------------------------------


def explain_statements(
    period: Period, dialect: str, counts: dict[str, int] | None = None
) -> dict[str, Select[Any] | CompoundSelect]:
    """The statements, by name, for a timing or EXPLAIN (the percentiles need the
    distributions' counts: placeholders when not given; the walk is shown)."""
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


async def statement_times(
    db: Database, period: Period, found: Indicators, explain_them: bool
) -> tuple[dict[str, float], str]:
    """Each statement of the computation alone, in one snapshot (median of three), and the
    percentiles' way (walk or sort, as compute_indicators chooses it); with ``explain_them``,
    their plans printed."""
    timings: dict[str, list[float]] = {}
    counts = {
        "response": found.response_delay_hours.count,
        "acknowledge": found.acknowledge_delay_hours.count,
        "appointment": found.appointment_delay_days.count,
    }
    async with db.reading() as session:
        dialect = session.bind.dialect.name
        statements = explain_statements(period, dialect, counts)
        table = await table_requests(session, period, found.teleexpertise_count)
        walk = walk_pays(found.teleexpertise_count, table)
        if any(counts.values()):
            statements["percentiles"] = percentile_statement(period, dialect, counts, walk=walk)
        if dialect == "postgresql":
            # The settings compute_indicators gives its snapshot.
            for setting in (
                "jit = off",
                "plan_cache_mode = force_custom_plan",
                "work_mem = '64MB'",
            ):
                await session.execute(text(f"SET LOCAL {setting}"))
        for _ in range(3):
            for name, statement in statements.items():
                started = time.perf_counter()
                (await session.execute(statement)).all()
                timings.setdefault(name, []).append(time.perf_counter() - started)
        for name, statement in statements.items() if explain_them else ():
            print(f"--- {dialect}, {name} ---", *await explain(session, statement), sep="\n    ")
    medians = {name: statistics.median(values) for name, values in timings.items()}
    return medians, "walk" if walk else "sort"


async def measure_backend(
    backend: str, url: str, years: int, reference: dict[str, Any], args: argparse.Namespace
) -> list[Measure]:
    db = Database(url)
    results: list[Measure] = []
    try:
        async with db.reading() as session:
            rows = (await session.execute(select(func.count()).select_from(Request))).scalar_one()
        for label, first, last in PERIODS:
            period = parse_period(first, last, PARIS)
            samples, peak, found = await time_period(db, period, args.repeat)
            measure = Measure(backend, years, label, rows, found.teleexpertise_count, samples, peak)
            if label.startswith("year"):
                mismatches = compare(found, reference)
                measure.check = "; ".join(mismatches) or "exact"
                measure.statements_s, measure.percentiles = await statement_times(
                    db, period, found, args.explain
                )
            results.append(measure)
            print(" ".join(measure.row()), flush=True)
    finally:
        await db.dispose()
    return results


# --- databases, loaded or reused -----------------------------------------------------------


def head_revision() -> str:
    """The migration(s) the service's schema is at (what a reused database must be at)."""
    return ", ".join(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


async def reusable(url: str, rows: int) -> bool:
    """Whether the database at ``url`` holds ``rows`` requests at the current migration."""
    db = Database(url)
    try:
        async with db.reading() as session:
            found = await session.execute(text("SELECT version_num FROM alembic_version"))
            revision = ", ".join(sorted(found.scalars()))
            count = (await session.execute(select(func.count()).select_from(Request))).scalar_one()
    except (OSError, SQLAlchemyError, asyncpg.PostgresError):
        return False
    finally:
        await db.dispose()
    return revision == head_revision() and count == rows


async def prepared_databases(
    years: int, args: argparse.Namespace, workdir: Path
) -> tuple[dict[str, str], dict[str, Any]]:
    """The backends' databases holding the dataset, and the reference for its year."""
    name = f"ess_bench_ind_{years}y"
    marker = workdir / f"{name}-{args.total}.json"
    if args.reuse and marker.exists():
        saved = json.loads(marker.read_text())
        urls = {
            "sqlite": f"sqlite+aiosqlite:///{workdir / name}.db", "postgres": postgres_url(name)
        }  # fmt: skip
        if all([await reusable(urls[backend], saved["rows"]) for backend in args.backends]):
            print(f"reusing {name} ({saved['rows']:,} requests)", flush=True)
            return {b: urls[b] for b in args.backends}, saved["expected"]
    urls = {b: await migrated_database(b, name, workdir, keep=args.reuse) for b in args.backends}
    sla = bench_context(urls[args.backends[0]], NOW).policy.sla
    for backend, url in urls.items():
        print(f"loading {args.total:,} requests over {years} year(s) into {backend}", flush=True)
        reference = await populate(url, args.total, years, sla)
        await after_load(url)
    expected = reference.expected()
    marker.write_text(json.dumps({"rows": reference.rows, "expected": expected}))
    return urls, expected


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--total", type=positive(int), default=1_000_000, help="(1000000)")
    parser.add_argument("--years", type=int_list, default="1,10", help="ending 2025 (1,10)")
    parser.add_argument("--repeat", type=positive(int), default=3, help="calls per period (3)")
    parser.add_argument("--explain", action="store_true", help="print the year's query plans")
    parser.add_argument("--workdir", type=Path, help="where SQLite files go (a temp dir)")
    parser.add_argument("--reuse", action="store_true", help="keep the databases, reuse them")


async def run(args: argparse.Namespace, workdir: Path) -> Report:
    if args.reuse and not args.workdir:
        raise BenchError("--reuse needs --workdir")
    workdir = args.workdir or workdir
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[Measure] = []
    for years in args.years:
        urls, expected = await prepared_databases(years, args, workdir)
        for backend, url in urls.items():
            results += await measure_backend(backend, url, years, expected, args)
    notes = [f"Schema: migration {head_revision()}."]
    ok = all(r.check in ("exact", "–") for r in results)
    return Report([Table(HEADER, [r.row() for r in results], left=4)], notes, ok)


if __name__ == "__main__":
    sys.exit(main("bench.indicators", __doc__, TITLE, options, run))
