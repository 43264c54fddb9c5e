"""The floor any submission pays: one Litestar endpoint that inserts one row through SQLModel.

A typical app, nothing tuned: a default async engine (SQLite gets WAL and
``synchronous=NORMAL``, the same durability the service runs with, so the floor
is fair), one session per request, ``add`` and ``commit``. Run it with::

    BENCH_DATABASE_URL=sqlite+aiosqlite:///bare.db \\
        uvicorn --factory bench.bare_app:create_app --port 8001
"""

import os
import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar, post
from litestar.datastructures import State
from litestar.params import JSONBody
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Field, SQLModel

DATABASE_URL_ENV = "BENCH_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./bench-bare.db"


class BenchRow(SQLModel, table=True):
    __tablename__ = "bench_row"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    payload: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class BareCreate(SQLModel):
    payload: str


class BareCreated(SQLModel):
    id: uuid.UUID


def make_engine(url: str) -> AsyncEngine:
    """A default engine; on SQLite, WAL (readers beside the writer) as any serious app sets."""
    engine = create_async_engine(url)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


@post("/bare", status_code=201)
async def insert_one(data: JSONBody[BareCreate], state: State) -> BareCreated:
    """Insert one row and answer 201 with its id."""
    row = BenchRow(payload=data.payload)
    async with state.sessionmaker() as session:
        session.add(row)
        await session.commit()
    return BareCreated(id=row.id)


def create_app(database_url: str | None = None) -> Litestar:
    """Build the bare app on ``database_url`` (default: the ``BENCH_DATABASE_URL`` variable)."""
    url = database_url or os.environ.get(DATABASE_URL_ENV, DEFAULT_DATABASE_URL)
    engine = make_engine(url)

    async def create_table(app: Litestar) -> None:
        async with engine.begin() as connection:
            await connection.run_sync(
                lambda sync: BenchRow.__table__.create(sync, checkfirst=True)  # type: ignore[attr-defined]
            )
        app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)

    async def dispose_engine(_app: Litestar) -> None:
        await engine.dispose()

    return Litestar(
        route_handlers=[insert_one],
        on_startup=[create_table],
        on_shutdown=[dispose_engine],
        openapi_config=None,
    )
