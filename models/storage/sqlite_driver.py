"""SQLAlchemy's aiosqlite adapter, with one trip to the SQLite thread per statement.

aiosqlite runs each SQLite connection in its own thread; every call from the event
loop is a trip there and back (a queue put, a thread wake-up, a loop wake-up). The
stock adapter makes four trips per statement: open a cursor, execute, fetch the
rows, close the cursor. Here the cursor is opened, executed, read and closed in
*one* function run on the connection's thread, so a statement costs one trip. A
submission sends about a dozen statements: this saves a third of its time on
SQLite (measured in ``docs/benchmarks.md``).

A rollback with no transaction open (the pool's reset of a connection that just
committed) makes no trip at all: it would do nothing. Everything else about
connections, transactions, error translation and pooling is SQLAlchemy's and
aiosqlite's own; ``Database`` passes this module to
``create_async_engine(module=...)`` in place of the one the dialect would import.
It uses two private names, which the version ranges in ``pyproject.toml`` pin:
aiosqlite's ``Connection._execute`` (run a function on the connection's thread,
as all of aiosqlite's own methods do) and the cursor hooks of SQLAlchemy's
``AsyncAdapt_dbapi_cursor``. ``tests/models/test_sqlite_driver.py`` checks both.
"""

import collections
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)


class Outcome:
    """What a DB-API cursor tells after a statement, kept once its cursor is closed."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self) -> None:
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    def keep(self, cursor: sqlite3.Cursor) -> None:
        self.description = cursor.description
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid

    def close(self) -> None:
        """Nothing to release: the real cursor was closed on the SQLite thread."""


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statements each run in one call on the connection's thread."""

    __slots__ = ()
    # Nothing to await on close: the real cursor never leaves the SQLite thread.
    _awaitable_cursor_close = False

    def _make_new_cursor(self, connection: Any) -> Any:
        return Outcome()

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        def execute(cursor: sqlite3.Cursor) -> list[Any] | None:
            if parameters is None:
                cursor.execute(operation)
            else:
                cursor.execute(operation, parameters)
            return cursor.fetchall() if cursor.description else None

        rows = await self._one_trip(execute)
        if rows is not None:
            self._rows = collections.deque(rows)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Sequence[Any]) -> None:
        await self._one_trip(lambda cursor: cursor.executemany(operation, seq_of_parameters))

    async def _one_trip(self, work: Callable[[sqlite3.Cursor], Any]) -> Any:
        """Open a cursor, do ``work`` with it, keep what it tells, close it: one call."""
        outcome: Outcome = self._cursor
        driver: aiosqlite.Connection = self._connection

        def run() -> Any:
            cursor = driver._conn.cursor()
            try:
                result = work(cursor)
                outcome.keep(cursor)
                return result
            finally:
                cursor.close()

        async with self._adapt_connection._execute_mutex:
            return await driver._execute(run)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor

    def rollback(self) -> None:
        # Outside a transaction a rollback does nothing (sqlite3's own rollback()
        # checks the same flag before sending anything), so skip the trip. The pool
        # rolls back every connection handed back, most of them just committed.
        raw = self._connection._connection
        if raw is not None and not raw.in_transaction:
            return
        super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DB-API module SQLAlchemy's aiosqlite dialect expects, handing out one-trip cursors."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        stock = super().connect(*arg, **kw)
        return OneTripConnection(self, stock._connection)


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)
