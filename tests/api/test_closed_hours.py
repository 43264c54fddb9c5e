"""Requests sent while the ESS is closed, on the frozen clock: wait quietly, alarm once.

The default calendar: Monday to Friday 08:00-18:00, Paris. Friday 6 March 2026 at
19:00 is closed; the next opening is Monday 9 March at 08:00.
"""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from models import OutboxMessage, Role
from router.decision import Alarm, pending_alarm
from sla.scheduler import SlaScheduler
from tests.conftest import Ess
from tests.factories import paris, submit

FRIDAY_EVENING = paris(2026, 3, 6, 19)
OPENING = paris(2026, 3, 9, 8)


def at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def outbox(ess: Ess) -> list[OutboxMessage]:
    async with ess.context.db.reading() as session:
        return list(
            (await session.execute(select(OutboxMessage).order_by(OutboxMessage.created_at)))
            .scalars()
            .all()
        )


async def read(client, ess: Ess, request: dict, user=None) -> dict:
    response = await client.get(
        f"/api/v1/requests/{request['id']}", headers=ess.auth(user or ess.coordinator)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def events(client, ess: Ess, request: dict, user=None) -> list[dict]:
    response = await client.get(
        f"/api/v1/requests/{request['id']}/events", headers=ess.auth(user or ess.coordinator)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def tick(ess: Ess, clock, when: datetime) -> None:
    clock.set(when)
    await SlaScheduler(ess.context.db, clock, ess.context.policy, tick_seconds=30).tick()


async def away(client, ess: Ess, user, start: datetime, end: datetime) -> None:
    response = await client.post(
        f"/api/v1/users/{user.id}/absences",
        json={"start": start.isoformat(), "end": end.isoformat(), "reason": "Congrès"},
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("closed", "waiting", "urgent", "was_waiting", "retry", "alarm"),
    [
        # Open and nobody eligible: the coordinator's e-mail at once, as always.
        (False, False, False, False, False, Alarm.NOW),
        (False, False, True, False, False, Alarm.NOW),
        # Closed, someone at the opening: no alarm; urgent: nobody on call, one alarm soon.
        (True, True, False, False, False, Alarm.NONE),
        (True, True, True, False, False, Alarm.DIGEST),
        # Closed, nobody at the opening either: told at the opening; urgent: soon.
        (True, False, False, False, False, Alarm.DIGEST_AT_OPENING),
        (True, False, True, False, False, Alarm.DIGEST),
        # Retries: silent, unless a promised opening will find nobody after all.
        (True, True, False, True, True, Alarm.NONE),
        (True, False, False, False, True, Alarm.NONE),
        (False, False, False, False, True, Alarm.NONE),
        (True, True, False, False, True, Alarm.NONE),
        (True, False, False, True, True, Alarm.DIGEST_AT_OPENING),
        (True, False, True, True, True, Alarm.DIGEST),
        (False, False, False, True, True, Alarm.DIGEST),
    ],
)
def test_who_is_alarmed_for_a_request_nobody_can_take_now(
    closed: bool, waiting: bool, urgent: bool, was_waiting: bool, retry: bool, alarm: Alarm
) -> None:
    assert (
        pending_alarm(
            closed=closed, waiting=waiting, urgent=urgent, was_waiting=was_waiting, retry=retry
        )
        == alarm
    )


async def test_evening_requests_wait_quietly_and_are_assigned_at_the_first_tick_of_opening(
    client, ess: Ess, clock
) -> None:
    clock.set(FRIDAY_EVENING)
    sent = [await submit(client, ess) for _ in range(3)]
    for request in sent:
        assert request["status"] == "pending"
        assert request["assignee_id"] is None
        assert at(request["waiting_until"]) == OPENING
        assert request["acknowledge_due_at"] is None
    # The coordinator reads why, and when it will be handled.
    last = (await events(client, ess, sent[0]))[-1]
    assert last["kind"] == "pending"
    assert last["detail"]["rule"] == "waiting_for_opening"
    assert "en attente de l'ouverture, lundi 09/03/2026 à 08:00" in last["detail"]["reason"]
    assert last["detail"]["at_opening"]["eligible_count"] == 2  # the rythmologists
    # The requester too, without anyone's name or reason for being left out.
    mine = (await events(client, ess, sent[0], ess.requesters[0]))[-1]
    assert mine["detail"] == {
        "reason": "En attente de l'ouverture de l'ESS : la demande sera confiée à un "
        "spécialiste lundi 09/03/2026 à 08:00."
    }
    assert at((await read(client, ess, sent[0], ess.requesters[0]))["waiting_until"]) == OPENING
    # Nobody is told anything: no alarm for the coordinator, no specialist woken.
    assert await outbox(ess) == []
    history = [len(await events(client, ess, r)) for r in sent]
    await tick(ess, clock, paris(2026, 3, 7, 3))  # Saturday 03:00
    assert await outbox(ess) == []
    assert [len(await events(client, ess, r)) for r in sent] == history
    # The first tick of Monday's opening gives each one to a specialist, the
    # acknowledgement clock starting then (standard: 8 business hours).
    await tick(ess, clock, OPENING)
    for request in sent:
        current = await read(client, ess, request)
        assert current["status"] == "assigned"
        assert at(current["assigned_at"]) == OPENING
        assert at(current["acknowledge_due_at"]) == paris(2026, 3, 9, 16)
        assert current["waiting_until"] is None
    rows = await outbox(ess)
    assert [(r.kind, r.next_attempt_at) for r in rows] == [("assigned", OPENING)] * 3
    assert {r.recipient_id for r in rows} <= {s.id for s in ess.specialists}


async def test_nobody_at_the_opening_either_is_one_digest_per_coordinator_at_opening(
    client, ess: Ess, clock
) -> None:
    second = await ess.add_user(
        role=Role.COORDINATOR, email="coordination2@ess-test.fr", name="Coordination 2"
    )
    for specialist in ess.specialists:
        await away(client, ess, specialist, FRIDAY_EVENING, paris(2026, 3, 11, 18))
    clock.set(FRIDAY_EVENING)
    sent = [await submit(client, ess) for _ in range(3)]
    for request in sent:
        assert request["status"] == "pending"
        assert request["waiting_until"] is None
    last = (await events(client, ess, sent[-1]))[-1]
    assert last["detail"]["rule"] == "nobody_eligible"
    assert last["detail"]["at_opening"]["eligible_count"] == 0
    assert "personne ne sera disponible à l'ouverture" in last["detail"]["reason"]
    rows = await outbox(ess)
    assert sorted((r.kind, r.recipient_id) for r in rows) == sorted(
        [("waiting_digest", ess.coordinator.id), ("waiting_digest", second.id)]
    )
    for row in rows:
        assert row.next_attempt_at == OPENING
        assert [item["reference"] for item in row.params["items"]] == [r["reference"] for r in sent]
    # The coordinator sees it waiting for the opening among the notifications.
    listed = (await client.get("/api/v1/notifications", headers=ess.auth(ess.coordinator))).json()
    assert [(n["kind"], n["reference"], at(n["next_attempt_at"])) for n in listed] == [
        ("waiting_digest", ", ".join(r["reference"] for r in sent), OPENING)
    ] * 2
    # Ticks in the night and at the opening, still nobody: nothing more.
    await tick(ess, clock, paris(2026, 3, 8, 12))
    await tick(ess, clock, OPENING)
    assert len(await outbox(ess)) == 2
    assert (await read(client, ess, sent[0]))["status"] == "pending"


async def test_urgent_requests_with_nobody_on_call_raise_one_alarm_and_wait_for_opening(
    client, ess: Ess, clock
) -> None:
    clock.set(FRIDAY_EVENING)
    first = await submit(client, ess, priority="urgent")
    clock.advance(timedelta(minutes=1))
    second = await submit(client, ess, priority="urgent")
    for request in (first, second):
        assert request["status"] == "pending"
        assert at(request["waiting_until"]) == OPENING
    rows = await outbox(ess)
    assert [(r.kind, r.recipient_id) for r in rows] == [("waiting_digest", ess.coordinator.id)]
    assert rows[0].next_attempt_at == FRIDAY_EVENING + ess.context.policy.alarm_delay
    assert [i["reference"] for i in rows[0].params["items"]] == [
        first["reference"],
        second["reference"],
    ]
    await tick(ess, clock, OPENING)
    for request in (first, second):
        current = await read(client, ess, request)
        assert current["status"] == "assigned"
        assert at(current["acknowledge_due_at"]) == paris(2026, 3, 9, 10)  # urgent: 2 hours


async def test_an_urgent_request_at_night_goes_at_once_to_the_on_call_specialist(
    client, ess: Ess, clock
) -> None:
    on_call = ess.specialists[1]
    response = await client.put(
        f"/api/v1/users/{on_call.id}/schedule",
        json={"slots": [{"weekday": 4, "start": "18:00", "end": "00:00"}]},
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 200, response.text
    clock.set(FRIDAY_EVENING)
    request = await submit(client, ess, priority="urgent")
    assert request["status"] == "assigned"
    assert request["assignee_id"] == str(on_call.id)
    assert request["waiting_until"] is None
    rows = await outbox(ess)
    assert [(r.kind, r.recipient_id, r.next_attempt_at) for r in rows] == [
        ("assigned", on_call.id, FRIDAY_EVENING)
    ]


async def test_a_promised_opening_that_will_find_nobody_is_one_alarm_at_opening(
    client, ess: Ess, clock
) -> None:
    clock.set(FRIDAY_EVENING)
    request = await submit(client, ess)
    assert at(request["waiting_until"]) == OPENING
    # During the weekend everyone declares an absence that covers Monday.
    clock.set(paris(2026, 3, 7, 10))
    for specialist in ess.specialists:
        await away(client, ess, specialist, paris(2026, 3, 7, 10), paris(2026, 3, 11, 18))
    await tick(ess, clock, paris(2026, 3, 7, 10, 1))
    current = await read(client, ess, request)
    assert current["status"] == "pending"
    assert current["waiting_until"] is None
    assert (await events(client, ess, request))[-1]["detail"]["rule"] == "nobody_eligible"
    rows = await outbox(ess)
    assert [(r.kind, r.next_attempt_at) for r in rows] == [("waiting_digest", OPENING)]
    await tick(ess, clock, paris(2026, 3, 7, 22))
    assert len(await outbox(ess)) == 1
