"""One SLA tick (``sla.engine.fire_due``) against the size of the request table and the due work.

For each backend, two databases loaded in bulk: a large one (``--total`` requests, ``--open``
of them open with their deadlines in the future, the rest answered, closed or cancelled,
whose ``sla_next_at`` is NULL) and a small one holding only ``--small`` requests, open. On
each: (a) ticks with nothing due, the scan of ``sla_next_at <= now`` through its index
only, ``--repeat`` times after a warm-up; (b) ticks with K due deadlines (``--due``: answer
warnings of accepted requests made due just before), ``fire_due`` called until all K have
fired, ``--rounds`` times per K. Prints the table; ``--write-doc`` records it in
``docs/benchmarks.md``.

    python -m bench.sla_tick [--total 1000000] [--open 10000] [--small 10000]
                             [--due 10,100,1000] [--rounds 3] [--repeat 50]
                             [--backends sqlite,postgres] [--write-doc]

PostgreSQL is reached through ``BENCH_POSTGRES_URL`` (see ``bench.submission``); the
scratch databases ``ess_bench_sla`` and ``ess_bench_sla_small`` are created and dropped
by the run.
"""

import argparse
import asyncio
import inspect
import math
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session

from bench.common import (
    NOW,
    PARIS,
    analyze,
    bench_context,
    drop_database,
    explain,
    markdown_table,
    migrated_database,
    ms,
    percentile,
    settle,
    text_table,
)
from bench.dataset import (
    REQUEST_TABLE,
    USER_TABLE,
    chunks,
    copy_requests,
    insert_rows,
    model_row,
    request_row,
    user_row,
)
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
from models import (
    EventKind,
    Priority,
    ReferenceCounter,
    Request,
    RequestEvent,
    Role,
    Specialty,
    Status,
    Subspecialty,
)
from sla.deadlines import SlaPolicy
from sla.engine import fire_due

SECTION_TITLE = "## SLA tick (issue 4)"
LARGE_DB = "ess_bench_sla"
SMALL_DB = "ess_bench_sla_small"
TARGET_MS = 50.0
WARMUP = 5
CHUNK = 20_000
PROGRESS_EVERY = 100_000
SPECIALISTS = 200
REQUESTERS = 500
HISTORY = timedelta(days=5 * 365)
SPECIALTY = "cardiologie"
SUBSPECIALTY = "rythmologie"
# fire_due's own page size: K above it takes more than one call.
BATCH = int(inspect.signature(fire_due).parameters["batch"].default)
DUE_SINCE = timedelta(minutes=1)
PROFILED = 100  # firings of the extra, instrumented run

# Closed history: (status, share); open requests: (status, share).
CLOSED_MIX = ((Status.CLOSED, 0.85), (Status.ANSWERED, 0.10), (Status.CANCELLED, 0.05))
OPEN_MIX = (
    (Status.PENDING, 0.05),
    (Status.ASSIGNED, 0.20),
    (Status.ACCEPTED, 0.60),
    (Status.AWAITING_INFO, 0.15),
)
URGENT_SHARE = 0.2


@dataclass
class Loaded:
    """One loaded database and the open accepted requests free to be made due."""

    backend: str
    url: str
    total: int
    open: int
    accepted: list[uuid.UUID]
    load_s: float
    size_mb: float


@dataclass
class Tick:
    backend: str
    total: int
    open: int
    due: int
    samples_ms: list[float]
    calls: int
    plan: list[str] = field(default_factory=list)
    profile: str = ""
    scan_ms: float = math.nan

    @property
    def median(self) -> float:
        return percentile(self.samples_ms, 0.5)

    @property
    def worst(self) -> float:
        return max(self.samples_ms)

    @property
    def per_firing(self) -> float | None:
        return self.median / self.due if self.due else None


# --- population --------------------------------------------------------------------------


def pick(rng: random.Random, mix: tuple[tuple[Status, float], ...]) -> Status:
    draw = rng.random()
    for status, share in mix:
        if draw < share:
            return status
        draw -= share
    return mix[-1][0]


