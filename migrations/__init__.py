"""Alembic migrations, applied by the service itself."""

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from models.storage.database import ENGINE_OPTIONS

MIGRATIONS_DIR = Path(__file__).resolve().parent
# One migrator at a time per database: two processes starting together on an empty
# PostgreSQL would otherwise both create the same tables and types, and one would die.
MIGRATION_LOCK_KEY = 0x455353_4D4947  # "ESS" "MIG"
# How long a migrator waits for another one on SQLite (a long migration holds the file).
MIGRATION_WAIT_MS = 600_000


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def upgrade_database(url: str) -> None:
    """Apply every pending migration to the database at ``url``, one migrator at a time."""
    engine = create_async_engine(url, **ENGINE_OPTIONS)
    if engine.dialect.name == "sqlite":
        _one_sqlite_writer(engine)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Held until this transaction ends; the next migrator then finds nothing to do.
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            await connection.run_sync(_upgrade_with)
    finally:
        await engine.dispose()


def _one_sqlite_writer(engine: AsyncEngine) -> None:
    """Run the whole upgrade in one BEGIN IMMEDIATE transaction: others wait their turn."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver would otherwise run each DDL statement in its own transaction.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute(f"PRAGMA busy_timeout={MIGRATION_WAIT_MS}")

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _upgrade_with(connection) -> None:  # type: ignore[no-untyped-def]
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def downgrade_database(url: str, revision: str) -> None:
    """Undo the migrations after ``revision`` on the database at ``url`` (tests, rollbacks)."""
    engine = create_async_engine(url, **ENGINE_OPTIONS)

    def downgrade(connection) -> None:  # type: ignore[no-untyped-def]
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
    finally:
        await engine.dispose()
