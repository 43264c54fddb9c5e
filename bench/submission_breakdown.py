"""Where one submission's time goes, measured in process (no HTTP): a part of ``bench.submission``.

On a fresh, migrated database seeded like the HTTP run (one specialty, N specialists
of ample capacity, one requester), ``app.services.requests.submit`` runs inside
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

from app.context import AppContext
from app.services import requests as service
from app.services.specialties import create_specialty
from app.services.users import create_user
from config import Settings, SystemClock
from migrations import upgrade_database
from models import RequestCreate, Role, SpecialtyCreate, Status, UserCreate
from models.database import Database
from models.specialty import SubspecialtyCreate

WARMUP = 30
SECRET_KEY = "bench-breakdown-secret-key-0123456789abcdef"


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
    url: str, backend: str, body: dict[str, object], specialists: int, count: int, data_dir: Path
) -> Breakdown:
    await upgrade_database(url)
    settings = Settings(
        database_url=url,
        secret_key=SECRET_KEY,
        data_dir=data_dir,
        sla={"calendar": "24/7"},  # type: ignore[arg-type]
    )
    context = AppContext(settings=settings, db=Database(url), clock=SystemClock())
    try:
        now = context.clock.now()
        async with context.db.transaction() as session:
            await create_specialty(
                session,
                SpecialtyCreate(
                    code=str(body["specialty"]),
                    name="Cardiologie",
                    subspecialties=[
                        SubspecialtyCreate(code=str(body["subspecialty"]), name="Rythmologie")
                    ],
                ),
            )
        async with context.db.transaction() as session:
            for index in range(specialists):
                await create_user(
                    session,
                    UserCreate(
                        role=Role.SPECIALIST,
                        email=f"specialiste{index}@bench.ess.fr",
                        name=f"Dr Spécialiste {index:02d}",
                        specialty=str(body["specialty"]),
                        subspecialties=[str(body["subspecialty"])],
                        capacity=1000,
                    ),
                    now=now,
                    default_capacity=5,
                )
            requester = await create_user(
                session,
                UserCreate(
                    role=Role.REQUESTER, email="demandeur@bench.ess.fr", name="Dr Demandeur"
                ),
                now=now,
                default_capacity=5,
            )
        data = RequestCreate.model_validate(body)
        counts: Counter[str] = Counter()
        seconds: Counter[str] = Counter()
        started: dict[int, tuple[float, str]] = {}
        engine = context.db.write_engine.sync_engine

        def before(conn, cursor, statement, parameters, ctx, executemany) -> None:  # type: ignore[no-untyped-def]
            words = statement.split()
            label = " ".join(words[:3]) if words else "?"
            started[id(conn)] = (time.perf_counter(), label)

        def after(conn, cursor, statement, parameters, ctx, executemany) -> None:  # type: ignore[no-untyped-def]
            begun, label = started.pop(id(conn))
            counts[label] += 1
            seconds[label] += time.perf_counter() - begun

        async def submit_one() -> None:
            async with context.db.transaction() as session:
                request = await service.submit(
                    session,
                    requester,
                    data,
                    now=context.clock.now(),
                    policy=context.policy,
                    vault=context.vault,
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
    url: str, backend: str, body: dict[str, object], specialists: int, count: int, data_dir: Path
) -> Breakdown:
    return asyncio.run(measure(url, backend, body, specialists, count, data_dir))
