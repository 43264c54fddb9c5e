"""The whole téléexpertise flow over HTTP, on SQLite and on PostgreSQL."""

from datetime import datetime, timedelta

from tests.conftest import Ess, request_payload


async def test_full_flow_submit_decline_accept_answer_close(client, ess: Ess, clock) -> None:
    gp = ess.requesters[0]
    rythmo_a, rythmo_b, _hta = ess.specialists

    response = await client.post("/api/v1/requests", json=request_payload(), headers=ess.auth(gp))
    assert response.status_code == 201, response.text
    request = response.json()
    assert request["reference"].startswith("TE-2026-")
    assert request["status"] == "assigned"
    # Nobody has been assigned yet: ties are broken by id among the two rhythmologists.
    first = request["assignee_id"]
    assert first in {str(rythmo_a.id), str(rythmo_b.id)}
    assert request["patient"]["last_name"] == "Durand"
    rid = request["id"]

    by_id = {str(s.id): s for s in ess.specialists}
    clock.advance(timedelta(minutes=20))
    response = await client.post(
        f"/api/v1/requests/{rid}/decline",
        json={"reason": "out_of_field"},
        headers=ess.auth(by_id[first]),
    )
    assert response.status_code == 200, response.text
    second = ({str(rythmo_a.id), str(rythmo_b.id)} - {first}).pop()
    # The decliner no longer sees the request; the other rhythmologist has it.
    assert (
        await client.get(f"/api/v1/requests/{rid}", headers=ess.auth(by_id[first]))
    ).status_code == 404
    response = await client.get(f"/api/v1/requests/{rid}", headers=ess.auth(by_id[second]))
    assert response.json()["status"] == "assigned"
    assert response.json()["assignee_id"] == second

    clock.advance(timedelta(minutes=5))
    response = await client.post(f"/api/v1/requests/{rid}/accept", headers=ess.auth(by_id[second]))
    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    assert datetime.fromisoformat(response.json()["accepted_at"]) == clock.now()

    clock.advance(timedelta(hours=2))
    appointment = (clock.now() + timedelta(days=9)).isoformat()
    response = await client.post(
        f"/api/v1/requests/{rid}/answer",
        json={
            "answer": "Holter ECG 24 h puis consultation.",
            "outcome": "consultation",
            "appointment_at": appointment,
        },
        headers=ess.auth(by_id[second]),
    )
    assert response.status_code == 200, response.text
    answered = response.json()
    assert answered["status"] == "answered"
    assert answered["outcome"] == "consultation"

    # The requester reads the answer, then closes with the close-out feedback.
    response = await client.get(f"/api/v1/requests/{rid}", headers=ess.auth(gp))
    assert response.json()["answer"] == "Holter ECG 24 h puis consultation."
    response = await client.post(
        f"/api/v1/requests/{rid}/close",
        json={"usefulness": 5, "referral_avoided": False},
        headers=ess.auth(gp),
    )
    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    assert response.json()["usefulness"] == 5

    # The coordinator follows the dispatcher's reasoning (the requester does not: see
    # tests/api/test_history_privacy.py).
    response = await client.get(f"/api/v1/requests/{rid}/events", headers=ess.auth(ess.coordinator))
    events = response.json()
    assert [e["kind"] for e in events] == [
        "submitted",
        "assigned",
        "declined",
        "assigned",
        "accepted",
        "answered",
        "closed",
    ]
    first_assignment = events[1]["detail"]
    assert first_assignment["rule"] == "least_recently_assigned"
    assert "rotation : 2 spécialistes éligibles" in first_assignment["reason"]
    # The hypertension-only specialist was excluded, and the history says why.
    excluded = {e["specialist_id"]: e["reason"] for e in first_assignment["excluded"]}
    assert excluded == {str(_hta.id): "not_in_pool"}
    second_assignment = events[3]["detail"]
    assert {e["specialist_id"]: e["reason"] for e in second_assignment["excluded"]}[
        first
    ] == "declined"


async def test_rotation_goes_to_least_recently_assigned(client, ess: Ess, clock) -> None:
    gp = ess.requesters[0]
    assignees = []
    for _ in range(4):
        clock.advance(timedelta(minutes=1))
        response = await client.post(
            "/api/v1/requests", json=request_payload(), headers=ess.auth(gp)
        )
        assert response.status_code == 201
        assignees.append(response.json()["assignee_id"])
    # Two rhythmologists take turns.
    assert assignees[0] != assignees[1]
    assert assignees[2] == assignees[0]
    assert assignees[3] == assignees[1]


async def test_specialty_request_uses_whole_specialty(client, ess: Ess) -> None:
    payload = request_payload(subspecialty=None)
    seen = set()
    for _ in range(3):
        response = await client.post(
            "/api/v1/requests", json=payload, headers=ess.auth(ess.requesters[0])
        )
        seen.add(response.json()["assignee_id"])
    assert seen == {str(s.id) for s in ess.specialists}


