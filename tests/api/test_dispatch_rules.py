"""The dispatcher's rules through the API: schedules, absences, capacity, the pending queue."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import OutboxMessage
from router import sweep_pending
from tests.conftest import PARIS, Ess
from tests.factories import submit


async def last_event(client, ess: Ess, rid: str) -> dict:
    events = (
        await client.get(f"/api/v1/requests/{rid}/events", headers=ess.auth(ess.coordinator))
    ).json()
    return events[-1]


async def set_schedule(client, ess: Ess, user, slots, who=None):
    return await client.put(
        f"/api/v1/users/{user.id}/schedule",
        json={"slots": slots},
        headers=ess.auth(who or ess.coordinator),
    )


async def test_off_schedule_specialist_is_skipped(client, ess: Ess, clock) -> None:
    rythmo_a, rythmo_b, _ = ess.specialists
    # T0 is Monday 09:00 in Paris; A works Monday afternoons only.
    response = await set_schedule(
        client, ess, rythmo_a, [{"weekday": 0, "start": "14:00", "end": "18:00"}]
    )
    assert response.status_code == 200, response.text
    assert response.json()["slots"] == [{"weekday": 0, "start": "14:00", "end": "18:00"}]
    for _ in range(2):
        assert (await submit(client, ess))["assignee_id"] == str(rythmo_b.id)
    excluded = await last_event(client, ess, (await submit(client, ess))["id"])
    reasons = {e["specialist_id"]: e["reason"] for e in excluded["detail"]["excluded"]}
    assert reasons[str(rythmo_a.id)] == "off_schedule"
    clock.set(datetime(2026, 3, 2, 14, 30, tzinfo=PARIS))
    assert (await submit(client, ess))["assignee_id"] == str(rythmo_a.id)


async def test_schedules_follow_local_time_across_daylight_saving(client, ess: Ess, clock) -> None:
    rythmo_a, rythmo_b, _ = ess.specialists
    await client.patch(
        f"/api/v1/users/{rythmo_b.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
    )
    await set_schedule(client, ess, rythmo_a, [{"weekday": 0, "start": "08:00", "end": "09:00"}])
    # 08:30 local is 07:30 UTC in winter and 06:30 UTC in summer: both are in the slot.
    for local in (
        datetime(2026, 3, 23, 8, 30, tzinfo=PARIS),
        datetime(2026, 3, 30, 8, 30, tzinfo=PARIS),
    ):
        clock.set(local)
        assert (await submit(client, ess))["assignee_id"] == str(rythmo_a.id)
    # 07:30 UTC on the Monday after the change is 09:30 local: outside the slot.
    clock.set(datetime(2026, 3, 30, 7, 30, tzinfo=ZoneInfo("UTC")))
    assert (await submit(client, ess, subspecialty="rythmologie"))["status"] == "assigned"
    request = await submit(client, ess)
    assert request["assignee_id"] != str(rythmo_a.id)


async def test_no_schedule_means_the_calendar_hours(client, ess: Ess, clock) -> None:
    # Saturday: the business calendar is closed, nobody without a schedule is on duty.
    clock.set(datetime(2026, 3, 7, 10, 0, tzinfo=PARIS))
    request = await submit(client, ess)
    assert request["status"] == "pending"
    event = await last_event(client, ess, request["id"])
    assert {e["reason"] for e in event["detail"]["excluded"]} == {"off_schedule"}
    # A specialist who works Saturdays gets it as soon as the schedule says so.
    weekend = ess.specialists[2]
    response = await set_schedule(
        client, ess, weekend, [{"weekday": 5, "start": "09:00", "end": "12:00"}]
    )
    assert response.status_code == 200
    current = (
        await client.get(f"/api/v1/requests/{request['id']}", headers=ess.auth(ess.coordinator))
    ).json()
    assert current["status"] == "assigned"
    assert current["assignee_id"] == str(weekend.id)


async def test_absent_specialist_is_skipped_and_return_drains(client, ess: Ess, clock) -> None:
    rythmo_a, rythmo_b, hta = ess.specialists
    for user in (rythmo_b, hta):
        await client.patch(
            f"/api/v1/users/{user.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
        )
    now = clock.now()
    response = await client.post(
        f"/api/v1/users/{rythmo_a.id}/absences",
        json={
            "start": (now - timedelta(hours=1)).isoformat(),
            "end": (now + timedelta(days=3)).isoformat(),
            "reason": "Congrès",
        },
        headers=ess.auth(rythmo_a),
    )
    assert response.status_code == 201, response.text
    absence_id = response.json()["id"]
    request = await submit(client, ess)
    assert request["status"] == "pending"
    event = await last_event(client, ess, request["id"])
    assert {e["specialist_id"]: e["reason"] for e in event["detail"]["excluded"]}[
        str(rythmo_a.id)
    ] == "absent"
    # The coordinator is told, through the outbox.
    async with ess.context.db.reading() as session:
        rows = (await session.execute(select(OutboxMessage))).scalars().all()
    assert [
        (r.kind, r.recipient_id)
        for r in rows
        if r.request_id is not None and str(r.request_id) == request["id"]
    ] == [("pending", ess.coordinator.id)]
    # Cancelling the absence makes A eligible again: the waiting request goes to them.
    response = await client.delete(
        f"/api/v1/users/{rythmo_a.id}/absences/{absence_id}", headers=ess.auth(rythmo_a)
    )
    assert response.status_code == 204
    current = (
        await client.get(f"/api/v1/requests/{request['id']}", headers=ess.auth(ess.coordinator))
    ).json()
    assert current["assignee_id"] == str(rythmo_a.id)


async def test_absence_ending_with_the_clock_is_picked_up_by_the_sweep(
    client, ess: Ess, clock
) -> None:
    rythmo_a, rythmo_b, hta = ess.specialists
    for user in (rythmo_b, hta):
        await client.patch(
            f"/api/v1/users/{user.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
        )
    now = clock.now()
    await client.post(
        f"/api/v1/users/{rythmo_a.id}/absences",
        json={"start": now.isoformat(), "end": (now + timedelta(hours=2)).isoformat()},
        headers=ess.auth(ess.coordinator),
    )
    urgent = await submit(client, ess, priority="urgent")
    standard = await submit(client, ess)
    assert urgent["status"] == standard["status"] == "pending"
    clock.advance(timedelta(hours=1))
    assert await sweep_pending(ess.context.db, now=clock.now(), policy=ess.context.policy) == 0
    clock.advance(timedelta(hours=1, minutes=1))
    assigned = await sweep_pending(ess.context.db, now=clock.now(), policy=ess.context.policy)
    assert assigned == 2
    for request in (urgent, standard):
        current = (
            await client.get(f"/api/v1/requests/{request['id']}", headers=ess.auth(ess.coordinator))
        ).json()
        assert current["assignee_id"] == str(rythmo_a.id)


async def test_answer_frees_capacity_for_the_oldest_most_urgent_waiting(
    client, ess: Ess, clock
) -> None:
    rythmo_a, rythmo_b, hta = ess.specialists
    for user in (rythmo_b, hta):
        await client.patch(
            f"/api/v1/users/{user.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
        )
    await client.patch(
        f"/api/v1/users/{rythmo_a.id}", json={"capacity": 1}, headers=ess.auth(ess.coordinator)
    )
    held = await submit(client, ess)
    assert held["assignee_id"] == str(rythmo_a.id)
    clock.advance(timedelta(minutes=1))
    older_standard = await submit(client, ess)
    clock.advance(timedelta(minutes=1))
    newer_urgent = await submit(client, ess, priority="urgent")
    assert older_standard["status"] == newer_urgent["status"] == "pending"
    event = await last_event(client, ess, newer_urgent["id"])
    assert {e["reason"] for e in event["detail"]["excluded"]} >= {"at_capacity"}
    await client.post(
        f"/api/v1/requests/{held['id']}/answer",
        json={"answer": "Avis.", "outcome": "advice"},
        headers=ess.auth(rythmo_a),
    )
    queue = (
        await client.get("/api/v1/requests?status=assigned", headers=ess.auth(rythmo_a))
    ).json()
    # Urgent first, even though the standard one waited longer.
    assert [item["id"] for item in queue["items"]] == [newer_urgent["id"]]


async def test_capacity_raise_and_reactivation_and_new_specialist_drain(
    client, ess: Ess, clock
) -> None:
    for user in ess.specialists:
        await client.patch(
            f"/api/v1/users/{user.id}", json={"capacity": 0}, headers=ess.auth(ess.coordinator)
        )
    waiting = []
    for _ in range(3):
        clock.advance(timedelta(minutes=1))  # waiting order: oldest first
        waiting.append(await submit(client, ess))
    first, second, third = waiting
    assert {r["status"] for r in (first, second, third)} == {"pending"}
    await client.patch(
        f"/api/v1/users/{ess.specialists[0].id}",
        json={"capacity": 1},
        headers=ess.auth(ess.coordinator),
    )
    statuses = [
        (await client.get(f"/api/v1/requests/{r['id']}", headers=ess.auth(ess.coordinator))).json()[
            "status"
        ]
        for r in (first, second, third)
    ]
    assert statuses == ["assigned", "pending", "pending"]
    response = await client.post(
        "/api/v1/users",
        json={
            "role": "specialist",
            "email": "nouvelle@ess-test.fr",
            "name": "Dr Nouvelle",
            "specialty": "cardiologie",
            "subspecialties": ["rythmologie"],
            "capacity": 1,
        },
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 201
    second_now = (
        await client.get(f"/api/v1/requests/{second['id']}", headers=ess.auth(ess.coordinator))
    ).json()
    assert second_now["assignee_id"] == response.json()["id"]
    # Reactivating a specialist with room serves the last one waiting.
    dormant = ess.specialists[1]
    await client.patch(
        f"/api/v1/users/{dormant.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
    )
    await client.patch(
        f"/api/v1/users/{dormant.id}", json={"capacity": 2}, headers=ess.auth(ess.coordinator)
    )
    third_now = (
        await client.get(f"/api/v1/requests/{third['id']}", headers=ess.auth(ess.coordinator))
    ).json()
    assert third_now["status"] == "pending"
    await client.patch(
        f"/api/v1/users/{dormant.id}", json={"active": True}, headers=ess.auth(ess.coordinator)
    )
    third_now = (
        await client.get(f"/api/v1/requests/{third['id']}", headers=ess.auth(ess.coordinator))
    ).json()
    assert third_now["assignee_id"] == str(dormant.id)


async def test_fallback_to_specialty_can_be_switched_off(client, ess: Ess) -> None:
    ess.context.settings.dispatch.fallback_to_specialty = False
    ess.context.__dict__.pop("policy", None)
    for user in ess.specialists[:2]:
        await client.patch(
            f"/api/v1/users/{user.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
        )
    request = await submit(client, ess)
    assert request["status"] == "pending"
    event = await last_event(client, ess, request["id"])
    assert len(event["detail"]["ladder"]) == 1


async def test_fallback_reaches_the_general_pool(client, ess: Ess) -> None:
    for user in ess.specialists[:2]:
        await client.patch(
            f"/api/v1/users/{user.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
        )
    request = await submit(client, ess)
    assert request["assignee_id"] == str(ess.specialists[2].id)
    event = await last_event(client, ess, request["id"])
    assert [step["eligible"] for step in event["detail"]["ladder"]] == [0, 1]
    # The pools by the names the coordinator reads, not by their codes.
    assert [step["pool"] for step in event["detail"]["ladder"]] == [
        "sur-spécialité Rythmologie",
        "repli sur la spécialité Cardiologie",
    ]
    assert "repli sur la spécialité Cardiologie" in event["detail"]["reason"]


async def test_schedule_and_absence_permissions_and_validation(client, ess: Ess) -> None:
    a, b, _ = ess.specialists
    response = await set_schedule(client, ess, b, [], who=a)
    assert response.status_code == 403
    response = await set_schedule(client, ess, ess.requesters[0], [])
    assert response.status_code == 422
    response = await client.put(
        f"/api/v1/users/{a.id}/schedule", json={"slots": []}, headers=ess.auth(ess.requesters[0])
    )
    assert response.status_code == 403
    for slots, needle in [
        ([{"weekday": 7, "start": "08:00", "end": "12:00"}], "weekday"),
        ([{"weekday": 1, "start": "12:00", "end": "08:00"}], "fin"),
        (
            [
                {"weekday": 1, "start": "08:00", "end": "12:00"},
                {"weekday": 1, "start": "11:00", "end": "13:00"},
            ],
            "chevauchent",
        ),
        ([{"weekday": 1, "start": "25:00", "end": "26:00"}], "start"),
        ([{"weekday": 1, "start": "08:00:00", "end": "12:00"}], "HH:MM"),
        ([{"weekday": 1, "start": "08:00", "end": 43200}], "HH:MM"),
        # Said in French, as every limit: not « List should have at most 100 items ».
        (
            [
                {"weekday": 0, "start": f"{h:02d}:{m:02d}", "end": f"{h:02d}:{m + 1:02d}"}
                for h in range(9)
                for m in range(0, 24, 2)
            ],
            "100 éléments au maximum",
        ),
    ]:
        response = await set_schedule(client, ess, a, slots, who=a)
        assert response.status_code == 400, response.text
        assert needle in response.text
    response = await client.post(
        f"/api/v1/users/{a.id}/absences",
        json={"start": "2026-03-03T10:00:00+01:00", "end": "2026-03-02T10:00:00+01:00"},
        headers=ess.auth(a),
    )
    assert response.status_code == 400
    assert "fin de l'absence" in response.text
    # Already over (the clock is on 2 March 2026): it would show nowhere and change nothing.
    response = await client.post(
        f"/api/v1/users/{a.id}/absences",
        json={"start": "2020-06-01T00:00:00+02:00", "end": "2020-06-15T00:00:00+02:00"},
        headers=ess.auth(a),
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "end"
    assert "déjà terminée" in response.json()["detail"]
    response = await client.delete(
        f"/api/v1/users/{a.id}/absences/00000000-0000-0000-0000-000000000000", headers=ess.auth(a)
    )
    assert response.status_code == 404
    listing = await client.get(f"/api/v1/users/{a.id}/absences", headers=ess.auth(a))
    assert listing.json() == []


async def test_assignment_notifies_the_specialist_without_clinical_content(
    client, ess: Ess
) -> None:
    request = await submit(client, ess)
    async with ess.context.db.reading() as session:
        rows = (await session.execute(select(OutboxMessage))).scalars().all()
    assert [(r.kind, str(r.recipient_id)) for r in rows] == [("assigned", request["assignee_id"])]
    assert rows[0].params == {"reference": request["reference"], "priority": "standard"}
