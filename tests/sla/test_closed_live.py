"""Requests sent while the ESS is closed, on a real server and a real SMTP sink.

The opening hours are built around the present moment: the ESS opens a few seconds
from now (until midnight) and is closed until then, so the test watches a real
opening go by.
"""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from config.settings import parse_slot
from sla.calendar import BusinessCalendar
from tests.conftest import PARIS, Ess
from tests.factories import submit
from tests.notifications.smtp import SmtpServer
from tests.servers import ServerProcess, wait_for


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


def opening_in(seconds: int) -> tuple[datetime, dict[int, list[str]]]:
    """An opening ``seconds`` from now, open until midnight; closed before it."""
    opening = (datetime.now(PARIS) + timedelta(seconds=seconds)).replace(microsecond=0)
    hours = {opening.weekday(): [f"{opening:%H:%M:%S}-00:00"]}
    if opening.date() in BusinessCalendar(PARIS).holidays_in(opening.year):
        pytest.skip("a French public holiday: the business calendar stays closed all day")
    return opening, hours


def calendar_of(hours: dict[int, list[str]]) -> BusinessCalendar:
    return BusinessCalendar(
        PARIS, opening_hours={day: [parse_slot(s) for s in slots] for day, slots in hours.items()}
    )


def server_env(
    settings, tmp_path: Path, smtp: SmtpServer, hours: dict[int, list[str]], **extra: str
) -> dict[str, str]:
    return {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(tmp_path),
        "ESS_SLA__CALENDAR": "business",
        "ESS_SLA__OPENING_HOURS": json.dumps(hours),
        "ESS_SLA__TICK_SECONDS": "0.3",
        "ESS_SMTP__HOST": "127.0.0.1",
        "ESS_SMTP__PORT": str(smtp.port),
        "ESS_SMTP__POLL_SECONDS": "0.2",
        **extra,
    }


async def add_empty_specialty(http: httpx.AsyncClient, url: str, ess: Ess) -> None:
    response = await http.post(
        f"{url}/api/v1/specialties",
        json={"code": "dermatologie", "name": "Dermatologie", "subspecialties": []},
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 201, response.text


async def current(http: httpx.AsyncClient, url: str, ess: Ess, request: dict) -> dict:
    response = await http.get(
        f"{url}/api/v1/requests/{request['id']}", headers=ess.auth(ess.coordinator)
    )
    return response.json()


def to(smtp: SmtpServer, address: str) -> list:
    return [m for m in smtp.inbox.messages if address in m["X-Envelope-To"]]


async def test_requests_sent_while_closed_reach_a_specialist_at_opening_without_alarm(
    ess: Ess, settings, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    opening, hours = opening_in(30)
    calendar = calendar_of(hours)
    env = server_env(
        settings,
        tmp_path,
        smtp_server,
        hours,
        ESS_SLA__STANDARD__ACKNOWLEDGE_WITHIN="PT10M",
        ESS_DISPATCH__ALARM_DELAY="1",
    )
    coordinator = ess.coordinator.email
    with ServerProcess(env, tmp_path / "server.log") as server:
        async with httpx.AsyncClient(timeout=10) as http:
            await add_empty_specialty(http, server.url, ess)
            cardiology = [await submit(http, ess, server=server.url) for _ in range(3)]
            # Nobody will be there for dermatology at the opening either.
            nobody = [
                await submit(
                    http, ess, server=server.url, specialty="dermatologie", subspecialty=None
                )
                for _ in range(2)
            ]
            for request in cardiology:
                assert request["status"] == "pending"
                assert datetime.fromisoformat(request["waiting_until"]) == opening
            assert all(r["status"] == "pending" and r["waiting_until"] is None for r in nobody)
            await asyncio.sleep(1.5)  # the sender polls every 0.2 s
            assert datetime.now(PARIS) < opening, "too slow: the ESS opened during submission"
            assert smtp_server.inbox.messages == []  # nobody woken, no alarm

            async def assigned():
                found = [await current(http, server.url, ess, r) for r in cardiology]
                return found if all(r["status"] == "assigned" for r in found) else None

            for request in await wait_for(assigned, within=40):
                assigned_at = datetime.fromisoformat(request["assigned_at"])
                # At the first ticks of the opening (one tick: 0.3 s), the
                # acknowledgement deadline counted from there.
                assert opening <= assigned_at < opening + timedelta(seconds=5)
                assert datetime.fromisoformat(request["acknowledge_due_at"]) == calendar.add(
                    assigned_at, timedelta(minutes=10)
                )
                assert request["waiting_until"] is None

            async def mailed():
                specialists = [m for m in smtp_server.inbox.messages if "Nouvelle" in m["Subject"]]
                alarms = to(smtp_server, coordinator)
                return len(specialists) == 3 and alarms

            await wait_for(mailed)
            await asyncio.sleep(1.5)  # a few more ticks and sender rounds: nothing more
    alarms = to(smtp_server, coordinator)
    assert [m["Subject"] for m in alarms] == ["[ESS] 2 demandes en attente sans spécialiste"]
    body = smtp_server.inbox.text(alarms[0])
    assert all(r["reference"] in body for r in nobody)
    assert not any(r["reference"] in body for r in cardiology)
    assert len(smtp_server.inbox.messages) == 4
    for message in smtp_server.inbox.messages:
        # formatdate(localtime=False) says "-0000": UTC.
        sent_at = parsedate_to_datetime(message["Date"]).replace(tzinfo=UTC)
        assert sent_at >= opening - timedelta(seconds=1)


async def test_at_night_an_urgent_request_goes_to_the_on_call_specialist_at_once(
    ess: Ess, settings, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    opening, hours = opening_in(30 * 60)
    env = server_env(settings, tmp_path, smtp_server, hours, ESS_DISPATCH__ALARM_DELAY="2")
    on_call = ess.specialists[0]
    today = datetime.now(PARIS).weekday()
    with ServerProcess(env, tmp_path / "server.log") as server:
        async with httpx.AsyncClient(timeout=10) as http:
            await add_empty_specialty(http, server.url, ess)
            response = await http.put(
                f"{server.url}/api/v1/users/{on_call.id}/schedule",
                json={"slots": [{"weekday": today, "start": "00:00", "end": "00:00"}]},
                headers=ess.auth(ess.coordinator),
            )
            assert response.status_code == 200, response.text
            request = await submit(http, ess, server=server.url, priority="urgent")
            assert request["status"] == "assigned"
            assert request["assignee_id"] == str(on_call.id)
            # Nobody on call for dermatology: one alarm for both, at once.
            urgent = [
                await submit(
                    http,
                    ess,
                    server=server.url,
                    specialty="dermatologie",
                    subspecialty=None,
                    priority="urgent",
                )
                for _ in range(2)
            ]

            async def mailed():
                return len(smtp_server.inbox.messages) >= 2

            await wait_for(mailed)
            await asyncio.sleep(1.5)
    assert datetime.now(PARIS) < opening
    subjects = sorted(m["Subject"] for m in smtp_server.inbox.messages)
    assert subjects == sorted(
        [
            f"[ESS] Nouvelle demande de téléexpertise {request['reference']}",
            "[ESS] 2 demandes en attente sans spécialiste",
        ]
    )
    assert to(smtp_server, on_call.email)[0]["Subject"].endswith(request["reference"])
    alarm = to(smtp_server, ess.coordinator.email)[0]
    assert all(r["reference"] in smtp_server.inbox.text(alarm) for r in urgent)