async def test_nobody_left_makes_request_pending(client, ess: Ess) -> None:
    # Only the hypertension-only specialist and the two rhythmologists exist; make
    # the request decline its way through the whole specialty.
    response = await client.post(
        "/api/v1/requests",
        json=request_payload(subspecialty="hta"),
        headers=ess.auth(ess.requesters[0]),
    )
    rid = response.json()["id"]
    by_id = {str(s.id): s for s in ess.specialists}
    for _ in range(3):
        current = (
            await client.get(f"/api/v1/requests/{rid}", headers=ess.auth(ess.coordinator))
        ).json()
        assert current["status"] == "assigned"
        response = await client.post(
            f"/api/v1/requests/{rid}/decline",
            json={"reason": "unavailable"},
            headers=ess.auth(by_id[current["assignee_id"]]),
        )
        assert response.status_code == 200
    final = (await client.get(f"/api/v1/requests/{rid}", headers=ess.auth(ess.coordinator))).json()
    assert final["status"] == "pending"
    assert final["assignee_id"] is None
    events = (
        await client.get(f"/api/v1/requests/{rid}/events", headers=ess.auth(ess.coordinator))
    ).json()
    assert events[-1]["kind"] == "pending"
    assert events[-1]["detail"]["rule"] == "nobody_eligible"
    # The sub-specialty pool was tried, then the specialty as a whole.
    assert [step["eligible"] for step in events[-1]["detail"]["ladder"]] == [0, 0]


async def test_inactive_specialist_never_receives_requests(client, ess: Ess) -> None:
    rythmo_a, rythmo_b, _ = ess.specialists
    response = await client.patch(
        f"/api/v1/users/{rythmo_a.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
    )
    assert response.status_code == 200
    assert response.json()["active"] is False
    for _ in range(3):
        response = await client.post(
            "/api/v1/requests", json=request_payload(), headers=ess.auth(ess.requesters[0])
        )
        assert response.json()["assignee_id"] == str(rythmo_b.id)


async def test_manual_assignment_to_the_requester_is_refused(client, ess: Ess) -> None:
    # Only requester accounts submit, so automatic dispatch never meets its own author
    # through the API; the "not the requester" rule itself is covered by the dispatcher's
    # model and differential tests (tests/router).
    response = await client.post(
        "/api/v1/requests", json=request_payload(), headers=ess.auth(ess.requesters[0])
    )
    response = await client.post(
        f"/api/v1/requests/{response.json()['id']}/assign",
        json={"assignee_id": str(ess.requesters[0].id)},
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 422
    assert "spécialiste" in response.json()["detail"]


async def test_cancel_before_answer(client, ess: Ess) -> None:
    gp = ess.requesters[0]
    rid = (
        await client.post("/api/v1/requests", json=request_payload(), headers=ess.auth(gp))
    ).json()["id"]
    response = await client.post(f"/api/v1/requests/{rid}/cancel", headers=ess.auth(gp))
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancelled_at"] is not None


async def test_coordinator_assigns_by_hand_even_over_capacity(client, ess: Ess) -> None:
    gp = ess.requesters[0]
    hta_only = ess.specialists[2]
    response = await client.patch(
        f"/api/v1/users/{hta_only.id}", json={"capacity": 0}, headers=ess.auth(ess.coordinator)
    )
    assert response.json()["capacity"] == 0
    rid = (
        await client.post("/api/v1/requests", json=request_payload(), headers=ess.auth(gp))
    ).json()["id"]
    response = await client.post(
        f"/api/v1/requests/{rid}/assign",
        json={"assignee_id": str(hta_only.id)},
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 200, response.text
    assert response.json()["assignee_id"] == str(hta_only.id)
    events = (
        await client.get(f"/api/v1/requests/{rid}/events", headers=ess.auth(ess.coordinator))
    ).json()
    assert events[-1]["detail"]["rule"] == "manual"
    assert events[-1]["detail"]["over_capacity"] is True
    assert "au-delà de la capacité" in events[-1]["detail"]["reason"]
    # The new assignee sees it in their queue.
    queue = (await client.get("/api/v1/requests", headers=ess.auth(hta_only))).json()
    assert queue["total"] == 1 and queue["items"][0]["id"] == rid


async def test_capacity_limits_automatic_dispatch(client, ess: Ess) -> None:
    for specialist in ess.specialists:
        await client.patch(
            f"/api/v1/users/{specialist.id}",
            json={"capacity": 1},
            headers=ess.auth(ess.coordinator),
        )
    statuses = []
    for _ in range(3):
        response = await client.post(
            "/api/v1/requests", json=request_payload(), headers=ess.auth(ess.requesters[0])
        )
        statuses.append(response.json()["status"])
    # Two rhythmologists with room for one each; the third falls back to the
    # specialty and reaches the hypertension specialist.
    assert statuses == ["assigned", "assigned", "assigned"]
    response = await client.post(
        "/api/v1/requests", json=request_payload(), headers=ess.auth(ess.requesters[0])
    )
    assert response.json()["status"] == "pending"
