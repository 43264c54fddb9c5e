"""Deadlines and their firing rules, driven by a frozen clock through the API and the tick."""

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from models import OutboxMessage, Request, RequestEvent
from sla.engine import fire_due
from tests.conftest import Ess
from tests.factories import paris, submit


async def read(client, ess: Ess, rid: str) -> dict:
    return (await client.get(f"/api/v1/requests/{rid}", headers=ess.auth(ess.coordinator))).json()


async def events(client, ess: Ess, rid: str) -> list[dict]:
    return (
        await client.get(f"/api/v1/requests/{rid}/events", headers=ess.auth(ess.coordinator))
    ).json()


async def tick(ess: Ess, clock) -> int:
    return await fire_due(ess.context.db, now=clock.now(), policy=ess.context.policy)


async def outbox(ess: Ess) -> list[OutboxMessage]:
    async with ess.context.db.reading() as session:
        return list(
            (
                await session.execute(select(OutboxMessage).order_by(OutboxMessage.created_at))
            ).scalars()
        )


def specialist(ess: Ess, user_id: str):
    return next(s for s in ess.specialists if str(s.id) == user_id)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_deadlines_in_business_time(client, ess: Ess, clock) -> None:
    # Monday 2 March 2026, 09:00: 8 business hours to acknowledge, 24 to answer.
    request = await submit(client, ess)
    assert at(request["acknowledge_due_at"]) == paris(2026, 3, 2, 17, 0)
    # Monday 9 h + Tuesday 10 h + Wednesday 5 h.
    assert at(request["answer_due_at"]) == paris(2026, 3, 4, 13, 0)
    assert request["sla_state"] == "ok"
    urgent = await submit(client, ess, priority="urgent")
    assert at(urgent["acknowledge_due_at"]) == paris(2026, 3, 2, 11, 0)
    assert at(urgent["answer_due_at"]) == paris(2026, 3, 2, 17, 0)


async def test_friday_evening_submission_rolls_to_monday(client, ess: Ess, clock) -> None:
    for user in ess.specialists:  # on duty whatever the hour, to isolate the calendar
        await client.put(
            f"/api/v1/users/{user.id}/schedule",
            json={"slots": [{"weekday": d, "start": "00:00", "end": "00:00"} for d in range(7)]},
            headers=ess.auth(ess.coordinator),
        )
    clock.set(paris(2026, 3, 6, 17, 30))
    request = await submit(client, ess, priority="urgent")
    assert request["status"] == "assigned"
    # 30 minutes on Friday, then 1 h 30 on Monday morning.
    assert at(request["acknowledge_due_at"]) == paris(2026, 3, 9, 9, 30)


async def test_acknowledgement_warning_fires_once(client, ess: Ess, clock) -> None:
    request = await submit(client, ess)
    clock.set(paris(2026, 3, 2, 14, 59))
    assert await tick(ess, clock) == 0
    clock.set(paris(2026, 3, 2, 15, 0))  # 75 % of 8 business hours
    assert await tick(ess, clock) == 1
    assert await tick(ess, clock) == 0
    clock.advance(timedelta(minutes=30))
    assert await tick(ess, clock) == 0
    current = await read(client, ess, request["id"])
    assert current["sla_state"] == "warning"
    warnings = [e for e in await events(client, ess, request["id"]) if e["kind"] == "sla_warning"]
    assert len(warnings) == 1
    assert warnings[0]["detail"]["deadline"] == "acknowledge"
    sent = [m for m in await outbox(ess) if m.kind == "sla_warning"]
    assert [str(m.recipient_id) for m in sent] == [request["assignee_id"]]
    # Accepting in time clears the acknowledgement warning.
    holder = specialist(ess, request["assignee_id"])
    accepted = (
        await client.post(f"/api/v1/requests/{request['id']}/accept", headers=ess.auth(holder))
    ).json()
    assert accepted["sla_state"] == "ok"


async def test_missed_acknowledgement_redispatches_and_tells_the_coordinator(
    client, ess: Ess, clock
) -> None:
    request = await submit(client, ess)
    silent = request["assignee_id"]
    clock.set(paris(2026, 3, 2, 17, 0))
    assert await tick(ess, clock) == 1  # the warning is overtaken: only the breach
    current = await read(client, ess, request["id"])
    assert current["status"] == "assigned"
    assert current["assignee_id"] not in (None, silent)
    # The new assignee has a fresh acknowledgement deadline.
    assert at(current["acknowledge_due_at"]) == paris(2026, 3, 3, 15, 0)
    kinds = [e["kind"] for e in await events(client, ess, request["id"])]
    assert kinds[-3:] == ["sla_breach", "declined", "assigned"]
    assert "sla_warning" not in kinds
    history = await events(client, ess, request["id"])
    assert history[-2]["detail"]["reason"] == "no_acknowledgement"
    assert history[-2]["detail"]["label"] == "pas d'accusé de réception dans le délai"
    notices = [(m.kind, m.recipient_id) for m in await outbox(ess)]
    assert ("ack_missed", ess.coordinator.id) in notices
    assert ("sla_warning", silent) not in [(k, str(r)) for k, r in notices]
    # The silent specialist never receives it back.
    response = await client.get(
        f"/api/v1/requests/{request['id']}", headers=ess.auth(specialist(ess, silent))
    )
    assert response.status_code == 404