def open_window(status: Status, priority: Priority) -> timedelta:
    """How long ago an open request may have been submitted with nothing due yet at NOW.

    NOW is a Tuesday 10:30 in Paris: the business clock has run 2.5 h today and 10 h on
    Monday. An assigned request must be younger than its acknowledgement warning (1.5 h
    urgent, 6 h standard at the default settings), the others than their answer warning
    (6 h urgent, 18 h standard); ``request_rows`` checks the result anyway.
    """
    if status == Status.ASSIGNED:
        return timedelta(minutes=80 if priority == Priority.URGENT else 150)
    return timedelta(minutes=150 if priority == Priority.URGENT else 20 * 60)


def request_rows(
    total: int,
    open_count: int,
    *,
    sla: SlaPolicy,
    rng: random.Random,
    specialists: list[uuid.UUID],
    requesters: list[uuid.UUID],
    accepted: list[uuid.UUID],
    counters: Counter[int],
) -> Iterator[dict[str, Any]]:
    """The history in submission order: closed requests over five years, then the open ones."""
    closed = total - open_count
    start = NOW - HISTORY
    span = HISTORY - timedelta(days=2)
    drafts: list[tuple[datetime, Status, Priority]] = []
    for index in range(closed):
        submitted = start + span * ((index + rng.random()) / closed)
        drafts.append((submitted, pick(rng, CLOSED_MIX), Priority.STANDARD))
    opened = []
    for _ in range(open_count):
        status = pick(rng, OPEN_MIX)
        priority = Priority.URGENT if rng.random() < URGENT_SHARE else Priority.STANDARD
        window = open_window(status, priority).total_seconds()
        submitted = NOW - timedelta(seconds=rng.uniform(60, window))
        opened.append((submitted, status, priority))
    drafts += sorted(opened)
    for index, (submitted, status, priority) in enumerate(drafts):
        if index < closed and rng.random() < URGENT_SHARE:
            priority = Priority.URGENT
        year = submitted.astimezone(PARIS).year
        counters[year] += 1
        request_id = uuid.uuid4()
        assignee = None
        if status != Status.PENDING and (status != Status.CANCELLED or rng.random() < 0.5):
            assignee = rng.choice(specialists)
        row = request_row(
            request_id=request_id,
            reference=f"TE-{year}-{counters[year]:06d}",
            status=status,
            priority=priority,
            specialty=SPECIALTY,
            subspecialty=SUBSPECIALTY if rng.random() < 0.5 else None,
            requester_id=rng.choice(requesters),
            assignee_id=assignee,
            submitted_at=submitted,
            sla=sla,
            patient=rng.randrange(1000),
        )
        if index >= closed:
            if row["sla_next_at"] is not None and row["sla_next_at"] <= NOW:
                raise BenchError(f"an open {status} request would be due already: {row}")
            if status == Status.ACCEPTED:
                accepted.append(request_id)
        elif row["sla_next_at"] is not None:
            raise BenchError(f"a {status} request still has a deadline: {row}")
        yield row


def people(rng: random.Random) -> tuple[list[dict[str, Any]], list[uuid.UUID], list[uuid.UUID]]:
    created = NOW - HISTORY - timedelta(days=30)
    users = [
        user_row(
            user_id=uuid.uuid4(),
            role=Role.COORDINATOR,
            email="coordination@ess-bench.fr",
            name="Coordination",
            created_at=created,
        )
    ]
    specialists = [uuid.uuid4() for _ in range(SPECIALISTS)]
    requesters = [uuid.uuid4() for _ in range(REQUESTERS)]
    users += [
        user_row(
            user_id=uid,
            role=Role.SPECIALIST,
            email=f"specialiste{i}@ess-bench.fr",
            name=f"Dr Spécialiste {i:03d}",
            created_at=created,
            specialty_code=SPECIALTY,
            capacity=1000,
            rotation=rng.randrange(10**6),
        )
        for i, uid in enumerate(specialists)
    ]
    users += [
        user_row(
            user_id=uid,
            role=Role.REQUESTER,
            email=f"demandeur{i}@ess-bench.fr",
            name=f"Dr Demandeur {i:03d}",
            created_at=created,
        )
        for i, uid in enumerate(requesters)
    ]
    return users, specialists, requesters


