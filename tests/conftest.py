"""Shared fixtures: real SQLite files and a real PostgreSQL, a frozen clock, an HTTP client.

Each test gets a fresh database copied from a migrated template (a file copy on
SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL), so tests never see each
other's rows and the schema is always the one the migrations build.
"""

import asyncio
import concurrent.futures
import itertools
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
import pytest_asyncio

from app.auth import issue_token
from app.context import AppContext
from app.main import create_app
from app.services.specialties import create_specialty
from app.services.users import create_user
from config import FrozenClock, Settings
from migrations import upgrade_database
from models import Role, SpecialtyCreate, User, UserCreate
from models.specialty import SubspecialtyCreate
from models.storage import Database

POSTGRES_URL = os.environ.get(
    "ESS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("ESS_REQUIRE_POSTGRES") == "1"
PARIS = ZoneInfo("Europe/Paris")
# A Monday morning in Paris, inside business hours.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=PARIS)
_counter = itertools.count()


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def run_in_thread(coro_fn, *args):  # type: ignore[no-untyped-def]
    """Run an async admin task on its own loop, whatever the test's loop is doing."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro_fn(*args)).result()


async def _admin(*statements: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(POSTGRES_URL), timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_in_thread(upgrade_database, f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """Create a migrated template database, or skip (fail in CI) if PostgreSQL is absent."""
    name = f"ess_tpl_{os.getpid()}"
    try:
        run_in_thread(_admin, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (ESS_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    run_in_thread(upgrade_database, with_database(POSTGRES_URL, name))
    yield name
    run_in_thread(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on the test's backend."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "ess.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"ess_t_{os.getpid()}_{next(_counter)}"
    run_in_thread(_admin, f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    yield with_database(POSTGRES_URL, name)
    run_in_thread(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        secret_key="test-secret-" + "x" * 40,
        base_url="http://ess.test.local",
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest_asyncio.fixture
async def context(settings: Settings, clock: FrozenClock) -> AsyncIterator[AppContext]:
    ctx = AppContext(settings=settings, db=Database(settings.database_url), clock=clock)
    yield ctx
    await ctx.db.dispose()


@pytest_asyncio.fixture
async def client(context: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app, in the test's own event loop.

    The lifespan (scheduler, sender) is not started: tests drive those jobs
    themselves with the frozen clock; real-server tests cover the lifespan.
    """
    app = create_app(context)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ess.test.local") as http:
        yield http


@dataclass
class Ess:
    """A small ESS: one coordinator, cardiology with sub-specialties, specialists, requesters."""

    context: AppContext
    coordinator: User
    specialists: list[User] = field(default_factory=list)
    requesters: list[User] = field(default_factory=list)

    def auth(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(self.context.jwt_auth, user)}"}

    async def add_user(self, **fields: object) -> User:
        data = UserCreate(**fields)  # type: ignore[arg-type]
        async with self.context.db.transaction() as session:
            return await create_user(
                session, data, now=self.context.clock.now(), default_capacity=5
            )


def request_payload(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "specialty": "cardiologie",
        "subspecialty": "rythmologie",
        "priority": "standard",
        "question": "Palpitations depuis trois semaines, ECG joint : FA paroxystique ?",
        "patient": {
            "first_name": "Jeanne",
            "last_name": "Durand",
            "birth_date": "1956-04-12",
            "sex": "F",
            "ins": "256041234567830",
        },
        "consent": True,
    }
    payload.update(overrides)
    return payload


@pytest_asyncio.fixture
async def ess(context: AppContext) -> Ess:
    """Seed the small ESS."""
    async with context.db.transaction() as session:
        await create_specialty(
            session,
            SpecialtyCreate(
                code="cardiologie",
                name="Cardiologie",
                subspecialties=[
                    SubspecialtyCreate(code="rythmologie", name="Rythmologie"),
                    SubspecialtyCreate(code="hta", name="Hypertension artérielle"),
                ],
            ),
        )
    world = Ess(context=context, coordinator=None)  # type: ignore[arg-type]
    world.coordinator = await world.add_user(
        role=Role.COORDINATOR, email="coordination@ess-test.fr", name="Coordination"
    )
    for index, subs in enumerate([["rythmologie"], ["rythmologie", "hta"], ["hta"]]):
        world.specialists.append(
            await world.add_user(
                role=Role.SPECIALIST,
                email=f"specialiste{index}@ess-test.fr",
                name=f"Dr Spécialiste {index}",
                specialty="cardiologie",
                subspecialties=subs,
                capacity=3,
            )
        )
    for index, treating in enumerate([True, False]):
        world.requesters.append(
            await world.add_user(
                role=Role.REQUESTER,
                email=f"demandeur{index}@cabinet-test.fr",
                name=f"Dr Demandeur {index}",
                treating_physician=treating,
            )
        )
    return world


def unique_email() -> str:
    return f"u{uuid.uuid4().hex[:10]}@ess-test.fr"
