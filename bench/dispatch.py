"""Dispatch decision time against the size of the specialty pool, on SQLite and PostgreSQL.

For each backend and pool size N: a fresh, migrated database; one specialty with two
sub-specialties and N specialists loaded in bulk with a realistic mix (most cover the
requested sub-specialty, ~10 % inactive, ~10 % on a weekly schedule, ~5 % absent now,
open requests held against capacities, a few declines of the request); one pending
request. ``router.eligibility.decide_in_database`` is timed ``--repeat`` times inside one
read transaction, after a warm-up, and checked against the pure model
``router.decision.decide`` on the same facts.

    python -m bench.dispatch [--sizes 10,100,1000,10000] [--repeat 200] [--explain]
                             [--backends sqlite,postgres] [--write-doc]
"""

import argparse
import dataclasses
import math
import random
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from bench.dataset import USER_TABLE, bulk_load, model_row, request_row, specialty_rows, user_row
from bench.harness import (
    NOW,
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
    ms,
    percentile,
    positive,
    sample_ms,
    seeded_uuid,
    spaced,
)
from models import (
    Absence,
    Priority,
    Request,
    RequestDecline,
    Role,
    ScheduleSlot,
    Status,
    UserSubspecialty,
)
from router.decision import Candidate, Decision, decide
from router.eligibility import EXPLAIN_LIMIT, Moment, decide_in_database, parameters, statement

TITLE = "## Dispatch decision (issue 3)"
DATABASE = "ess_bench_dispatch"
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
HEADER = (
    "backend", "specialists", "eligible", "excluded", "median ms", "p90 ms", "p99 ms",
    "growth of the median", "query alone ms", "per member µs",
)  # fmt: skip


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
    pool: Pool
    query_ms: float = math.nan
    plan: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return percentile(self.samples_ms, 0.50)


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
            reason="out_of_field",
            declined_at=NOW - timedelta(minutes=5 - n),
        )
        for n, i in enumerate(decliners)
    ]
    for i in decliners:
        candidates[i] = dataclasses.replace(candidates[i], declined=True)

    await bulk_load(url, [
        *specialty_rows(SPECIALTY, "Cardio", [SUBSPECIALTY, OTHER_SUBSPECIALTY]),
        (USER_TABLE, users), (UserSubspecialty.__table__, subspecialties),
        (ScheduleSlot.__table__, slots), (Absence.__table__, absences),
        (Request.__table__, requests), (RequestDecline.__table__, declines),
    ])  # fmt: skip
    await after_load(url)
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


async def measure(backend: str, size: int, args: argparse.Namespace, workdir: Path) -> Result:
    url = await migrated_database(backend, DATABASE, workdir)
    context = bench_context(url, NOW)
    try:
        pool = await populate(url, size, context)
        moment = Moment.at(NOW, context.policy.calendar, context.policy.zone)
        async with context.db.reading() as session:
            request = await session.get(Request, pool.request_id)
            if request is None:
                raise BenchError("the benchmark request was not loaded")

            def decision() -> Any:
                return decide_in_database(session, request, moment, use_subspecialty=True)

            samples = await sample_ms(decision, args.repeat, WARMUP)
            result = Result(backend, size, samples, await decision(), pool)
            check(result.decision, decide(pool.candidates), size)
            # Where the time goes: the decision's one query alone, rows fetched.
            query = statement(True, session.bind.dialect.name)
            values = parameters(request, moment)

            async def query_alone() -> None:
                (await session.execute(query, values)).all()

            alone = await sample_ms(query_alone, max(10, args.repeat // 4))
            result.query_ms = percentile(alone, 0.5)
            if args.explain:
                result.plan = await explain(session, query, values)
        return result
    finally:
        await context.db.dispose()


# --- the table ----------------------------------------------------------------------------


def rows(results: list[Result]) -> list[tuple[str, ...]]:
    table = []
    for previous, r in zip([None, *results], results, strict=False):
        step = "–"
        if previous is not None and previous.backend == r.backend and previous.median > 0:
            ratio, scale = r.median / previous.median, r.size / previous.size
            step = f"×{ratio:.1f} for ×{scale:g} (b = {math.log(ratio) / math.log(scale):.2f})"
        table.append((
            r.backend, spaced(r.size), str(r.decision.eligible_count),
            str(sum(r.decision.excluded_counts.values())), ms(r.median),
            ms(percentile(r.samples_ms, 0.90)), ms(percentile(r.samples_ms, 0.99)), step,
            ms(r.query_ms), f"{r.median * 1000 / r.size:.2f}",
        ))  # fmt: skip
    return table


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=int_list, default="10,100,1000,10000", help="pool sizes")
    parser.add_argument("--repeat", type=positive(int), default=200, help="decisions (200)")
    parser.add_argument("--explain", action="store_true", help="print the query plans")


async def run(args: argparse.Namespace, workdir: Path) -> Report:
    results: list[Result] = []
    for backend in args.backends:
        for size in args.sizes:
            results.append(await measure(backend, size, args, workdir))
            print(" ".join(rows(results)[-1]), *results[-1].plan, sep="\n", flush=True)
    pools = "; ".join(
        f"{r.size}: {r.pool.open_requests} open and {r.pool.closed_requests} closed requests, "
        f"{r.pool.scheduled} on a schedule, {r.pool.absent} absent, {r.pool.declines} declines"
        for r in results
        if r.backend == results[0].backend
    )
    return Report([Table(HEADER, rows(results))], [f"Pools loaded: {pools}."])


if __name__ == "__main__":
    sys.exit(main("bench.dispatch", __doc__, TITLE, options, run))
