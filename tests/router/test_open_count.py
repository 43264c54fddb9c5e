"""The specialists' stored open-request count follows every change of a request.

The dispatcher reads ``user.open_count`` (kept by triggers, migration 0003) against
the capacity; if it drifted from the requests a specialist really holds, they
would be flooded or starved. A seeded walk of random actions through the API
checks, after every step, the column against a count of the requests themselves.
"""

import random

from sqlalchemy import func, select

from migrations import downgrade_database, upgrade_database
from models import WITH_SPECIALIST, Request, Role, User
from tests.conftest import Ess, request_payload


async def stored_and_counted(ess: Ess) -> tuple[dict[str, int], dict[str, int]]:
    async with ess.context.db.reading() as session:
        stored = dict(
            (
                await session.execute(
                    select(User.name, User.open_count).where(User.role == Role.SPECIALIST)
                )
            ).all()
        )
        counted = dict(
            (
                await session.execute(
                    select(User.name, func.count(Request.id))
                    .join(Request, Request.assignee_id == User.id)
                    .where(Request.status.in_(list(WITH_SPECIALIST)))
                    .group_by(User.name)
                )
            ).all()
        )
    return stored, {name: counted.get(name, 0) for name in stored}


async def test_open_count_matches_the_requests_after_every_action(client, ess: Ess) -> None:
    rng = random.Random(20261125)
    by_id = {str(s.id): s for s in ess.specialists}
    requester = ess.requesters[0]
    seen_actions: set[str] = set()
    for step in range(60):
        listing = await client.get("/api/v1/requests?limit=200", headers=ess.auth(ess.coordinator))
        assert listing.status_code == 200, listing.text
        requests = listing.json()["items"]
        actions = ["submit"]
        for item in requests:
            status, rid, assignee = item["status"], item["id"], item["assignee_id"]
            if status == "assigned":
                actions += [f"accept {rid}", f"decline {rid}"]
            if status in {"assigned", "accepted"}:
                actions += [f"ask {rid}"]
            if status in {"assigned", "accepted", "awaiting_info"}:
                actions += [f"answer {rid}"]
            if status in {"pending", "assigned", "accepted", "awaiting_info"}:
                actions += [f"cancel {rid}", f"assign {rid}"]
            if status == "awaiting_info":
                actions += [f"reply {rid}"]
            if status == "answered":
                actions += [f"close {rid}"]
            if assignee is not None:
                item["assignee"] = by_id[assignee]
        action = rng.choice(actions)
        verb, _, rid = action.partition(" ")
        item = next((i for i in requests if i["id"] == rid), None)
        base = f"/api/v1/requests/{rid}"
        if verb == "submit":
            response = await client.post(
                "/api/v1/requests",
                json=request_payload(subspecialty=rng.choice(["rythmologie", "hta", None])),
                headers=ess.auth(requester),
            )
        elif verb in {"accept", "decline", "ask", "answer"}:
            headers = ess.auth(item["assignee"])
            if verb == "accept":
                response = await client.post(f"{base}/accept", headers=headers)
            elif verb == "decline":
                response = await client.post(
                    f"{base}/decline", json={"reason": "out_of_field"}, headers=headers
                )
            elif verb == "ask":
                response = await client.post(
                    f"{base}/messages",
                    json={"body": "Pouvez-vous joindre le dernier ECG ?", "request_info": True},
                    headers=headers,
                )
            else:
                response = await client.post(
                    f"{base}/answer",
                    json={"answer": "Pas d'urgence, bilan en ville.", "outcome": "advice"},
                    headers=headers,
                )
        elif verb == "reply":
            response = await client.post(
                f"{base}/messages", json={"body": "ECG joint."}, headers=ess.auth(requester)
            )
        elif verb == "cancel":
            response = await client.post(f"{base}/cancel", headers=ess.auth(requester))
        elif verb == "close":
            response = await client.post(
                f"{base}/close",
                json={"usefulness": 4, "referral_avoided": True},
                headers=ess.auth(requester),
            )
        else:
            target = rng.choice(ess.specialists)
            response = await client.post(
                f"{base}/assign",
                json={"assignee_id": str(target.id)},
                headers=ess.auth(ess.coordinator),
            )
        # A manual assignment to someone who declined is refused (409): also a case
        # where nothing may change.
        assert response.status_code in {200, 201, 409}, (action, response.text)
        seen_actions.add(verb)
        stored, counted = await stored_and_counted(ess)
        assert stored == counted, f"step {step}: {action}"
    # The walk went through every kind of action at least once.
    assert seen_actions == {
        "submit",
        "accept",
        "decline",
        "ask",
        "answer",
        "reply",
        "cancel",
        "close",
        "assign",
    }
    assert any(counted.values())


async def test_upgrade_counts_the_requests_already_open(client, ess: Ess, database_url) -> None:
    """Migration 0003 starts every specialist's count from the requests they hold."""
    for _ in range(5):
        response = await client.post(
            "/api/v1/requests", json=request_payload(), headers=ess.auth(ess.requesters[0])
        )
        assert response.status_code == 201, response.text
    first = response.json()
    answered = await client.post(
        f"/api/v1/requests/{first['id']}/answer",
        json={"answer": "Avis donné.", "outcome": "advice"},
        headers=ess.auth(next(s for s in ess.specialists if str(s.id) == first["assignee_id"])),
    )
    assert answered.status_code == 200, answered.text
    await ess.context.db.dispose()
    await downgrade_database(database_url, "0002")
    await upgrade_database(database_url)

    stored, counted = await stored_and_counted(ess)
    assert stored == counted
    assert sum(counted.values()) == 4
