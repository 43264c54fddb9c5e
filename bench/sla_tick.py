"""One SLA tick (``sla.engine.fire_due``) against the size of the request table and the due work.

For each backend, two databases loaded in bulk: a large one (``--total`` requests, ``--open``
of them open with their deadlines in the future, the rest answered, closed or cancelled,
whose ``sla_next_at`` is NULL) and a small one holding only ``--small`` requests, open. On
each: (a) ticks with nothing due, the scan of ``sla_next_at <= now`` through its index
only, ``--repeat`` times after a warm-up; (b) ticks with K due deadlines (``--due``: answer
warnings of accepted requests made due just before), ``fire_due`` called until all K have
fired, ``--rounds`` times per K; then one more instrumented run: where a firing's time goes.

    python -m bench.sla_tick [--total 1000000] [--open 10000] [--small 10000]
                             [--due 10,100,1000] [--rounds 3] [--repeat 50]
                             [--backends sqlite,postgres] [--write-doc]
"""

import argparse
import inspect
import math
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from bench.dataset import (
    REQUEST_TABLE,
    USER_TABLE,
    bulk_load,
    model_row,
    pick,
    request_row,
    specialty_rows,
    user_row,
)
from bench.harness import (
    NOW,
    PARIS,
    BenchError,
    Report,
    StatementTimer,
    Table,
    after_load,
    bench_context,
    drop_database,
    explain,
    int_list,
    main,
    migrated_database,
    ms,
    percentile,
    positive,
    sample_ms,
    spaced,
)
from models import (
    EventKind,
    Priority,
    ReferenceCounter,
    Request,
    RequestEvent,
    Role,
    Status,
)
from sla.deadlines import SlaPolicy
from sla.engine import fire_due

TITLE = "## SLA tick (issue 4)"
WARMUP = 5
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
HEADER = (
    "backend", "requests in table", "open", "due", "fire_due calls", "runs", "median ms",
    "max ms", "ms per firing", "scan alone ms",
)  # fmt: skip


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
    scan_ms: float = math.nan

    def row(self) -> tuple[str, ...]:
        median = percentile(self.samples_ms, 0.5)
        return (
            self.backend, spaced(self.total), spaced(self.open), spaced(self.due),
            str(self.calls), str(len(self.samples_ms)), ms(median), ms(max(self.samples_ms)),
            f"{median / self.due:.2f}" if self.due else "–", ms(self.scan_ms),
        )  # fmt: skip


# --- population ----------------------------------------------------------------------------


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
    tables = specialty_rows(SPECIALTY, "Cardiologie", [SUBSPECIALTY])
    done = await bulk_load(url, [*tables, (USER_TABLE, users), (REQUEST_TABLE, rows)])
    done -= len(users) + 2
    years = [model_row(ReferenceCounter, year=y, last=n) for y, n in sorted(counters.items())]
    await bulk_load(url, [(ReferenceCounter.__table__, years)])
    if done != total:
        raise BenchError(f"{done} requests loaded instead of {total}")
    await after_load(url, checkpoint=True)
    load_s = time.perf_counter() - started
    return Loaded(backend, url, total, open_count, accepted, load_s, await size_mb(url))


async def size_mb(url: str) -> float:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        files = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]
        return sum(f.stat().st_size for f in files if f.exists()) / 1e6
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            size = await connection.scalar(text("SELECT pg_database_size(current_database())"))
        return int(size or 0) / 1e6
    finally:
        await engine.dispose()


# --- measurement ---------------------------------------------------------------------------


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


async def fire_all(context: Any, due: int) -> tuple[int, int]:
    """Call ``fire_due`` until ``due`` deadlines have fired; (fired, calls)."""
    fired = calls = 0
    while fired < due and calls <= due // BATCH + 1:
        fired += await fire_due(context.db, now=NOW, policy=context.policy)
        calls += 1
    return fired, calls


