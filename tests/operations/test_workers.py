"""``serve --workers N`` on PostgreSQL; one process on SQLite; leadership handed over at stop."""

import asyncio
import os
import signal
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from config import Settings
from sla.scheduler import LEADER_LOCK_KEY
from tests.conftest import Ess, asyncpg_dsn, request_payload
from tests.servers import ServerProcess, run_cli, wait_for


def server_env(settings: Settings, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(tmp_path),
        "ESS_SLA__CALENDAR": "24/7",
        **extra,
    }


def workers_of(pid: int) -> list[int]:
    """The worker processes uvicorn spawned (not multiprocessing's resource tracker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return [c for c in found if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


async def leaders(url: str) -> list[int]:
    """The backend pids holding the scheduler's leader lock on this database."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = 0 AND objid = $1",
            LEADER_LOCK_KEY,
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


async def scheduler_state(http: httpx.AsyncClient) -> str:
    return (await http.get("/health/ready")).json().get("checks", {}).get("scheduler", "")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_several_workers_on_sqlite_are_refused_in_french(settings: Settings, tmp_path) -> None:
    result = run_cli(server_env(settings, tmp_path), "serve", "--workers", "2")
    assert result.returncode == 1
    assert result.stderr.startswith("ess-router: plusieurs processus (--workers) demandent")
    assert "PostgreSQL" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_workers_share_the_database_with_one_leader_and_summed_metrics(
    ess: Ess, settings: Settings, tmp_path: Path
) -> None:
    env = server_env(settings, tmp_path, ESS_SLA__TICK_SECONDS="0.5", ESS_LOG_FORMAT="json")
    gp = ess.auth(ess.requesters[0])
    log = tmp_path / "server.log"
    # Two workers each import and build the application: slow on a busy machine.
    server = ServerProcess(env, log, args=("--workers", "2")).start(timeout=120)
    try:
        assert server.process is not None
        workers = workers_of(server.process.pid)
        assert len(workers) == 2
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            await wait_for(lambda: leaders(settings.database_url))
            submitted = await asyncio.gather(
                *(
                    http.post("/api/v1/requests", json=request_payload(), headers=gp)
                    for _ in range(8)
                )
            )
            assert [r.status_code for r in submitted] == [201] * 8
            references = {r.json()["reference"] for r in submitted}
            assert len(references) == 8
            states = {await scheduler_state(http) for _ in range(6)}
            assert states <= {"leader", "follower"}
            assert len(await leaders(settings.database_url)) == 1
            text = (await http.get("/metrics")).text
            for _ in range(4):  # whichever worker answers, no path as sent in its log
                await http.get("/health?access_token=jeton-dans-un-lien")
        families = {f.name: f for f in text_string_to_metric_families(text)}
        created = sum(
            s.value
            for s in families["ess_http_requests"].samples
            if s.name == "ess_http_requests_total"
            and s.labels["path"] == "/api/v1/requests"
            and s.labels["status_code"] == "201"
        )
        assert created == 8  # added up over both workers, whichever answered
    finally:
        server.stop()
    assert not any(alive(pid) for pid in workers)
    written = log.read_text()
    assert '"route": "/api/v1/requests"' in written
    assert "jeton-dans-un-lien" not in written


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_stopping_server_hands_the_tick_over_while_it_finishes_a_request(
    ess: Ess, settings: Settings, tmp_path: Path
) -> None:
    env = server_env(settings, tmp_path, ESS_SLA__TICK_SECONDS="1")
    gp = ess.auth(ess.requesters[0])
    first = ServerProcess(env, tmp_path / "first.log").start(timeout=120)
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=60) as to_first:
            await wait_for(lambda: scheduler_state(to_first), within=30)
            assert await scheduler_state(to_first) == "leader"
            with ServerProcess(env, tmp_path / "second.log") as second:
                async with httpx.AsyncClient(base_url=second.url, timeout=30) as to_second:
                    assert await scheduler_state(to_second) == "follower"
                    request = await to_first.post(
                        "/api/v1/requests", json=request_payload(), headers=gp
                    )
                    rid = request.json()["id"]
                    arrived = asyncio.Event()
                    release = asyncio.Event()

                    async def slow_body():  # type: ignore[no-untyped-def]
                        boundary = "frontiere"
                        yield (
                            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                            f'filename="lent.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
                        ).encode() + b"%PDF-1.4\n"
                        arrived.set()
                        await release.wait()
                        yield os.urandom(32 * 1024) + f"\r\n--{boundary}--\r\n".encode()

                    upload = asyncio.create_task(
                        to_first.post(
                            f"/api/v1/requests/{rid}/attachments",
                            content=slow_body(),
                            headers={
                                **gp,
                                "Content-Type": "multipart/form-data; boundary=frontiere",
                            },
                        )
                    )
                    await arrived.wait()
                    await asyncio.sleep(0.5)
                    assert first.process is not None
                    first.process.send_signal(signal.SIGTERM)
                    # The upload is still in flight, yet the other process leads within a tick.
                    await wait_for(lambda: _leads(to_second), within=5)
                    assert not upload.done()
                    release.set()
                    response = await upload
                    assert response.status_code == 201, response.text
        # Uvicorn ends by raising the signal it caught again (systemd counts it as clean).
        assert first.process.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in (tmp_path / "first.log").read_text()
    finally:
        first.stop()


async def _leads(http: httpx.AsyncClient) -> bool:
    return await scheduler_state(http) == "leader"