async def test_answer_breach_marks_the_request_and_alerts(client, ess: Ess, clock) -> None:
    request = await submit(client, ess, priority="urgent")
    holder = specialist(ess, request["assignee_id"])
    await client.post(f"/api/v1/requests/{request['id']}/accept", headers=ess.auth(holder))
    clock.set(paris(2026, 3, 2, 15, 0))  # 75 % of 8 h from 09:00
    assert await tick(ess, clock) == 1
    alerts = (
        await client.get("/api/v1/sla/alerts?state=warning", headers=ess.auth(ess.coordinator))
    ).json()
    assert [(a["reference"], a["deadline"], a["level"]) for a in alerts] == [
        (request["reference"], "answer", "warning")
    ]
    clock.set(paris(2026, 3, 2, 17, 0))
    assert await tick(ess, clock) == 1
    current = await read(client, ess, request["id"])
    assert current["sla_state"] == "breached"
    alerts = (
        await client.get("/api/v1/sla/alerts?state=breached", headers=ess.auth(ess.coordinator))
    ).json()
    assert [a["request_id"] for a in alerts] == [request["id"]]
    assert (
        await client.get("/api/v1/sla/alerts?state=warning", headers=ess.auth(ess.coordinator))
    ).json() == []
    coordinator_mail = [m for m in await outbox(ess) if m.kind == "sla_breach"]
    assert [m.recipient_id for m in coordinator_mail] == [ess.coordinator.id]
    # Answering late keeps the record of the breach but takes it off the open alerts.
    await client.post(
        f"/api/v1/requests/{request['id']}/answer",
        json={"answer": "Avis.", "outcome": "advice"},
        headers=ess.auth(holder),
    )
    assert (await client.get("/api/v1/sla/alerts", headers=ess.auth(ess.coordinator))).json() == []


async def test_answer_clock_pauses_while_awaiting_information(client, ess: Ess, clock) -> None:
    request = await submit(client, ess, priority="urgent")  # answer due 17:00 the same day
    rid = request["id"]
    holder = specialist(ess, request["assignee_id"])
    await client.post(f"/api/v1/requests/{rid}/accept", headers=ess.auth(holder))
    clock.set(paris(2026, 3, 2, 11, 0))  # 6 business hours left
    response = await client.post(
        f"/api/v1/requests/{rid}/messages",
        json={"body": "Pouvez-vous joindre l'ECG ?", "request_info": True},
        headers=ess.auth(holder),
    )
    assert response.status_code == 201, response.text
    paused = await read(client, ess, rid)
    assert paused["status"] == "awaiting_info"
    assert paused["answer_due_at"] is None
    # The original deadline passes while waiting: nothing fires.
    clock.set(paris(2026, 3, 3, 10, 0))
    assert await tick(ess, clock) == 0
    response = await client.post(
        f"/api/v1/requests/{rid}/messages",
        json={"body": "ECG envoyé."},
        headers=ess.auth(ess.requesters[0]),
    )
    assert response.status_code == 201
    resumed = await read(client, ess, rid)
    assert resumed["status"] == "accepted"
    # Six business hours from Tuesday 10:00.
    assert at(resumed["answer_due_at"]) == paris(2026, 3, 3, 16, 0)
    kinds = [e["kind"] for e in await events(client, ess, rid)]
    assert kinds[-2:] == ["info_requested", "info_provided"]
    mails = [(m.kind, m.recipient_id) for m in await outbox(ess)]
    assert ("info_requested", ess.requesters[0].id) in mails
    assert ("new_message", holder.id) in mails


async def test_a_second_scanner_fires_nothing_twice(client, ess: Ess, clock) -> None:
    request = await submit(client, ess)
    clock.set(paris(2026, 3, 2, 15, 0))
    assert await tick(ess, clock) == 1
    before = len(await outbox(ess))
    # Another process that had read the request before the first firing committed
    # would see it as not yet fired: replay that by resetting the scan columns.
    async with ess.context.db.transaction() as session:
        await session.execute(update(Request).values(acknowledge_level=0, sla_next_at=clock.now()))
    assert await tick(ess, clock) == 0
    assert len(await outbox(ess)) == before
    async with ess.context.db.reading() as session:
        firings = (
            (
                await session.execute(
                    select(RequestEvent).where(
                        RequestEvent.request_id == uuid.UUID(request["id"]),
                        RequestEvent.sla_level.is_not(None),
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(firings) == 1


async def test_pending_request_breaches_to_the_coordinator(client, ess: Ess, clock) -> None:
    for user in ess.specialists:
        await client.patch(
            f"/api/v1/users/{user.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
        )
    request = await submit(client, ess, priority="urgent")
    assert request["status"] == "pending"
    clock.set(paris(2026, 3, 2, 17, 0))
    assert await tick(ess, clock) == 1  # the breach; its warning was overtaken
    assert (await read(client, ess, request["id"]))["sla_state"] == "breached"


@pytest.mark.parametrize("state", ["ok", "perdu"])
async def test_alerts_filter_is_validated(client, ess: Ess, state: str) -> None:
    response = await client.get(
        f"/api/v1/sla/alerts?state={state}", headers=ess.auth(ess.coordinator)
    )
    assert response.status_code in (400, 422)


async def test_alerts_are_the_coordinators(client, ess: Ess) -> None:
    response = await client.get("/api/v1/sla/alerts", headers=ess.auth(ess.specialists[0]))
    assert response.status_code == 403