async def load(
    backend: str, name: str, total: int, open_count: int, workdir: Path, sla: SlaPolicy
) -> Loaded:
    """A fresh, migrated database holding ``total`` requests, ``open_count`` of them open."""
    url = await migrated_database(backend, name, workdir)
    started = time.perf_counter()
    rng = random.Random(f"{name}-{total}-{open_count}")
    users, specialists, requesters = people(rng)
    accepted: list[uuid.UUID] = []
    counters: Counter[int] = Counter()
    rows = request_rows(
        total,
        open_count,
        sla=sla,
        rng=rng,
        specialists=specialists,
        requesters=requesters,
        accepted=accepted,
        counters=counters,
    )
    done = 0

    def progress(count: int) -> None:
        nonlocal done
        before, done = done, done + count
        if done // PROGRESS_EVERY != before // PROGRESS_EVERY or done == total:
            elapsed = time.perf_counter() - started
            print(
                f"  {backend} {name}: {done:>9,} / {total:,} requests loaded, {elapsed:.0f} s "
                f"({done / elapsed:,.0f} rows/s)",
                flush=True,
            )

    engine = create_async_engine(url)
    if backend == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB for the load only
            cursor.close()

    try:
        async with engine.begin() as connection:
            await insert_rows(
                connection, Specialty.__table__, [model_row(Specialty, code=SPECIALTY, name="C")]
            )
            await insert_rows(
                connection,
                Subspecialty.__table__,
                [model_row(Subspecialty, specialty_code=SPECIALTY, code=SUBSPECIALTY, name="R")],
            )
            await insert_rows(connection, USER_TABLE, users)
            if backend == "sqlite":  # one transaction, Core executemany by chunks
                for chunk in chunks(rows, CHUNK):
                    await insert_rows(connection, REQUEST_TABLE, chunk)
                    progress(len(chunk))
        if backend == "postgres":  # COPY by chunks (binary, native types)
            raw = await asyncpg.connect(postgres_url(name, driver="postgresql"))
            try:
                async with raw.transaction():
                    for chunk in chunks(rows, CHUNK):
                        await copy_requests(raw, chunk)
                        progress(len(chunk))
            finally:
                await raw.close()
        async with engine.begin() as connection:
            await insert_rows(
                connection,
                ReferenceCounter.__table__,
                [model_row(ReferenceCounter, year=y, last=n) for y, n in sorted(counters.items())],
            )
    finally:
        await engine.dispose()
    if done != total:
        raise BenchError(f"{done} requests loaded instead of {total}")
    if backend == "postgres":
        print(f"  {backend} {name}: VACUUM ANALYZE, CHECKPOINT", flush=True)
    await analyze(url)
    await settle(url)
    load_s = time.perf_counter() - started
    return Loaded(backend, url, total, open_count, accepted, load_s, await size_mb(url))


def sqlite_files(path: str | Path) -> list[Path]:
    return [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]


def sqlite_size_mb(url: str) -> float:
    files = sqlite_files(url.split("///", 1)[1])
    return sum(f.stat().st_size for f in files if f.exists()) / 1e6


def remove_sqlite(workdir: str, name: str) -> None:
    for path in sqlite_files(Path(workdir, f"{name}.db")):
        path.unlink(missing_ok=True)