async def measure(loaded: Loaded, args: argparse.Namespace) -> tuple[list[Tick], str]:
    """The ticks of one database, and where a firing's time goes."""
    context = bench_context(loaded.url, NOW)
    policy = context.policy
    ticks: list[Tick] = []
    try:
        if (await counts(context))[0]:
            raise BenchError("something is due before the benchmark made it so")

        async def idle_tick() -> None:
            if fired := await fire_due(context.db, now=NOW, policy=policy):
                raise BenchError(f"an idle tick fired {fired}")

        idle = await sample_ms(idle_tick, args.repeat, WARMUP)
        tick = Tick(loaded.backend, loaded.total, loaded.open, 0, idle, 1)
        async with context.db.reading() as session:
            # The scan alone, in an open session: what the table size could change.
            scan = scan_statement()

            async def scan_alone() -> None:
                (await session.execute(scan)).all()

            tick.scan_ms = percentile(await sample_ms(scan_alone, args.repeat, WARMUP), 0.5)
            tick.plan = await explain(session, scan)
        ticks.append(tick)
        print(" ".join(tick.row()), flush=True)
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
            ticks.append(Tick(loaded.backend, loaded.total, loaded.open, due, totals, calls, plan))
            print(" ".join(ticks[-1].row()), flush=True)
        # One more run, instrumented and not counted above: where a firing's time goes.
        await make_due(context, [next(free) for _ in range(PROFILED)])
        with StatementTimer(context.db.write_engine.sync_engine) as timer:
            started = time.perf_counter()
            fired, _ = await fire_all(context, PROFILED)
            profile = timer.summary(fired, time.perf_counter() - started)
        return ticks, (
            f"Where a firing's time goes ({loaded.backend}, {spaced(loaded.total)} requests, one "
            f"extra instrumented run of {PROFILED} due, not in the table): {profile}."
        )
    finally:
        await context.db.dispose()


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


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--total", type=positive(int), default=1_000_000, help="(1000000)")
    parser.add_argument("--open", type=positive(int), default=10_000, help="open (10000)")
    parser.add_argument("--small", type=positive(int), default=10_000, help="small table (10000)")
    parser.add_argument("--due", type=int_list, default="10,100,1000", help="due per run")
    parser.add_argument("--rounds", type=positive(int), default=3, help="runs per due (3)")
    parser.add_argument("--repeat", type=positive(int), default=50, help="idle ticks (50)")


async def run(args: argparse.Namespace, workdir: Path) -> Report:
    if args.open > args.total:
        raise BenchError("--open cannot exceed --total")
    ticks: list[Tick] = []
    loads, profiles = [], []
    sla = bench_context("sqlite+aiosqlite://", NOW).policy.sla
    for backend in args.backends:
        for name, total, open_count in (
            ("ess_bench_sla", args.total, args.open),
            ("ess_bench_sla_small", args.small, min(args.open, args.small)),
        ):
            loaded = await load(backend, name, total, open_count, workdir, sla)
            loads.append(
                f"{backend} {spaced(total)} requests: {loaded.load_s:.0f} s, "
                f"{spaced(round(loaded.size_mb))} MB"
            )
            print(loads[-1], flush=True)
            found, profile = await measure(loaded, args)
            ticks += found
            profiles.append(profile)
            await drop_database(backend, name, workdir)
    cases: dict[tuple[str, str], list[str]] = {}
    for t in ticks:
        if t.plan and t.due in (0, max(args.due)):
            case = f"{spaced(t.total)} requests with {spaced(t.due) if t.due else 'nothing'} due"
            cases.setdefault((t.backend, scan_line(t.plan)), []).append(case)
    notes = [f"Loads: {'; '.join(loads)}."]
    notes += [
        f"Scan plan, {b} ({'; '.join(where)}): `{plan}`" for (b, plan), where in cases.items()
    ]
    return Report([Table(HEADER, [t.row() for t in ticks])], notes + profiles)


if __name__ == "__main__":
    sys.exit(main("bench.sla_tick", __doc__, TITLE, options, run))
