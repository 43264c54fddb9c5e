"""Several processes migrating one empty database at once: each waits its turn, all succeed."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL, _admin, run_in_thread, with_database

BIN = Path(sys.executable).parent / "ess-router"


@pytest.fixture
def empty_databases(backend: str, tmp_path: Path) -> Iterator[list[str]]:
    """Three empty databases (never migrated) on the test's backend."""
    if backend == "sqlite":
        yield [f"sqlite+aiosqlite:///{tmp_path / f'empty{i}.db'}" for i in range(3)]
        return
    names = [f"ess_empty_{os.getpid()}_{i}" for i in range(3)]
    for name in names:
        run_in_thread(_admin, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    yield [with_database(POSTGRES_URL, name) for name in names]
    for name in names:
        run_in_thread(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_three_upgrades_at_once_on_an_empty_database_all_succeed(
    empty_databases: list[str],
) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ESS_")}
    for url in empty_databases:
        env = {**base, "ESS_DATABASE_URL": url}
        processes = [
            subprocess.Popen(
                [str(BIN), "db", "upgrade"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        outcomes = [(p.wait(timeout=300), *p.communicate()) for p in processes]
        for code, out, err in outcomes:
            assert code == 0, err
            assert "Base de données à jour." in out
