"""The SQLite adapter that runs each statement in one trip to aiosqlite's thread.

Everything the ORM and the service rely on from a DB-API cursor must still hold:
rows, row counts, generated keys, many-row inserts, errors translated and rolled
back. And a statement must really cost a single trip, or the adapter is not in use.
"""

import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
import pytest_asyncio
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from models import Role, ScheduleSlot, Specialty, User
from models.storage import Database
from models.storage.sqlite_driver import OneTripDBAPI
from tests.conftest import T0


@pytest_asyncio.fixture
async def db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "ess.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    yield database
    await database.dispose()


def specialist(email: str) -> User:
    return User(
        email=email,
        name="Dr Essai",
        role=Role.SPECIALIST,
        password_hash="x",
        specialty_code="cardiologie",
        created_at=T0,
    )


async def add_specialty(db: Database) -> None:
    async with db.transaction() as session:
        session.add(Specialty(code="cardiologie", name="Cardiologie"))


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every call aiosqlite sends to a connection's thread."""
    sent: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return sent


async def test_the_service_engines_use_the_one_trip_adapter(db: Database) -> None:
    assert isinstance(db.write_engine.dialect.dbapi, OneTripDBAPI)
    assert isinstance(db.read_engine.dialect.dbapi, OneTripDBAPI)


async def test_a_statement_costs_one_trip_to_the_sqlite_thread(
    db: Database, trips: list[str]
) -> None:
    await add_specialty(db)
    async with db.reading() as session:
        await session.execute(select(func.count()).select_from(User))  # connection checked out
        trips.clear()
        rows = (await session.execute(select(Specialty.code, Specialty.name))).all()
        assert trips == ["run"]
        assert rows == [("cardiologie", "Cardiologie")]


async def test_rows_counts_and_generated_keys_are_those_of_the_cursor(db: Database) -> None:
    await add_specialty(db)
    async with db.transaction() as session:
        users = [specialist(f"dr{i}@ess.test") for i in range(3)]
        session.add_all(users)
        await session.flush()
        slot = ScheduleSlot(user_id=users[0].id, weekday=0, start=T0.time(), end=T0.time())
        session.add(slot)
        await session.flush()
        assert slot.id is not None  # the key SQLite generated came back

        result = await session.execute(
            update(User).where(User.role == Role.SPECIALIST).values(capacity=7)
        )
        assert result.rowcount == 3

        connection = await session.connection()
        many = await connection.exec_driver_sql(
            "UPDATE user SET capacity = ? WHERE email = ?",
            [(1, "dr0@ess.test"), (2, "dr1@ess.test")],
        )
        assert many.rowcount == 2

    async with db.reading() as session:
        capacities = (
            await session.execute(select(User.email, User.capacity).order_by(User.email))
        ).all()
    assert capacities == [("dr0@ess.test", 1), ("dr1@ess.test", 2), ("dr2@ess.test", 7)]


async def test_a_failing_statement_raises_the_usual_error_and_writes_nothing(
    db: Database,
) -> None:
    await add_specialty(db)
    first = specialist("dr@ess.test")
    async with db.transaction() as session:
        session.add(first)

    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            session.add(specialist("autre@ess.test"))
            await session.flush()
            # Same primary key: the UNIQUE failure surfaces as SQLAlchemy's own error.
            await session.execute(
                text(
                    "INSERT INTO user (id, email, name, role, password_hash, active, created_at)"
                    " SELECT id, 'copie@ess.test', name, role, password_hash, active, created_at"
                    " FROM user WHERE email = 'dr@ess.test'"
                )
            )

    async with db.reading() as session:
        emails = (await session.execute(select(User.email).order_by(User.email))).scalars().all()
    assert emails == ["dr@ess.test"]  # the failed transaction left nothing behind

    async with db.transaction() as session:  # and the connection is still usable
        session.add(specialist("suivant@ess.test"))
    async with db.reading() as session:
        found = await session.scalar(select(User.id).where(User.email == "suivant@ess.test"))
    assert isinstance(found, uuid.UUID)


async def test_a_committed_write_costs_begin_statement_and_commit_only(
    db: Database, trips: list[str]
) -> None:
    await add_specialty(db)
    trips.clear()
    async with db.transaction() as session:
        session.add(specialist("dr@ess.test"))
    # BEGIN IMMEDIATE, the INSERT, COMMIT: handing the connection back to the pool
    # sends no ROLLBACK, since there is no transaction left to roll back.
    assert trips == ["run", "run", "commit"]


async def test_a_single_read_is_one_statement_with_no_transaction(
    db: Database, trips: list[str]
) -> None:
    await add_specialty(db)
    async with db.transaction() as session:
        session.add(specialist("dr@ess.test"))
    async with db.single_read() as session:  # the reading connection opened (PRAGMAs…)
        await session.scalar(select(func.count()).select_from(User))
    trips.clear()
    async with db.single_read() as session:
        found = await session.scalar(select(User.name).where(User.email == "dr@ess.test"))
    assert found == "Dr Essai"
    assert trips == ["run"]  # no BEGIN before it, no ROLLBACK after it

    trips.clear()
    async with db.reading() as session:  # several reads: one snapshot, BEGIN … ROLLBACK
        await session.scalar(select(func.count()).select_from(User))
        await session.scalar(select(func.count()).select_from(Specialty))
    assert trips == ["run", "run", "run", "rollback"]
