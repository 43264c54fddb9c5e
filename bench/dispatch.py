"""Dispatch decision time against the size of the specialty pool, on SQLite and PostgreSQL.

For each backend and pool size N: a fresh, migrated database; one specialty with two
sub-specialties and N specialists loaded in bulk with a realistic mix (most cover the
requested sub-specialty, ~10 % inactive, ~10 % on a weekly schedule, ~5 % absent now,
open requests held against capacities, a few declines of the request); one pending
request. ``router.eligibility.decide_in_database`` is then timed ``--repeat`` times
inside one read transaction, after a warm-up, and checked against the pure model
``router.decision.decide`` on the same facts. Prints median, p90 and p99 per size and
the growth between sizes; ``--write-doc`` records them in ``docs/benchmarks.md``.

    python -m bench.dispatch [--sizes 10,100,1000,10000] [--backends sqlite,postgres]
                             [--repeat 200] [--explain] [--write-doc]

PostgreSQL is reached through ``BENCH_POSTGRES_URL`` (see ``bench.submission``); the
scratch database ``ess_bench_dispatch`` is created and dropped by the run.
"""

import argparse
import asyncio
import dataclasses
import math
import os
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from itertools import pairwise
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.exc import SQLAlchemyError

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
    seeded_uuid,
    text_table,
)
from bench.dataset import USER_TABLE, insert_rows, model_row, request_row, user_row
from bench.submission import (
    BenchError,
    _postgres_version,
    add_common_options,
    bench_parser,
    command_line,
    machine_facts,
    write_doc,
)
from models import (
    Absence,
    Priority,
    Request,
    RequestDecline,
    Role,
    ScheduleSlot,
    Specialty,
    Status,
    Subspecialty,
    UserSubspecialty,
)
from router.decision import Candidate, Decision, decide
from router.eligibility import EXPLAIN_LIMIT, Moment, decide_in_database, parameters, statement

SECTION_TITLE = "## Dispatch decision (issue 3)"
DATABASE = "ess_bench_dispatch"
TARGET_MS = 2.0
TARGET_SIZE = 1000
LINEAR = 1.1  # a local exponent above this is worse than linear (noise allowance)
WARMUP = 20
SEED = 20260303

SPECIALTY = "cardiologie"
SUBSPECIALTY = "rythmologie"
OTHER_SUBSPECIALTY = "insuffisance-cardiaque"

# The mix of the pool (fractions of N).
INACTIVE = 0.10
IN_POOL = 0.85
SCHEDULED = 0.10  # half of them on a slot now (mornings), half off (afternoons)
ABSENT_NOW = 0.05
PAST_ABSENCE = 0.10
FULL = 0.15  # at capacity; the others hold fewer open requests than their capacity
CLOSED_PER_SPECIALIST = 3
DECLINES = 5
MORNINGS = (clock_time(8), clock_time(13))
AFTERNOONS = (clock_time(13), clock_time(18))
OPEN_MIX = (Status.ASSIGNED, Status.ACCEPTED, Status.ACCEPTED, Status.AWAITING_INFO)


@dataclass
class Pool:
    """What was loaded, and the pure model's view of the pool for the cross-check."""

    request_id: uuid.UUID
    candidates: list[Candidate]
    open_requests: int
    closed_requests: int
    scheduled: int
    absent: int
    declines: int


@dataclass
class Result:
    backend: str
    size: int
    samples_ms: list[float]
    decision: Decision
    load_s: float
    pool: Pool
    query_ms: float = math.nan
    plan: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return percentile(self.samples_ms, 0.50)

    def p(self, fraction: float) -> float:
        return percentile(self.samples_ms, fraction)

    @property
    def excluded(self) -> int:
        return sum(self.decision.excluded_counts.values())


# --- population --------------------------------------------------------------------------


