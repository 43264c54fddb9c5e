"""The coordinator's indicators for a year, on SQLite and PostgreSQL, up to 1 000 000 requests.

For each ``--years`` value Y and each backend: a fresh, migrated database loaded in bulk
with a fixed seed (the same rows on every backend): one specialty with four
sub-specialties, 100 member specialists (some joining or leaving during the year, a third
offering consultations avancées), 3 000 requesters (60 % médecins traitants) and
``--total`` requests submitted over the Y years ending with 2025, plus 5 % more before and
after them. Y = 1 puts all of them in the reported year; Y = 10 is an ESS with ten years
of history, whose year holds a tenth. Each request's life (assignment, acceptance, a
pause awaiting information for some, answer, appointment, close-out, or cancellation)
has random delays; its deadlines are those of the service's own functions
(``sla.deadlines``, business calendar); it is inserted in submission order.

``app.services.indicators.compute_indicators`` (what ``GET /api/v1/indicators`` runs) is
then timed for the year 2025, a quarter and a month (``--repeat`` runs after a warm-up),
with the peak of the Python heap during one call (``tracemalloc``), and the year's figures
are checked against a reference computed from the generated rows. The year is timed
again, statement by statement. The rows carry the delays the indicators read
(``models.history.measure``, as the service stores them at every change of state).
``--write-doc`` records the tables in ``docs/benchmarks.md``.

    python -m bench.indicators [--total 1000000] [--years 1,10] [--backends sqlite,postgres]
                               [--repeat 3] [--explain] [--write-doc]
                               [--workdir DIR --reuse]

PostgreSQL is reached through ``BENCH_POSTGRES_URL`` (see ``bench.submission``); the
scratch databases ``ess_bench_ind_<Y>y`` are created and dropped by the run. With
``--reuse`` they (and the SQLite files in ``--workdir``) are kept and loaded only when they
do not already hold the dataset asked for at the schema's current migration (a database
migrated by an older revision is loaded again, never measured with a stale schema).
"""

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import random
import statistics
import sys
import tempfile
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
from zoneinfo import ZoneInfo

import asyncpg
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.indicators import (
    Indicators,
    Period,
    compute_indicators,
    explain_statements,
    parse_period,
    percentile_statement,
    table_requests,
    walk_pays,
)
from bench.common import (
    analyze,
    bench_context,
    drop_database,
    explain,
    markdown_table,
    migrated_database,
    seeded_uuid,
    text_table,
)
from bench.dataset import (
    ANSWER,
    COLUMNS,
    QUESTION,
    USER_TABLE,
    clinical,
    model_row,
    user_row,
)
from bench.dataset import PATIENTS as IDENTITIES
from bench.submission import (
    BenchError,
    _postgres_version,
    add_common_options,
    bench_parser,
    command_line,
    machine_facts,
    postgres_url,
    write_doc,
)
from migrations import alembic_config
from models import Outcome, Priority, Request, Role, Specialty, Status, Subspecialty
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

SECTION_TITLE = "## Indicators (issue 7)"
TARGET_S = {"postgres": 1.0, "sqlite": 3.0}
SEED = 20260307
CHUNK = 20_000
WARMUP = 1

PARIS = ZoneInfo("Europe/Paris")
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


def lognormal(rng: random.Random, median: float) -> float:
    return median * math.exp(rng.gauss(0.0, 1.0))


def pick(rng: random.Random, mix: tuple[tuple[Any, float], ...]) -> Any:
    draw = rng.random()
    for value, weight in mix:
        draw -= weight
        if draw < 0:
            return value
    return mix[-1][0]


def patient_key(index: int) -> str:
    """Stands in for the service's HMAC of the patient identity (64 hex characters)."""
    return hashlib.sha256(f"bench-patient-{index}".encode()).hexdigest()


