"""``/health`` says the process answers; ``/health/ready`` says it can do its work."""

import asyncio

import asyncpg
import httpx
import pytest

from app.context import AppContext
from app.main import create_app
from config import Settings
from migrations import downgrade_database
from models.storage import Database
from sla.scheduler import LEADER_LOCK_KEY, SlaScheduler
from tests.conftest import asyncpg_dsn
from tests.servers import wait_for


def started_scheduler(context: AppContext, tick_seconds: float = 3600) -> SlaScheduler:
    scheduler = SlaScheduler(context.db, context.clock, context.policy, tick_seconds)
    scheduler.start()
    context.scheduler = scheduler
    return scheduler


async def get_ready(context: AppContext) -> httpx.Response:
    """Ask a fresh application around ``context`` (its lifespan not started) if it is ready."""
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://ess.test.local") as http:
        return await http.get("/health/ready")


async def test_health_only_says_the_process_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_database_migrations_keys_and_leader_are_there(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    scheduler = started_scheduler(context)
    try:
        await wait_for(lambda: asyncio.sleep(0, scheduler.leads))
        response = await client.get("/health/ready")
    finally:
        await scheduler.stop()
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "keys": "ok", "scheduler": "leader"},
    }


async def test_a_process_whose_scheduler_is_stopped_is_not_ready(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title"] == "Service indisponible"
    assert "planificateur des échéances arrêté" in body["detail"]
    assert body["checks"]["scheduler"] == "stopped"
    assert body["checks"]["database"] == "ok"


async def test_a_database_behind_the_code_is_not_ready(
    database_url: str, settings: Settings, context: AppContext
) -> None:
    await downgrade_database(database_url, "0006")
    scheduler = started_scheduler(context)
    try:
        response = await get_ready(context)
    finally:
        await scheduler.stop()
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["migrations"] == "behind"
    assert "migrations non appliquées (base : 0006" in body["detail"]
    assert "ess-router db upgrade" in body["detail"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_missing_keys_and_unreachable_database_are_both_named(
    settings: Settings, clock, tmp_path
) -> None:
    broken = settings.model_copy(
        update={
            "env": "prod",
            "data_key_file": tmp_path / "absent.keys",
            "database_url": f"sqlite+aiosqlite:///{tmp_path}/no-such-folder/ess.db",
        }
    )
    context = AppContext(settings=broken, db=Database(broken.database_url), clock=clock)
    try:
        response = await get_ready(context)
    finally:
        await context.db.dispose()
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "unreachable"
    assert body["checks"]["keys"] == "missing"
    assert "base de données injoignable" in body["detail"]
    assert "clés de chiffrement non chargées" in body["detail"]
    assert str(tmp_path) not in body["detail"]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_on_postgres_a_follower_is_ready_while_another_process_leads(
    database_url: str, client: httpx.AsyncClient, context: AppContext
) -> None:
    other = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await other.execute("SELECT pg_advisory_lock($1)", LEADER_LOCK_KEY)
        scheduler = started_scheduler(context)
        try:
            # The first tick ran and found the lock taken.
            await wait_for(lambda: asyncio.sleep(0.2, scheduler.running))
            follower = await client.get("/health/ready")
            await other.execute("SELECT pg_advisory_unlock($1)", LEADER_LOCK_KEY)
            # Nobody leads until this process's next tick (an hour away here).
            orphan = await client.get("/health/ready")
        finally:
            await scheduler.stop()
    finally:
        await other.close()
    assert follower.status_code == 200, follower.text
    assert follower.json()["checks"]["scheduler"] == "follower"
    assert orphan.status_code == 503
    assert orphan.json()["checks"]["scheduler"] == "no-leader"
    assert "aucun processus ne mène le planificateur" in orphan.json()["detail"]
