"""The scheduler on real running servers: real time, a restart, two processes."""

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Ess
from tests.factories import submit
from tests.notifications.smtp import SmtpServer
from tests.servers import ServerProcess


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


def server_env(settings, tmp_path: Path, smtp: SmtpServer, **extra: str) -> dict[str, str]:
    return {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(tmp_path),
        "ESS_SLA__CALENDAR": "24/7",
        "ESS_SLA__TICK_SECONDS": "0.2",
        "ESS_SMTP__HOST": "127.0.0.1",
        "ESS_SMTP__PORT": str(smtp.port),
        "ESS_SMTP__POLL_SECONDS": "0.2",
        **extra,
    }


async def wait_for(predicate, within: float = 15.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def history(http: httpx.AsyncClient, url: str, ess: Ess, rid: str) -> list[dict]:
    response = await http.get(
        f"{url}/api/v1/requests/{rid}/events", headers=ess.auth(ess.coordinator)
    )
    return response.json()


def breaches(events: list[dict], deadline: str) -> list[dict]:
    return [e for e in events if e["kind"] == "sla_breach" and e["detail"]["deadline"] == deadline]


async def test_two_second_acknowledgement_deadline_in_real_time(
    ess: Ess, settings, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = server_env(settings, tmp_path, smtp_server, ESS_SLA__STANDARD__ACKNOWLEDGE_WITHIN="2")
    with ServerProcess(env, tmp_path / "server.log") as server:
        async with httpx.AsyncClient(timeout=10) as http:
            request = await submit(http, ess, server=server.url)
            first = request["assignee_id"]

            async def escalated():
                events = await history(http, server.url, ess, request["id"])
                return events if breaches(events, "acknowledge") else None

            events = await wait_for(escalated)
            kinds = [e["kind"] for e in events]
            assert kinds.count("sla_warning") == 1
            assert kinds[-3:] == ["sla_breach", "declined", "assigned"]
            assert events[-1]["assignee_id"] not in (None, first)

            async def mailed():
                subjects = [m["Subject"] for m in smtp_server.inbox.messages]
                return subjects if any("réattribuée" in s for s in subjects) else None

            subjects = await wait_for(mailed)
            assert f"[ESS] Demande {request['reference']} réattribuée" in subjects


async def test_a_deadline_passed_while_stopped_fires_once_after_restart(
    ess: Ess, settings, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = server_env(settings, tmp_path, smtp_server, ESS_SLA__STANDARD__ACKNOWLEDGE_WITHIN="3")
    async with httpx.AsyncClient(timeout=10) as http:
        with ServerProcess(env, tmp_path / "before.log") as server:
            request = await submit(http, ess, server=server.url)
        await asyncio.sleep(3.5)  # the deadline passes while nothing runs
        with ServerProcess(env, tmp_path / "after.log") as server:

            async def escalated():
                events = await history(http, server.url, ess, request["id"])
                return events if breaches(events, "acknowledge") else None

            events = await wait_for(escalated)
            # Caught up at the first tick: the breach once, its overtaken warning never.
            assert [e["kind"] for e in events].count("sla_warning") == 0
            await asyncio.sleep(1.0)
            events = await history(http, server.url, ess, request["id"])
            assert len(breaches(events, "acknowledge")) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_processes_fire_one_breach_and_send_one_email(
    ess: Ess, settings, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = server_env(
        settings,
        tmp_path,
        smtp_server,
        ESS_SLA__STANDARD__ANSWER_WITHIN="3",
        ESS_SLA__STANDARD__ACKNOWLEDGE_WITHIN="600",
    )
    one = ServerProcess(env, tmp_path / "one.log").start()
    two = ServerProcess(env, tmp_path / "two.log").start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            request = await submit(http, ess, server=one.url)
            holder = next(s for s in ess.specialists if str(s.id) == request["assignee_id"])
            response = await http.post(
                f"{two.url}/api/v1/requests/{request['id']}/accept", headers=ess.auth(holder)
            )
            assert response.status_code == 200

            async def breached():
                events = await history(http, two.url, ess, request["id"])
                return events if breaches(events, "answer") else None

            await wait_for(breached)
            await asyncio.sleep(1.5)  # let both processes tick and send a few more times
            events = await history(http, one.url, ess, request["id"])
            assert len(breaches(events, "answer")) == 1
            assert [e["kind"] for e in events].count("sla_warning") == 1
        subjects = [m["Subject"] for m in smtp_server.inbox.messages]
        assert subjects.count(f"[ESS] Délai dépassé – demande {request['reference']}") == 1
        assert subjects.count(f"[ESS] Délai bientôt atteint – demande {request['reference']}") == 1
    finally:
        one.stop()
        two.stop()