async def populate(url: str, size: int, context: Any) -> Pool:
    """Load the specialty, N specialists with the mix above, their requests and the request."""
    rng = random.Random(SEED + size)
    sla = context.policy.sla
    created = NOW - timedelta(days=400)
    users: list[dict[str, Any]] = []
    subspecialties: list[dict[str, Any]] = []
    slots: list[dict[str, Any]] = []
    absences: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    candidates: list[Candidate] = []
    requester_id = seeded_uuid(rng)
    users.append(
        user_row(
            user_id=requester_id,
            role=Role.REQUESTER,
            email="demandeur@ess-bench.fr",
            name="Dr Demandeur",
            created_at=created,
        )
    )
    rotations = list(range(size))
    rng.shuffle(rotations)
    references = iter(range(1, 10**6))

    def add_request(status: Status, assignee: uuid.UUID | None, submitted: datetime) -> uuid.UUID:
        request_id = seeded_uuid(rng)
        requests.append(
            request_row(
                request_id=request_id,
                reference=f"TE-{submitted.year}-{next(references):06d}",
                status=status,
                priority=Priority.URGENT if rng.random() < 0.2 else Priority.STANDARD,
                specialty=SPECIALTY,
                subspecialty=SUBSPECIALTY,
                requester_id=requester_id,
                assignee_id=assignee,
                submitted_at=submitted,
                sla=sla,
                patient=rng.randrange(1000),
            )
        )
        return request_id

    scheduled = absent = open_requests = closed_requests = 0
    for index in range(size):
        specialist_id = seeded_uuid(rng)
        active = rng.random() >= INACTIVE
        capacity = rng.randint(3, 8)
        users.append(
            user_row(
                user_id=specialist_id,
                role=Role.SPECIALIST,
                email=f"specialiste{index}@ess-bench.fr",
                name=f"Dr Spécialiste {index:05d}",
                created_at=created,
                active=active,
                specialty_code=SPECIALTY,
                capacity=capacity,
                rotation=rotations[index],
            )
        )
        in_pool = rng.random() < IN_POOL
        covered = [SUBSPECIALTY] if in_pool else [OTHER_SUBSPECIALTY]
        if in_pool and rng.random() < 0.2:
            covered.append(OTHER_SUBSPECIALTY)
        subspecialties += [
            model_row(
                UserSubspecialty,
                user_id=specialist_id,
                specialty_code=SPECIALTY,
                subspecialty_code=code,
            )
            for code in covered
        ]
        on_schedule = True
        if rng.random() < SCHEDULED:
            scheduled += 1
            start, end = MORNINGS if rng.random() < 0.5 else AFTERNOONS
            on_schedule = start <= NOW.astimezone(PARIS).time() < end
            slots += [
                model_row(ScheduleSlot, user_id=specialist_id, weekday=day, start=start, end=end)
                for day in range(5)
            ]
        is_absent = rng.random() < ABSENT_NOW
        if is_absent:
            absent += 1
            absences.append(absence_row(rng, specialist_id, NOW - timedelta(days=2), days=7))
        if rng.random() < PAST_ABSENCE:
            absences.append(absence_row(rng, specialist_id, NOW - timedelta(days=60), days=10))
        held = capacity if rng.random() < FULL else rng.randint(0, capacity - 1)
        for _ in range(held):
            submitted = NOW - timedelta(minutes=rng.uniform(1, 120))
            add_request(rng.choice(OPEN_MIX), specialist_id, submitted)
        for _ in range(CLOSED_PER_SPECIALIST):
            submitted = NOW - timedelta(days=rng.uniform(10, 300))
            add_request(Status.CLOSED, specialist_id, submitted)
        open_requests += held
        closed_requests += CLOSED_PER_SPECIALIST
        candidates.append(
            Candidate(
                id=specialist_id,
                name=f"Dr Spécialiste {index:05d}",
                rotation=rotations[index],
                active=active,
                in_pool=in_pool,
                on_schedule=on_schedule,
                absent=is_absent,
                open_count=held,
                capacity=capacity,
            )
        )
    request_id = add_request(Status.PENDING, None, NOW - timedelta(seconds=1))
    decliners = rng.sample(range(size), min(DECLINES, max(1, size // 4)))
    declines = [
        model_row(
            RequestDecline,
            request_id=request_id,
            specialist_id=candidates[i].id,
            reason="hors de mon champ",
            declined_at=NOW - timedelta(minutes=5 - n),
        )
        for n, i in enumerate(decliners)
    ]
    for i in decliners:
        candidates[i] = dataclasses.replace(candidates[i], declined=True)

    context_db = context.db
    async with context_db.write_engine.begin() as connection:
        await insert_rows(
            connection, Specialty.__table__, [model_row(Specialty, code=SPECIALTY, name="Cardio")]
        )
        await insert_rows(
            connection,
            Subspecialty.__table__,
            [
                model_row(Subspecialty, specialty_code=SPECIALTY, code=code, name=code.title())
                for code in (SUBSPECIALTY, OTHER_SUBSPECIALTY)
            ],
        )
        await insert_rows(connection, USER_TABLE, users)
        await insert_rows(connection, UserSubspecialty.__table__, subspecialties)
        await insert_rows(connection, ScheduleSlot.__table__, slots)
        await insert_rows(connection, Absence.__table__, absences)
        for start in range(0, len(requests), 20_000):
            await insert_rows(connection, Request.__table__, requests[start : start + 20_000])
        await insert_rows(connection, RequestDecline.__table__, declines)
    await analyze(url)
    return Pool(
        request_id=request_id,
        candidates=candidates,
        open_requests=open_requests,
        closed_requests=closed_requests,
        scheduled=scheduled,
        absent=absent,
        declines=len(declines),
    )


def absence_row(
    rng: random.Random, user_id: uuid.UUID, start: datetime, *, days: int
) -> dict[str, Any]:
    return model_row(
        Absence,
        id=seeded_uuid(rng),
        user_id=user_id,
        start_at=start,
        end_at=start + timedelta(days=days),
        reason="congés",
        created_at=start - timedelta(days=30),
    )


# --- measurement -------------------------------------------------------------------------


def check(decision: Decision, expected: Decision, size: int) -> None:
    """The database's decision must be the pure model's on the same facts."""
    got = (decision.chosen, decision.eligible_count, decision.excluded_counts)
    want = (expected.chosen, expected.eligible_count, expected.excluded_counts)
    if got != want:
        raise BenchError(f"pool of {size}: decide_in_database gave {got}, the model {want}")
    if len(decision.excluded) != min(EXPLAIN_LIMIT, sum(expected.excluded_counts.values())):
        raise BenchError(f"pool of {size}: {len(decision.excluded)} excluded listed")


async def time_decisions(
    session: Any, request: Request, moment: Moment, count: int
) -> tuple[list[float], Decision]:
    decision = None
    for _ in range(WARMUP):
        decision = await decide_in_database(session, request, moment, use_subspecialty=True)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        decision = await decide_in_database(session, request, moment, use_subspecialty=True)
        samples.append((time.perf_counter() - started) * 1000)
    assert decision is not None
    return samples, decision


async def measure(backend: str, size: int, args: argparse.Namespace, workdir: Path) -> Result:
    url = await migrated_database(backend, DATABASE, workdir)
    context = bench_context(url, NOW)
    try:
        started = time.perf_counter()
        pool = await populate(url, size, context)
        load_s = time.perf_counter() - started
        moment = Moment.at(NOW, context.policy.calendar, context.policy.zone)
        async with context.db.reading() as session:
            request = await session.get(Request, pool.request_id)
            if request is None:
                raise BenchError("the benchmark request was not loaded")
            samples, decision = await time_decisions(session, request, moment, args.repeat)
            check(decision, decide(pool.candidates), size)
            result = Result(backend, size, samples, decision, load_s, pool)
            # Where the time goes: the decision's one query alone, rows fetched.
            query = statement(True, session.bind.dialect.name)
            values = parameters(request, moment)
            timings = []
            for _ in range(max(10, args.repeat // 4)):
                started = time.perf_counter()
                (await session.execute(query, values)).all()
                timings.append((time.perf_counter() - started) * 1000)
            result.query_ms = percentile(timings, 0.5)
            if args.explain:
                result.plan = await explain(session, query, values)
        return result
    finally:
        await context.db.dispose()


# --- reporting ---------------------------------------------------------------------------

HEADER = (
    "backend",
    "specialists",
    "eligible",
    "excluded",
    "median ms",
    "p90 ms",
    "p99 ms",
    "growth of the median",
    "query alone ms",
    "per member µs",
)


def growth(results: list[Result]) -> dict[int, tuple[float, float]]:
    """For each result after the first of its backend: (time ratio, local exponent)."""
    found = {}
    for previous, current in pairwise(results):
        if previous.backend != current.backend or previous.median <= 0:
            continue
        ratio = current.median / previous.median
        exponent = math.log(ratio) / math.log(current.size / previous.size)
        found[id(current)] = (ratio, exponent)
    return found


def rows(results: list[Result]) -> list[tuple[str, ...]]:
    grown = growth(results)
    table = []
    previous: Result | None = None
    for r in results:
        step = "–"
        if id(r) in grown and previous is not None:
            ratio, exponent = grown[id(r)]
            step = f"×{ratio:.1f} for ×{r.size / previous.size:g} (b = {exponent:.2f})"
        table.append(
            (
                r.backend,
                f"{r.size:,}".replace(",", " "),
                str(r.decision.eligible_count),
                str(r.excluded),
                ms(r.median),
                ms(r.p(0.90)),
                ms(r.p(0.99)),
                step,
                ms(r.query_ms),
                f"{r.median * 1000 / r.size:.2f}",
            )
        )
        previous = r
    return table


def reading(results: list[Result]) -> str:
    """Read the figures against the target, in two to four plain sentences."""
    if not results:
        return ""
    sentences = []
    at_target = [r for r in results if r.size == TARGET_SIZE]
    if at_target:
        verdicts = [
            f"{r.backend} {ms(r.median)} ms median, {ms(r.p(0.99))} ms p99" for r in at_target
        ]
        if all(r.p(0.99) < TARGET_MS for r in at_target):
            verdict = "met"
        elif all(r.median < TARGET_MS for r in at_target):
            verdict = "met at the median but not at p99"
        else:
            verdict = f"not met ({max(r.median for r in at_target) / TARGET_MS:.1f}× over)"
        sentences.append(
            f"At {TARGET_SIZE} specialists ({'; '.join(verdicts)}) the target of under "
            f"{TARGET_MS:g} ms is {verdict}."
        )
    grown = growth(results)
    worse = [r for r in results if id(r) in grown and grown[id(r)][1] > LINEAR]
    if grown and not worse:
        sentences.append(
            "Growth is no worse than linear at every step (local exponent b ≤ "
            f"{LINEAR:g}, where time ∝ N^b between two sizes); small pools are dominated by "
            "the fixed cost of the round trips."
        )
    elif worse:
        steps = "; ".join(f"{r.backend} b = {grown[id(r)][1]:.2f} up to {r.size}" for r in worse)
        sentences.append(f"Growth is worse than linear on some steps ({steps}).")
    largest = max(r.size for r in results)
    per_member = "; ".join(
        f"{r.backend} {r.median * 1000 / r.size:.2f} µs" for r in results if r.size == largest
    )
    share = "; ".join(
        f"{r.backend} {r.query_ms / r.median:.0%}" for r in results if r.size == largest
    )
    sentences.append(
        "The filtering is in SQL: one query judges each member once (a column comparison "
        "for capacity, set look-ups for sub-specialty, schedule, absence and declines) and "
        f"Python reads at most {EXPLAIN_LIMIT + 10} rows. Per member at {largest}: "
        f"{per_member}; the query alone is {share} of a decision."
    )
    return " ".join(sentences[:4])


def plan_notes(results: list[Result]) -> list[str]:
    notes = []
    for r in results:
        if r.plan:
            notes.append(f"--- {r.backend}, {r.size} specialists ---")
            notes += r.plan
    return notes


def section(results: list[Result], args: argparse.Namespace, postgres_version: str | None) -> str:
    facts = machine_facts() + (f", PostgreSQL {postgres_version}" if postgres_version else "")
    pools = "; ".join(
        f"{r.size}: {r.pool.open_requests} open and {r.pool.closed_requests} closed requests, "
        f"{r.pool.scheduled} on a schedule, {r.pool.absent} absent, {r.pool.declines} declines"
        for r in results
        if r.backend == results[0].backend
    )
    parts = [
        SECTION_TITLE,
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {facts}; load average "
        f"{args.load_before:.2f} when it started.",
        "",
        f"Command (from the project root): `{command_line('bench.dispatch')}`",
        "",
        "Times `router.eligibility.decide_in_database(session, request, moment, "
        "use_subspecialty=True)` for one pending request (cardiologie / rythmologie), inside "
        f"one read transaction of the service's `Database`, after {WARMUP} warm-up calls, "
        f"{args.repeat} calls per size. A decision returns the chosen specialist, the eligible "
        f"count and up to {EXPLAIN_LIMIT} excluded specialists with their reasons (for the "
        "history event), all from one query (`router.eligibility.statement`: every member "
        "judged once into a materialised CTE, from which the best by rotation, the first "
        f"{EXPLAIN_LIMIT + 1} excluded by name and each reason's total are read). "
        "Each pool is a fresh, migrated database loaded in bulk with a fixed seed: "
        "~85 % of the specialists cover the sub-specialty, ~10 % are inactive, ~10 % have a "
        "weekly schedule (half of them on a slot at the benchmark instant, a Tuesday 10:30 "
        "in Paris), ~5 % are absent now (~10 % have a past absence), capacities 3 to 8 with "
        f"~15 % at capacity, {CLOSED_PER_SPECIALIST} closed requests each, and a few declines "
        f"of the request ({pools}). PostgreSQL gets `VACUUM ANALYZE` after the load. Every "
        "decision is checked against the pure model `router.decision.decide` on the same "
        "facts. *growth*: ratio of the median to the previous size's, and the local "
        "exponent b (time ∝ N^b; 1 is linear). *query alone*: median of the statement "
        "executed and its rows fetched, without building the decision. *per member*: the "
        "median divided by the pool's size. Open requests are loaded as rows of `request`; "
        "the specialists' `open_count` is kept from them by the database's triggers, as in "
        "the service.",
        "",
        markdown_table(HEADER, rows(results), left=1),
        "",
        reading(results),
        "",
    ]
    return "\n".join(parts)


# --- main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser("bench.dispatch", __doc__)
    parser.add_argument(
        "--sizes", default="10,100,1000,10000", help="pool sizes (10,100,1000,10000)"
    )
    parser.add_argument("--repeat", type=int, default=200, help="timed decisions per size (200)")
    parser.add_argument(
        "--explain", action="store_true", help="print the query plans of each size's queries"
    )
    add_common_options(parser)
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes comma-separated integers")
    if not args.sizes or min(args.sizes) < 1 or args.repeat < 1:
        parser.error("--sizes and --repeat must be positive")
    return args


async def run(args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="ess-bench-") as tmp:
        for backend in args.backends:
            try:
                for size in args.sizes:
                    result = await measure(backend, size, args, Path(tmp))
                    results.append(result)
                    print(
                        f"{backend:<8} {size:>6} specialists: loaded in {result.load_s:.1f} s, "
                        f"{result.decision.eligible_count} eligible, median "
                        f"{ms(result.median)} ms, p99 {ms(result.p(0.99))} ms",
                        flush=True,
                    )
                    for line in plan_notes([result]):
                        print(line)
            finally:
                await asyncio.to_thread(drop_database, backend, DATABASE)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.load_before = os.getloadavg()[0]
    print(
        f"pools of {', '.join(map(str, args.sizes))} specialists on {', '.join(args.backends)}, "
        f"{args.repeat} decisions each",
        flush=True,
    )
    try:
        postgres_version = asyncio.run(_postgres_version()) if "postgres" in args.backends else None
        results = asyncio.run(run(args))
    except (BenchError, OSError, asyncpg.PostgresError, SQLAlchemyError) as exc:
        print(f"bench.dispatch: {exc}", file=sys.stderr)
        return 1
    print()
    print(text_table(HEADER, rows(results), left=1))
    print()
    print(reading(results))
    if args.write_doc:
        write_doc(section(results, args, postgres_version), SECTION_TITLE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
