"""Where one submission's time goes, measured in process (no HTTP): a part of ``bench.submission``.

On a fresh, migrated database seeded as ``bench.encryption`` seeds it (one specialty,
ten specialists nobody ever fills, one requester; the service's settings, a clock
frozen on a Tuesday morning), ``app.services.requests.submit`` runs inside
``Database.transaction()`` (commit and audit chain included) one submission after
the other, with SQLAlchemy's cursor events timing every statement the transaction
sends. The rest of the time is Python: the ORM, the driver, the event loop and the
service's own work (validation was done before, as the API does).
"""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import event

from app.services.requests import submit
from bench.common import NOW, bench_context, migrated_database
from bench.encryption import populate
from models import RequestCreate, Status, User
from security.crypto import KeyRing
from security.vault import Vault

WARMUP = 30


@dataclass
class Breakdown:
    backend: str
    submissions: int
    wall_ms: float
    cpu_ms: float
    statements: float
    statements_ms: float
    by_statement: Counter[str] = field(default_factory=Counter)

    @property
    def python_ms(self) -> float:
        return self.wall_ms - self.statements_ms

    def summary(self) -> str:
        return (
            f"{self.backend}: {self.wall_ms:.2f} ms per submission = {self.statements:.0f} "
            f"statements {self.statements_ms:.2f} ms + Python {self.python_ms:.2f} ms "
            f"(process CPU {self.cpu_ms:.2f} ms)"
        )


async def measure(
    backend: str, database: str, workdir: Path, body: dict[str, object], count: int
) -> Breakdown:
    url = await migrated_database(backend, database, workdir)
    requester_id = await populate(url)
    context = bench_context(url, NOW)
    try:
        async with context.db.reading() as session:
            requester = await session.get(User, requester_id)
        assert requester is not None
        data = RequestCreate.model_validate(body)
        vault = Vault(KeyRing.generate())
        counts: Counter[str] = Counter()
        seconds: Counter[str] = Counter()
        started: dict[int, tuple[float, str]] = {}
        engine = context.db.write_engine.sync_engine

        def before(conn, cursor, statement, parameters, ctx, executemany) -> None:  # type: ignore[no-untyped-def]
            words = statement.split()
            started[id(conn)] = (time.perf_counter(), " ".join(words[:3]) if words else "?")

        def after(conn, cursor, statement, parameters, ctx, executemany) -> None:  # type: ignore[no-untyped-def]
            begun, label = started.pop(id(conn))
            counts[label] += 1
            seconds[label] += time.perf_counter() - begun

        async def submit_one() -> None:
            async with context.db.transaction() as session:
                request = await submit(
                    session, requester, data, now=NOW, policy=context.policy, vault=vault
                )
            if request.status != Status.ASSIGNED:
                raise RuntimeError(f"submission left {request.status}, not assigned")

        for _ in range(WARMUP):
            await submit_one()
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            await submit_one()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        per = 1000 / count
        return Breakdown(
            backend=backend,
            submissions=count,
            wall_ms=wall * per,
            cpu_ms=cpu * per,
            statements=sum(counts.values()) / count,
            statements_ms=sum(seconds.values()) * per,
            by_statement=Counter({k: round(v / count, 2) for k, v in counts.items()}),
        )
    finally:
        await context.db.dispose()


def run(
    backend: str, database: str, workdir: Path, body: dict[str, object], count: int
) -> Breakdown:
    return asyncio.run(measure(backend, database, workdir, body, count))
