"""Engines and transactions for SQLite (embedded default) and PostgreSQL.

SQLite allows one writer at a time. Instead of letting concurrent writers fight
over the file lock (and time out), writes go through a dedicated engine whose
pool holds a single connection: writers queue in the pool, in order, and each
transaction starts with ``BEGIN IMMEDIATE`` so that a second process waits on
``busy_timeout`` instead of failing half-way. Reads use their own pool and WAL
lets them run beside the writer.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool

from models.storage import sqlite_driver

SQLITE_BUSY_TIMEOUT_MS = 30_000
# A failed statement's error never carries its parameters: they hold e-mail addresses,
# password hashes, and would end up in the log with the exception.
ENGINE_OPTIONS: dict[str, Any] = {"hide_parameters": True}
# Execution option of ``Database.single_read`` on SQLite: no BEGIN around the statement.
ONE_STATEMENT = "ess_one_statement"


def _sqlite_engine(url: str, *, writer: bool) -> AsyncEngine:
    # One trip to the SQLite thread per statement instead of four (models.storage.sqlite_driver).
    driver = (
        {"module": sqlite_driver.dbapi()} if make_url(url).drivername == "sqlite+aiosqlite" else {}
    )
    engine = create_async_engine(
        url,
        **driver,
        **ENGINE_OPTIONS,
        poolclass=AsyncAdaptedQueuePool,
        pool_size=1 if writer else 4,
        max_overflow=0,
        pool_timeout=120,
    )
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # 64 MiB of page cache: the dispatcher's pool scans outgrow the 2 MB default.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(ONE_STATEMENT):
            return  # SQLite's own implicit transaction around the one statement suffices
        connection.exec_driver_sql(begin)

    return engine


class Database:
    """Owns the engines; hands out sessions for reading or for one write transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.write_engine = _sqlite_engine(url, writer=True)
            self.read_engine = _sqlite_engine(url, writer=False)
        else:
            engine = create_async_engine(
                url,
                **ENGINE_OPTIONS,
                # Kept open: connections beyond pool_size are closed on return, and a
                # new one prepares every statement again. 20 covers a busy moment of
                # one process (16 concurrent submissions: p99 98-131 ms against
                # 127-143 with 10); three processes stay under PostgreSQL's default
                # of 100 connections.
                pool_size=20,
                max_overflow=10,
                pool_pre_ping=True,
                # Short OLTP queries: JIT compilation of the larger dispatch plans costs
                # more than it saves (measured in docs/benchmarks.md).
                connect_args={"server_settings": {"jit": "off"}},
            )
            self.write_engine = self.read_engine = engine
        self._writer = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False)
        # One statement needs no transaction of its own: no BEGIN and no ROLLBACK
        # around it (two round trips, or trips to SQLite's thread, saved).
        one_statement = (
            {ONE_STATEMENT: True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"}
        )
        self._single_reader = async_sessionmaker(
            self.read_engine, expire_on_commit=False, execution_options=one_statement
        )

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Yield a session whose work is committed on success and rolled back on error."""
        async with self._writer() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """Yield a session for reads only; nothing it does is committed.

        Closing (not rolling back) leaves loaded objects readable after the block.
        """
        async with self._reader() as session:
            yield session

    @asynccontextmanager
    async def single_read(self) -> AsyncIterator[AsyncSession]:
        """Yield a session for exactly one read statement (the authenticated user, say).

        Without a transaction around it, the statement sees the latest committed data
        like any other; two statements here could see two different moments, so
        anything reading more than once uses ``reading()``.
        """
        async with self._single_reader() as session:
            yield session

    async def ping(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