def percentile_cont(ordered: list[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont over sorted values (linear interpolation)."""
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- population --------------------------------------------------------------------------


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

    def make(self, submitted: datetime, reference: Reference | None) -> dict[str, Any]:
        rng, sla = self.rng, self.sla
        status: Status = pick(rng, STATUS_MIX)
        year = submitted.astimezone(PARIS).year
        self.numbers[year] += 1
        requester = rng.randrange(REQUESTERS)
        patient = rng.randrange(PATIENT_POOL)
        r = SimpleNamespace(**self.template)
        r.id = seeded_uuid(rng)
        r.question = clinical(r.id, "question", QUESTION)
        r.patient = clinical(r.id, "patient", IDENTITIES[patient][0])
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


async def populate(
    urls: dict[str, str], total: int, years: int, sla: SlaPolicy, database: str
) -> Reference:
    """Load the same seeded dataset into every backend's database, chunk by chunk."""
    rng = random.Random(SEED + total + years)
    world = build_world(rng)
    maker = RowMaker(sla, world, rng)
    reference = Reference()
    sqlite_engine = None
    postgres: asyncpg.Connection | None = None
    try:
        if "sqlite" in urls:
            # The sync driver: the same SQLite type processing as aiosqlite, without a thread.
            sqlite_engine = create_engine(urls["sqlite"].replace("+aiosqlite", ""))
        if "postgres" in urls:
            postgres = await asyncpg.connect(postgres_url(database, driver="postgresql"))
        tables = (
            (Specialty.__table__, [model_row(Specialty, code=SPECIALTY, name="Cardiologie")]),
            (
                Subspecialty.__table__,
                [
                    model_row(Subspecialty, specialty_code=SPECIALTY, code=code, name=code.title())
                    for code in SUBSPECIALTIES
                ],
            ),
            (USER_TABLE, world.users),
        )
        if sqlite_engine is not None:
            with sqlite_engine.begin() as connection:
                for table, rows in tables:
                    connection.execute(insert(table), rows)  # type: ignore[arg-type]
        if postgres is not None:
            for table, rows in tables:
                names = [column.name for column in table.columns]  # type: ignore[attr-defined]
                await postgres.copy_records_to_table(
                    table.name,  # type: ignore[attr-defined]
                    records=[tuple(row[name] for name in names) for row in rows],
                    columns=names,
                )
        instants = maker.instants(total, years)
        started = time.perf_counter()
        for start in range(0, len(instants), CHUNK):
            part = instants[start : start + CHUNK]
            rows = [
                maker.make(instant, reference if in_year else None) for instant, in_year in part
            ]
            reference.rows += len(rows)
            if sqlite_engine is not None:
                with sqlite_engine.begin() as connection:
                    connection.execute(insert(Request.__table__), rows)  # type: ignore[attr-defined]
            if postgres is not None:
                await postgres.copy_records_to_table(
                    "request",
                    records=[tuple(row[name] for name in COLUMNS) for row in rows],
                    columns=list(COLUMNS),
                )
            done = start + len(rows)
            if done % 200_000 < CHUNK or done == len(instants):
                elapsed = time.perf_counter() - started
                print(
                    f"  loaded {done:>9,} / {len(instants):,} requests ({elapsed:.0f} s)",
                    flush=True,
                )
    finally:
        if sqlite_engine is not None:
            sqlite_engine.dispose()
        if postgres is not None:
            await postgres.close()
    return reference


# --- measurement -------------------------------------------------------------------------


@dataclass
class Measure:
    backend: str
    years: int
    schema: str
    period: str
    rows_in_table: int
    rows_in_period: int
    samples_s: list[float]
    peak_mb: float
    statements_s: dict[str, float] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    checked: bool = False
    percentiles: str = ""  # how their percentiles were found: walk or sort
    table_mb: float = 0.0  # the request table on disk (SQLite: the whole file)

    @property
    def median(self) -> float:
        return statistics.median(self.samples_s)


async def run_once(db: Database, period: Period) -> Indicators:
    async with db.reading() as session:
        return await compute_indicators(session, period, now=NOW, territory_specialists=400)


async def time_period(
    db: Database, period: Period, repeat: int
) -> tuple[list[float], float, Indicators]:
    for _ in range(WARMUP):
        result = await run_once(db, period)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = await run_once(db, period)
        samples.append(time.perf_counter() - started)
    tracemalloc.start()
    try:
        result = await run_once(db, period)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return samples, peak / 1e6, result


def compare(found: Indicators, expected: dict[str, Any]) -> list[str]:
    """Mismatches between the service's figures and the reference (none expected)."""
    got = {
        "teleexpertise_count": found.teleexpertise_count,
        "answered_count": found.answered_count,
        "cancelled_count": found.cancelled_count,
        "patients_count": found.patients_count,
        "requesters_count": found.requesters_count,
        "median": found.response_delay_hours.median,
        "p90": found.response_delay_hours.p90,
        "mean": found.response_delay_hours.mean,
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


async def statement_times(
    db: Database, period: Period, found: Indicators
) -> tuple[dict[str, float], str]:
    """Each statement of the computation alone, in one snapshot (median of three), and the
    percentiles' way (walk or sort, as compute_indicators chooses it)."""
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
            settings = ("jit = off", "plan_cache_mode = force_custom_plan", "work_mem = '64MB'")
            for setting in settings:
                await session.execute(text(f"SET LOCAL {setting}"))
        for _ in range(3):
            for name, statement in statements.items():
                started = time.perf_counter()
                (await session.execute(statement)).all()
                timings.setdefault(name, []).append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    return medians, "walk" if walk else "sort"


async def print_plans(db: Database, period: Period) -> None:
    async with db.reading() as session:
        dialect = session.bind.dialect.name
        for name, statement in explain_statements(period, dialect).items():
            print(f"--- {dialect}, {name} ---")
            for line in await explain(session, statement):
                print("   ", line)


async def measure_backend(
    backend: str, url: str, years: int, reference: dict[str, Any], args: argparse.Namespace
) -> list[Measure]:
    db = Database(url)
    results: list[Measure] = []
    try:
        async with db.reading() as session:
            rows = (await session.execute(select(func.count()).select_from(Request))).scalar_one()
            if backend == "postgres":
                size = (
                    await session.execute(text("SELECT pg_total_relation_size('request')"))
                ).scalar_one()
            else:
                pages = (await session.execute(text("PRAGMA page_count"))).scalar_one()
                page = (await session.execute(text("PRAGMA page_size"))).scalar_one()
                size = pages * page
            schema = f"migration {await database_revision(session)}"
        for label, first, last in PERIODS:
            period = parse_period(first, last, PARIS)
            samples, peak, found = await time_period(db, period, args.repeat)
            measure = Measure(
                backend,
                years,
                schema,
                label,
                rows,
                found.teleexpertise_count,
                samples,
                peak,
            )
            measure.table_mb = size / 1e6
            if label.startswith("year"):
                measure.mismatches = compare(found, reference)
                measure.checked = True
                measure.statements_s, measure.percentiles = await statement_times(db, period, found)
                if args.explain:
                    await print_plans(db, period)
            results.append(measure)
            print(
                f"  {backend:<8} {years:>2} y  {label:<10} "
                f"{measure.rows_in_period:>9,} requests: median {measure.median:.2f} s "
                f"(min {min(samples):.2f}, max {max(samples):.2f}), "
                f"Python peak {peak:.1f} MB"
                + (
                    "; "
                    + ", ".join(f"{k} {v:.2f} s" for k, v in measure.statements_s.items())
                    + f" (percentiles: {measure.percentiles})"
                    if measure.statements_s
                    else ""
                )
                + (f"; MISMATCH {measure.mismatches}" if measure.mismatches else ""),
                flush=True,
            )
    finally:
        await db.dispose()
    return results


def database_name(years: int) -> str:
    return f"ess_bench_ind_{years}y"


def head_revision() -> str:
    """The migration(s) the service's schema is at (what a reused database must be at)."""
    return ", ".join(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


async def database_revision(session: AsyncSession) -> str:
    """The migration(s) a database is at, as ``head_revision`` writes them."""
    rows = await session.execute(text("SELECT version_num FROM alembic_version"))
    return ", ".join(sorted(rows.scalars()))


async def prepared_databases(
    years: int, args: argparse.Namespace, workdir: Path
) -> tuple[dict[str, str], dict[str, Any]]:
    """The backends' databases holding the dataset, and the reference for its year."""
    name = database_name(years)
    marker = workdir / f"{name}-{args.total}.json"
    urls: dict[str, str] = {}
    head = head_revision()
    if args.reuse and marker.exists():
        saved = json.loads(marker.read_text())
        for backend in args.backends:
            url = (
                f"sqlite+aiosqlite:///{workdir / name}.db"
                if backend == "sqlite"
                else postgres_url(name)
            )
            with contextlib.suppress(OSError, SQLAlchemyError, asyncpg.PostgresError):
                db = Database(url)
                try:
                    async with db.reading() as session:
                        revision = await database_revision(session)
                        count = (
                            await session.execute(select(func.count()).select_from(Request))
                        ).scalar_one()
                finally:
                    await db.dispose()
                if revision != head:
                    print(f"{name} on {backend} is at migration {revision}, not {head}: reloading")
                elif count == saved["rows"]:
                    urls[backend] = url
        if set(urls) == set(args.backends):
            print(f"reusing {name} ({saved['rows']:,} requests)", flush=True)
            return urls, saved["expected"]
    urls = {backend: await migrated_database(backend, name, workdir) for backend in args.backends}
    context = bench_context(next(iter(urls.values())), NOW)
    print(f"loading {args.total:,} requests over {years} year(s) into {', '.join(urls)}")
    reference = await populate(urls, args.total, years, context.policy.sla, name)
    await context.db.dispose()
    for url in urls.values():
        await analyze(url)
    expected = reference.expected()
    marker.write_text(json.dumps({"rows": reference.rows, "expected": expected}))
    return urls, expected


async def run(args: argparse.Namespace, workdir: Path) -> list[Measure]:
    results: list[Measure] = []
    for years in args.years:
        try:
            urls, expected = await prepared_databases(years, args, workdir)
            for backend, url in urls.items():
                results += await measure_backend(backend, url, years, expected, args)
        finally:
            if not args.reuse and "postgres" in args.backends:
                await asyncio.to_thread(drop_database, "postgres", database_name(years))
    return results


# --- reporting ---------------------------------------------------------------------------

HEADER = (
    "backend",
    "requests in table",
    "period",
    "requests in period",
    "median s",
    "min–max s",
    "Python peak MB",
    "cube / percentiles / patients / requesters s",
    "percentiles",
    "check",
)
STATEMENTS = ("cube", "percentiles", "patients", "requesters")


def spaced(number: int) -> str:
    return f"{number:,}".replace(",", " ")


def rows(results: list[Measure]) -> list[tuple[str, ...]]:
    return [
        (
            r.backend,
            spaced(r.rows_in_table) + f" over {r.years} y",
            r.period,
            spaced(r.rows_in_period),
            f"{r.median:.2f}",
            f"{min(r.samples_s):.2f}–{max(r.samples_s):.2f}",
            f"{r.peak_mb:.1f}",
            " / ".join(f"{r.statements_s[k]:.2f}" for k in STATEMENTS if k in r.statements_s)
            or "–",
            r.percentiles or "–",
            ("exact" if not r.mismatches else "MISMATCH") if r.checked else "–",
        )
        for r in results
    ]


def reading(results: list[Measure]) -> str:
    """Read the figures against the targets, in a few plain sentences."""
    if not results:
        return ""
    sentences = []
    for years in dict.fromkeys(r.years for r in results):
        years_rows = [r for r in results if r.years == years and r.period.startswith("year")]
        verdicts = []
        for r in years_rows:
            target = TARGET_S[r.backend]
            verdicts.append(
                f"{r.backend} {r.median:.2f} s ("
                + ("met" if r.median < target else f"target {target:g} s not met")
                + ")"
            )
        if years_rows:
            sentences.append(
                f"A year of {spaced(years_rows[0].rows_in_period)} requests in a table of "
                f"{spaced(years_rows[0].rows_in_table)}: " + "; ".join(verdicts) + "."
            )
    peaks = [r.peak_mb for r in results]
    sizes = [r.rows_in_period for r in results]
    sentences.append(
        f"The Python heap's peak is {min(peaks):.1f} to {max(peaks):.1f} MB for periods of "
        f"{spaced(min(sizes))} to {spaced(max(sizes))} requests: it follows the cube's cells "
        "(months × priorities × sub-specialties × specialists, one year at a time), not the "
        "number of requests."
    )
    largest = max(sizes)
    for r in results:
        if r.rows_in_period == largest and r.statements_s:
            slowest = sorted(r.statements_s.items(), key=lambda item: -item[1])[:2]
            sentences.append(
                f"On the year of {spaced(largest)} requests {r.backend} spends most in "
                + " and ".join(f"the {name} ({seconds:.2f} s)" for name, seconds in slowest)
                + f" of its {sum(r.statements_s.values()):.2f} s of statements: each reads "
                "every one of the year's entries of an index (the request table itself, "
                f"{spaced(round(r.table_mb))} MB with its indexes, is never scanned)."
            )
    if all(not r.mismatches for r in results if r.checked):
        sentences.append(
            "Every year's figures equal the reference computed from the generated rows."
        )
    return " ".join(sentences)


def section(results: list[Measure], args: argparse.Namespace, postgres_version: str | None) -> str:
    facts = machine_facts() + (f", PostgreSQL {postgres_version}" if postgres_version else "")
    parts = [
        SECTION_TITLE,
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {facts}.",
        "",
        f"Command (from the project root): `{command_line('bench.indicators')}`",
        "",
        "Times `app.services.indicators.compute_indicators` (what `GET /api/v1/indicators` "
        "and the activity report run: every indicator, the four breakdowns and the "
        "membership, from one read-only snapshot) on the service's `Database`, median of "
        f"{args.repeat} calls after {WARMUP} warm-up call; *Python peak*: `tracemalloc` peak "
        "during one more call. Each table is a fresh database migrated to the service's "
        f"schema (migration {head_revision()}) and loaded in bulk with "
        f"a fixed seed: {SPECIALISTS} specialists, {spaced(REQUESTERS)} requesters and the "
        "requests submitted over the given number of years ending with 2025 (in submission "
        f"order, plus {OUTSIDE:.0%} before and after), with random delays (log-normal: "
        f"taken on after {ACCEPT_MEDIAN_H:g} h, answered {ANSWER_MEDIAN_H:g} h later, "
        f"{ASKED_INFO:.0%} paused awaiting information, appointments {APPOINTMENT_MEDIAN_D:g} "
        "days after the answer), about 80 % closed, 5 % cancelled, 8 % still open, the "
        "service's own deadline functions on the business calendar, the delays the "
        "indicators read as `models.history.record` stores them, and encrypted "
        "clinical fields as the service stores them. PostgreSQL gets `VACUUM ANALYZE` "
        "after the load. *cube / percentiles / patients / requesters*: each of the four "
        "statements alone (median of three); *percentiles*: how the median and 90th "
        "percentile were found, *walk* (each delay's index read in order up to the ranks, "
        "when the period holds at least a fifth of the table) or *sort* (`percentile_cont` on "
        "PostgreSQL, a window on SQLite). "
        "*check*: the year's counts, distinct patients and requesters, median, 90th "
        "percentile and mean answer delay and the share within the deadline, against a "
        "reference computed in Python from the generated rows.",
        "",
        markdown_table(HEADER, rows(results), left=4),
        "",
        reading(results),
        "",
    ]
    return "\n".join(parts)


# --- main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser("bench.indicators", __doc__)
    parser.add_argument(
        "--total", type=int, default=1_000_000, help="requests over the years (1000000)"
    )
    parser.add_argument(
        "--years", default="1,10", help="years the requests are spread over, ending 2025 (1,10)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per period (3)")
    parser.add_argument("--explain", action="store_true", help="print the year's query plans")
    add_common_options(parser)
    parser.add_argument("--workdir", default=None, help="where SQLite files go (a temp dir)")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the databases and reuse them when they match"
    )
    args = parser.parse_args(argv)
    try:
        args.years = [int(y) for y in args.years.split(",") if y.strip()]
    except ValueError:
        parser.error("--years takes comma-separated integers")
    if not args.years or min(args.years) < 1 or max(args.years) > 20:
        parser.error("--years: 1 to 20")
    if args.total < 10 or args.repeat < 1:
        parser.error("--total must be at least 10 and --repeat positive")
    if args.reuse and not args.workdir:
        parser.error("--reuse needs --workdir")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"{args.total:,} requests over {', '.join(map(str, args.years))} year(s) on "
        f"{', '.join(args.backends)}, {args.repeat} timed calls per period",
        flush=True,
    )
    try:
        postgres_version = asyncio.run(_postgres_version()) if "postgres" in args.backends else None
        with contextlib.ExitStack() as stack:
            if args.workdir:
                workdir = Path(args.workdir)
                workdir.mkdir(parents=True, exist_ok=True)
            else:
                workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ess-")))
            results = asyncio.run(run(args, workdir))
    except (BenchError, OSError, asyncpg.PostgresError, SQLAlchemyError) as exc:
        print(f"bench.indicators: {exc}", file=sys.stderr)
        return 1
    print()
    print(text_table(HEADER, rows(results), left=4))
    print()
    print(reading(results))
    if args.write_doc:
        write_doc(section(results, args, postgres_version), SECTION_TITLE)
    return 1 if any(r.mismatches for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