async def size_mb(url: str) -> float:
    if url.startswith("sqlite"):
        return sqlite_size_mb(url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            size = await connection.scalar(text("SELECT pg_database_size(current_database())"))
        return int(size or 0) / 1e6
    finally:
        await engine.dispose()


# --- measurement -------------------------------------------------------------------------


def scan_statement() -> Any:
    """The tick's scan, as ``fire_due`` writes it."""
    return (
        select(Request.id, Request.specialty_code)
        .where(Request.sla_next_at <= NOW)
        .order_by(Request.sla_next_at)
        .limit(BATCH)
    )


async def make_due(context: Any, ids: list[uuid.UUID]) -> None:
    """Bring the answer warning of these accepted requests to just before NOW."""
    async with context.db.transaction() as session:
        await session.execute(
            update(Request)
            .where(Request.id.in_(ids), Request.status == Status.ACCEPTED)
            .values(
                answer_warn_at=NOW - DUE_SINCE,
                sla_next_at=NOW - DUE_SINCE,
                version=Request.version + 1,
            )
            .execution_options(synchronize_session=False)
        )


async def counts(context: Any) -> tuple[int, int]:
    """(requests due at NOW, SLA warning events)."""
    async with context.db.reading() as session:
        due = await session.scalar(select(func.count()).where(Request.sla_next_at <= NOW))
        warnings = await session.scalar(
            select(func.count()).where(RequestEvent.kind == EventKind.SLA_WARNING)
        )
    return int(due or 0), int(warnings or 0)


class FiringProfile:
    """Where a run's time goes, from SQLAlchemy's engine and session events.

    Statement time is measured around each cursor execution (by kind); commit time from
    the end of the commit's flush (or its start when there is nothing to flush) to the
    end of the database COMMIT. The rest is Python: ORM, driver, pool, event loop.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.statements: Counter[str] = Counter()
        self.executions: Counter[str] = Counter()
        self.commit_s = 0.0
        self.total_s = 0.0
        self.firings = 0
        self._started = 0.0
        self._commit_from = 0.0
        self._hooks = [
            (engine, "before_cursor_execute", self._before),
            (engine, "after_cursor_execute", self._after),
            (Session, "before_commit", self._commit_start),
            (Session, "after_flush_postexec", self._commit_start),
            (Session, "after_commit", self._commit_end),
        ]

    def __enter__(self) -> "FiringProfile":
        for target, name, hook in self._hooks:
            event.listen(target, name, hook)
        return self

    def __exit__(self, *exc: object) -> None:
        for target, name, hook in self._hooks:
            event.remove(target, name, hook)

    @staticmethod
    def kind(statement: str) -> str:
        words = statement.split()
        if "pg_advisory" in statement:
            return "pool lock"
        if words[0] == "SELECT" and "FROM" in words:
            return f"SELECT {words[words.index('FROM') + 1]}"
        if words[0] in ("INSERT", "UPDATE", "DELETE") and len(words) > 2:
            return f"{words[0]} {words[2] if words[0] != 'UPDATE' else words[1]}"
        return words[0]

    def _before(self, *_args: Any) -> None:
        self._started = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        key = self.kind(statement)
        self.statements[key] += time.perf_counter() - self._started
        self.executions[key] += 1

    def _commit_start(self, *_args: Any) -> None:
        self._commit_from = time.perf_counter()

    def _commit_end(self, *_args: Any) -> None:
        self.commit_s += time.perf_counter() - self._commit_from

    def summary(self) -> str:
        n = max(1, self.firings)
        statements = sum(self.statements.values())
        rest = self.total_s - statements - self.commit_s
        parts = [
            f"{key} {self.executions[key] / n:g}× {seconds * 1000 / n:.2f}"
            for key, seconds in self.statements.most_common()
        ]
        return (
            f"{self.total_s * 1000 / n:.2f} ms per firing = statements "
            f"{statements * 1000 / n:.2f} ({', '.join(parts)}) + COMMIT "
            f"{self.commit_s * 1000 / n:.2f} + Python (ORM, driver, pool, event loop) "
            f"{rest * 1000 / n:.2f}"
        )


async def fire_all(context: Any, due: int) -> tuple[int, int]:
    """Call ``fire_due`` until ``due`` deadlines have fired; (fired, calls)."""
    fired = calls = 0
    while fired < due and calls <= due // BATCH + 1:
        fired += await fire_due(context.db, now=NOW, policy=context.policy)
        calls += 1
    return fired, calls


async def measure(loaded: Loaded, args: argparse.Namespace) -> list[Tick]:
    context = bench_context(loaded.url, NOW)
    policy = context.policy
    ticks: list[Tick] = []
    try:
        if (await counts(context))[0]:
            raise BenchError("something is due before the benchmark made it so")
        for _ in range(WARMUP):
            await fire_due(context.db, now=NOW, policy=policy)
        idle = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            fired = await fire_due(context.db, now=NOW, policy=policy)
            idle.append((time.perf_counter() - started) * 1000)
            if fired:
                raise BenchError(f"an idle tick fired {fired}")
        tick = Tick(loaded.backend, loaded.total, loaded.open, 0, idle, 1)
        async with context.db.reading() as session:
            # The scan alone, in an open session: what the table size could change.
            scan = scan_statement()
            for _ in range(WARMUP):
                (await session.execute(scan)).all()
            alone = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                (await session.execute(scan)).all()
                alone.append((time.perf_counter() - started) * 1000)
            tick.scan_ms = percentile(alone, 0.5)
            tick.plan = await explain(session, scan)
        ticks.append(tick)
        print_tick(tick)
        needed = sum(args.due) * args.rounds + PROFILED
        if len(loaded.accepted) < needed:
            raise BenchError(
                f"{len(loaded.accepted)} open accepted requests, {needed} needed: raise --open"
            )
        free = iter(loaded.accepted)
        for due in args.due:
            totals = []
            calls = 0
            plan: list[str] = []
            for round_ in range(args.rounds):
                await make_due(context, [next(free) for _ in range(due)])
                _, warnings_before = await counts(context)
                if round_ == 0:
                    async with context.db.reading() as session:
                        plan = await explain(session, scan_statement())
                started = time.perf_counter()
                fired, calls = await fire_all(context, due)
                totals.append((time.perf_counter() - started) * 1000)
                left, warnings_after = await counts(context)
                if fired != due or left or warnings_after - warnings_before != due:
                    raise BenchError(
                        f"{due} due: {fired} fired in {calls} calls, {left} still due, "
                        f"{warnings_after - warnings_before} warning events"
                    )
            tick = Tick(loaded.backend, loaded.total, loaded.open, due, totals, calls, plan)
            ticks.append(tick)
            print_tick(tick)
        # One more run, instrumented and not counted above: where a firing's time goes.
        await make_due(context, [next(free) for _ in range(PROFILED)])
        with FiringProfile(context.db.write_engine.sync_engine) as profile:
            started = time.perf_counter()
            profile.firings, _ = await fire_all(context, PROFILED)
            profile.total_s = time.perf_counter() - started
        ticks[-1].profile = profile.summary()
        print(f"  {loaded.backend} {loaded.total:,} requests, profiled: {ticks[-1].profile}")
        return ticks
    finally:
        await context.db.dispose()


def print_tick(tick: Tick) -> None:
    what = f"{tick.due} due" if tick.due else "nothing due"
    per = f", {tick.per_firing:.2f} ms per firing" if tick.per_firing else ""
    if not tick.due:
        per += f", the scan alone {ms(tick.scan_ms)} ms"
    print(
        f"  {tick.backend} {tick.total:,} requests, {what}: median {ms(tick.median)} ms, "
        f"max {ms(tick.worst)} ms over {len(tick.samples_ms)}, {tick.calls} call(s){per}",
        flush=True,
    )


# --- reporting ---------------------------------------------------------------------------

HEADER = (
    "backend",
    "requests in table",
    "open",
    "due",
    "fire_due calls",
    "runs",
    "median ms",
    "max ms",
    "ms per firing",
    "scan alone ms",
)


def spaced(number: int) -> str:
    return f"{number:,}".replace(",", " ")


def rows(ticks: list[Tick]) -> list[tuple[str, ...]]:
    return [
        (
            t.backend,
            spaced(t.total),
            spaced(t.open),
            spaced(t.due),
            str(t.calls),
            str(len(t.samples_ms)),
            ms(t.median),
            ms(t.worst),
            f"{t.per_firing:.2f}" if t.per_firing else "–",
            ms(t.scan_ms),
        )
        for t in ticks
    ]


PLAN_LINES = ("Limit", "->", "Index Cond", "Filter", "SEARCH", "SCAN", "USE", "Execution Time")


def scan_line(plan: list[str]) -> str:
    """The plan on one line: its nodes, conditions, the first buffer count, execution time."""
    kept = []
    buffers = False
    for line in (raw.strip() for raw in plan):
        if line.startswith("Buffers") and not buffers:
            buffers = True
            kept.append(line)
        elif line.startswith(PLAN_LINES):
            kept.append(line.removeprefix("->").strip())
    return " ⟶ ".join(kept)


def reading(ticks: list[Tick]) -> str:
    """Read the figures against the target, in two to four plain sentences."""
    sentences = []
    backends = list(dict.fromkeys(t.backend for t in ticks))
    idle = {(t.backend, t.total): t for t in ticks if not t.due}
    largest = max(t.total for t in ticks)
    smallest = min(t.total for t in ticks)
    pairs = [
        (b, idle[(b, largest)], idle[(b, smallest)])
        for b in backends
        if (b, largest) in idle and (b, smallest) in idle and largest != smallest
    ]
    if pairs:
        flat = all(big.median < 2 * small.median + 0.5 for _, big, small in pairs)
        sentences.append(
            "With nothing due, a tick takes "
            + "; ".join(
                f"{b} {ms(big.median)} ms on {spaced(largest)} requests against "
                f"{ms(small.median)} ms on {spaced(smallest)}"
                for b, big, small in pairs
            )
            + (
                ": the scan reads the `sla_next_at` index only (plans above), and its cost "
                "does not follow the size of the table"
                if flat
                else ": the cost grows with the table"
            )
            + " (the scan alone, in an open session: "
            + "; ".join(
                f"{b} {ms(big.scan_ms)} against {ms(small.scan_ms)} ms" for b, big, small in pairs
            )
            + "; the rest of a tick is opening the session, the connection and the driver)."
        )
    per = []
    for b in backends:
        by_size = {}
        for total in (largest, smallest):
            rates = [t.per_firing for t in ticks if t.backend == b and t.total == total and t.due]
            if rates:
                by_size[total] = (min(rates), max(rates))
        if by_size:
            per.append(
                f"{b} "
                + " against ".join(
                    (f"{lo:.1f}" if f"{lo:.1f}" == f"{hi:.1f}" else f"{lo:.1f}–{hi:.1f}")
                    + f" ms ({spaced(total)} requests)"
                    for total, (lo, hi) in by_size.items()
                )
            )
    rates = [t.per_firing for t in ticks if t.per_firing]
    if per:
        steady = max(rates) < 2.5 * min(rates)
        sentences.append(
            (
                "With K due deadlines a tick's time grows with K at a roughly constant cost "
                "per firing; "
                if steady
                else "With K due deadlines the cost per firing varies more than the due work "
                "explains (machine load; see max), "
            )
            + "per firing: "
            + "; ".join(per)
            + ". Each request is fired in its own transaction (pool lock on PostgreSQL, row "
            "lock, event insert under its UNIQUE constraint, outbox row, request update, "
            "commit): where that time goes is above."
        )
    verdicts = []
    for b in backends:
        mine = [t for t in ticks if t.backend == b and t.total == largest]
        idle_ok = all(t.median < TARGET_MS for t in mine if not t.due)
        within = [t.due for t in mine if t.due and t.median < TARGET_MS]
        rates = [t.per_firing for t in mine if t.per_firing]
        capacity = int(TARGET_MS / max(rates)) if rates else 0
        verdicts.append(
            f"{b}: {'met' if idle_ok else 'missed'} with nothing due"
            + (f", met up to {max(within)} due" if within else ", missed with 10 due or more")
            + (f", about {capacity} firings fit in {TARGET_MS:g} ms" if capacity else "")
        )
    sentences.append(
        f"Target (one tick under {TARGET_MS:g} ms with {spaced(largest)} requests): "
        + "; ".join(verdicts)
        + "."
    )
    return " ".join(sentences[:4])


def section(
    ticks: list[Tick],
    loaded: list[Loaded],
    args: argparse.Namespace,
    postgres_version: str | None,
) -> str:
    facts = machine_facts() + (f", PostgreSQL {postgres_version}" if postgres_version else "")
    loads = "; ".join(
        f"{d.backend} {spaced(d.total)} requests: {d.load_s:.0f} s, {spaced(round(d.size_mb))} MB"
        for d in loaded
    )
    cases: dict[tuple[str, str], list[str]] = {}
    for t in ticks:
        if t.plan and t.due in (0, max(args.due)):
            case = f"{spaced(t.total)} requests with {spaced(t.due) if t.due else 'nothing'} due"
            cases.setdefault((t.backend, scan_line(t.plan)), []).append(case)
    plans = [
        f"- Scan plan, {backend} ({'; '.join(where)}): `{plan}`"
        for (backend, plan), where in cases.items()
    ]
    plans += [
        f"- Where a firing's time goes ({t.backend}, {spaced(t.total)} requests, one extra "
        f"instrumented run of {PROFILED} due, not in the table): {t.profile}."
        for t in ticks
        if t.profile
    ]
    parts = [
        SECTION_TITLE,
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {facts}; load average "
        f"{args.load_before:.2f} when it started.",
        "",
        f"Command (from the project root): `{command_line('bench.sla_tick')}`",
        "",
        "Times `sla.engine.fire_due(db, now=..., policy=context.policy)` (the service's "
        "`Database` and default settings: business calendar, warnings at 75 %) on two "
        "databases per backend, each fresh, migrated and loaded in bulk (SQLite: Core "
        f"executemany in one transaction, then a WAL checkpoint; PostgreSQL: `COPY`, then "
        "`VACUUM ANALYZE` and `CHECKPOINT`): "
        f"{spaced(args.total)} requests of which {spaced(args.open)} are open (5 % pending, "
        "20 % assigned, 60 % accepted, 15 % awaiting information, deadlines computed by "
        "`sla.deadlines` and all in the future) and the rest closed, answered or cancelled "
        f"over five years (`sla_next_at` NULL), against {spaced(args.small)} requests, all "
        "open. Every row is what the service writes: references `TE-year-number`, clinical "
        "fields sealed by `security.vault.Vault`, patient pseudonyms, 200 specialists and "
        "500 requesters. *Nothing due*: "
        f"{args.repeat} ticks after {WARMUP} warm-up ticks. *K due*: just before each run, "
        "K accepted requests get their answer warning one minute in the past; the run calls "
        f"`fire_due` (pages of {BATCH}) until all K have fired, checked by the events "
        f"written; {args.rounds} runs per K. Request history events and outbox rows of the "
        "loaded requests are not loaded (those tables only hold what the runs write). The "
        "scheduler's tick also retries pending requests (`sweep_pending`), not timed here. "
        f"Loads: {loads}.",
        "",
        markdown_table(HEADER, rows(ticks), left=1),
        "",
        *plans,
        "",
        reading(ticks),
        "",
    ]
    return "\n".join(parts)


# --- main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser("bench.sla_tick", __doc__)
    parser.add_argument("--total", type=int, default=1_000_000, help="requests (1000000)")
    parser.add_argument("--open", type=int, default=10_000, help="open requests (10000)")
    parser.add_argument(
        "--small", type=int, default=10_000, help="requests in the small table (10000)"
    )
    parser.add_argument("--due", default="10,100,1000", help="due deadlines per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per number due (3)")
    parser.add_argument("--repeat", type=int, default=50, help="ticks with nothing due (50)")
    add_common_options(parser)
    args = parser.parse_args(argv)
    try:
        args.due = [int(k) for k in args.due.split(",") if k.strip()]
    except ValueError:
        parser.error("--due takes comma-separated integers")
    if min([args.total, args.open, args.small, args.rounds, args.repeat, *args.due]) < 1:
        parser.error("every number must be positive")
    if args.open > args.total:
        parser.error("--open cannot exceed --total")
    return args


async def run(args: argparse.Namespace) -> tuple[list[Tick], list[Loaded]]:
    ticks: list[Tick] = []
    loaded: list[Loaded] = []
    sla = bench_context("sqlite+aiosqlite://", NOW).policy.sla
    with tempfile.TemporaryDirectory(prefix="ess-bench-") as tmp:
        for backend in args.backends:
            for name, total, open_count in (
                (LARGE_DB, args.total, args.open),
                (SMALL_DB, args.small, min(args.open, args.small)),
            ):
                try:
                    print(f"{backend}: loading {total:,} requests ({open_count:,} open)")
                    database = await load(backend, name, total, open_count, Path(tmp), sla)
                    loaded.append(database)
                    print(
                        f"{backend}: {total:,} requests loaded in {database.load_s:.0f} s "
                        f"({database.size_mb:,.0f} MB)",
                        flush=True,
                    )
                    ticks += await measure(database, args)
                finally:
                    await asyncio.to_thread(drop_database, backend, name)
                    remove_sqlite(tmp, name)
    return ticks, loaded


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.load_before = os.getloadavg()[0]
    print(
        f"{args.total:,} requests ({args.open:,} open) against {args.small:,}, "
        f"due {', '.join(map(str, args.due))}, on {', '.join(args.backends)}",
        flush=True,
    )
    try:
        postgres_version = asyncio.run(_postgres_version()) if "postgres" in args.backends else None
        ticks, loaded = asyncio.run(run(args))
    except (BenchError, OSError, ValueError, asyncpg.PostgresError, SQLAlchemyError) as exc:
        print(f"bench.sla_tick: {exc}", file=sys.stderr)
        return 1
    print()
    print(text_table(HEADER, rows(ticks), left=1))
    print()
    for tick in ticks:
        if tick.plan:
            print(f"scan plan, {tick.backend}, {tick.total:,} requests, {tick.due} due:")
            print("\n".join(f"    {line}" for line in tick.plan))
    print()
    print(reading(ticks))
    if args.write_doc:
        write_doc(section(ticks, loaded, args, postgres_version), SECTION_TITLE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
