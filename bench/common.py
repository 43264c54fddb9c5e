"""What the in-process benchmarks (dispatch, SLA tick) share: databases, statistics, tables, plans.

Machine facts, the PostgreSQL admin connection, the command line and the writing of
``docs/benchmarks.md`` come from ``bench.submission``; this module adds what a benchmark
that calls the service's functions directly (no HTTP) needs on top.
"""

import asyncio
import contextlib
import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from app.context import AppContext
from bench.submission import drop_postgres, fresh_database
from config import FrozenClock, Settings
from migrations import upgrade_database
from models.storage import Database

BENCH_SECRET_KEY = "bench-secret-key-" + "k" * 48
PARIS = ZoneInfo("Europe/Paris")
# The benchmarks' "now": a Tuesday, 10:30 in Paris, when the business calendar is open.
NOW = datetime(2026, 3, 3, 10, 30, tzinfo=PARIS).astimezone(UTC)


# --- databases ---------------------------------------------------------------------------


async def migrated_database(backend: str, name: str, workdir: Path) -> str:
    """A fresh database (SQLite file in ``workdir`` or PostgreSQL ``name``), migrated to head."""
    # bench.submission's helpers run their own event loop: give them a thread.
    url = await asyncio.to_thread(fresh_database, backend, name, workdir)
    await upgrade_database(url)
    return url


def drop_database(backend: str, name: str) -> None:
    """Drop a scratch PostgreSQL database (call it outside the event loop).

    A database left behind is not the run's failure: errors are swallowed, and the
    next run drops it before creating it again.
    """
    if backend == "postgres":
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            drop_postgres(name)


def bench_context(url: str, now: datetime) -> AppContext:
    """The service's context on ``url`` with the default settings and a clock frozen at ``now``."""
    settings = Settings(database_url=url, secret_key=BENCH_SECRET_KEY)
    return AppContext(settings=settings, db=Database(url), clock=FrozenClock(now))


async def analyze(url: str) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk load (autovacuum would, later)."""
    if not url.startswith("postgresql"):
        return
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()


async def settle(url: str) -> None:
    """After a bulk load, write it out so the timed phase does not pay for it.

    PostgreSQL: ``CHECKPOINT`` (no checkpoint of the load's WAL competing with the
    commits being timed); SQLite: ``PRAGMA wal_checkpoint(TRUNCATE)`` (an empty WAL).
    """
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    statement = "CHECKPOINT" if url.startswith("postgresql") else "PRAGMA wal_checkpoint(TRUNCATE)"
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def seeded_uuid(rng: Any) -> uuid.UUID:
    """A version-4 UUID drawn from ``rng`` (``random.Random``), so a seeded run is repeatable."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)


# --- query plans -------------------------------------------------------------------------


class Explain(Executable, ClauseElement):
    """``EXPLAIN`` (SQLite: ``EXPLAIN QUERY PLAN``; PostgreSQL: with ANALYZE) of a statement.

    Compiled by the dialect with the statement's own bound parameters, so the plan is the
    one for the exact query the service sends.
    """

    inherit_cache = False

    def __init__(self, statement: Executable, *, analyze: bool) -> None:
        self.statement = statement
        self.analyze = analyze


def _inner(element: Explain, compiler: Any, **kw: Any) -> str:
    sql = compiler.process(element.statement, **kw)
    # The rows are the plan, not the statement's columns: no result processing.
    compiler._result_columns = []
    return str(sql)


@compiles(Explain, "sqlite")
def _explain_sqlite(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN QUERY PLAN " + _inner(element, compiler, **kw)


@compiles(Explain, "postgresql")
def _explain_postgres(element: Explain, compiler: Any, **kw: Any) -> str:
    options = "ANALYZE, BUFFERS, " if element.analyze else ""
    return f"EXPLAIN ({options}COSTS OFF) " + _inner(element, compiler, **kw)


async def explain(
    session: AsyncSession, statement: Executable, params: dict[str, Any] | None = None
) -> list[str]:
    """The plan of ``statement`` as text lines (PostgreSQL: executed, with actual times)."""
    rows = (await session.execute(Explain(statement, analyze=True), params or {})).all()
    if session.bind.dialect.name == "sqlite":
        depth: dict[int, int] = {0: -1}
        lines = []
        for node, parent, _unused, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + str(detail))
        return lines
    return [str(row[0]) for row in rows]


# --- statistics and tables ---------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (as ``bench.submission``); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1) -> str:
    """A plain-text table; the first ``left`` columns are left-aligned, the rest right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(w) if i < left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1) -> str:
    align = ["---" if i < left else "--:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def ms(value: float) -> str:
    """Milliseconds with the precision that matters at that magnitude."""
    if math.isnan(value):
        return "–"
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:.0f}"
