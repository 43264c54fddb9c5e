"""Alembic migrations, applied by the service itself."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from models.storage.database import ENGINE_OPTIONS

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def upgrade_database(url: str) -> None:
    """Apply every pending migration to the database at ``url``."""
    engine = create_async_engine(url, **ENGINE_OPTIONS)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_with)
    finally:
        await engine.dispose()


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
