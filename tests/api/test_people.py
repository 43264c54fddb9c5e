"""Who is on the other side: a request names its requester and its specialist, messages
their author, for the participants and (without clinical content) the coordinator."""

from datetime import timedelta

from sqlalchemy import event

from models import Role
from tests.conftest import Ess, request_payload
from tests.factories import holder, submit

RPPS = "10000000017"
# What the small ESS's specialists cover, in the order the API lists them.
SUBSPECIALTIES = [["rythmologie"], ["hta", "rythmologie"], ["hta"]]


async def get(client, ess: Ess, url: str, viewer) -> dict | list:
    response = await client.get(url, headers=ess.auth(viewer))
    assert response.status_code == 200, response.text
    return response.json()


async def test_each_participant_sees_who_asks_and_who_answers(client, ess: Ess) -> None:
    gp = await ess.add_user(
        role=Role.REQUESTER,
        email="marie.laurent@cabinet-test.fr",
        name="Dr Marie Laurent",
        rpps=RPPS,
        treating_physician=True,
    )
    response = await client.post("/api/v1/requests", json=request_payload(), headers=ess.auth(gp))
    assert response.status_code == 201, response.text
    created = response.json()
    specialist = holder(ess, created)
    requester = {
        "id": str(gp.id),
        "name": "Dr Marie Laurent",
        "rpps": RPPS,
        "treating_physician": True,
    }
    assignee = {
        "id": str(specialist.id),
        "name": specialist.name,
        "specialty": "cardiologie",
        "subspecialties": SUBSPECIALTIES[ess.specialists.index(specialist)],
    }
    assert (created["requester"], created["assignee"]) == (requester, assignee)
    url = f"/api/v1/requests/{created['id']}"
    for viewer in (gp, specialist):
        seen = await get(client, ess, url, viewer)
        assert (seen["requester"], seen["assignee"]) == (requester, assignee)
        assert seen["question"] is not None
    # The coordinator follows the flow: the people, never the clinical content.
    seen = await get(client, ess, url, ess.coordinator)
    assert (seen["requester"], seen["assignee"]) == (requester, assignee)
    assert (seen["question"], seen["patient"], seen["answer"]) == (None, None, None)
    # Each action answers the request with its people, as it now stands.
    accepted = await client.post(f"{url}/accept", headers=ess.auth(specialist))
    assert accepted.json()["assignee"] == assignee


async def test_a_pending_request_has_no_assignee_until_one_is_chosen(client, ess: Ess) -> None:
    for user in ess.specialists:
        response = await client.patch(
            f"/api/v1/users/{user.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
        )
        assert response.status_code == 200, response.text
    pending = await submit(client, ess, 1)
    assert pending["status"] == "pending" and pending["assignee"] is None
    assert pending["requester"]["name"] == "Dr Demandeur 1"
    assert pending["requester"]["treating_physician"] is False
    chosen = ess.specialists[2]
    await client.patch(
        f"/api/v1/users/{chosen.id}", json={"active": True}, headers=ess.auth(ess.coordinator)
    )
    seen = await get(client, ess, f"/api/v1/requests/{pending['id']}", ess.requesters[1])
    assert seen["assignee"] == {
        "id": str(chosen.id),
        "name": "Dr Spécialiste 2",
        "specialty": "cardiologie",
        "subspecialties": ["hta"],
    }


async def test_lists_name_the_people_in_a_constant_number_of_queries(client, ess: Ess) -> None:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    async def listed(viewer) -> tuple[list[dict], int]:
        db = ess.context.db
        engines = {db.write_engine.sync_engine, db.read_engine.sync_engine}
        statements.clear()
        for engine in engines:
            event.listen(engine, "before_cursor_execute", count)
        try:
            items = (await get(client, ess, "/api/v1/requests?limit=50", viewer))["items"]
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", count)
        return items, len(statements)

    await submit(client, ess, 0)
    one, queries_for_one = await listed(ess.coordinator)
    assert len(one) == 1
    for index in range(6):
        await submit(client, ess, index % 2, subspecialty=["rythmologie", "hta"][index % 2])
    seven, queries_for_seven = await listed(ess.coordinator)
    assert len(seven) == 7
    assert queries_for_seven == queries_for_one
    by_id = {str(user.id): user for user in [*ess.specialists, *ess.requesters]}
    for item in seven:
        assert item["requester"]["name"] == by_id[item["requester_id"]].name
        assert item["assignee"]["name"] == by_id[item["assignee_id"]].name
        assert item["question"] is None
    # A participant's list names them too.
    mine, _ = await listed(ess.requesters[1])
    assert {item["requester"]["name"] for item in mine} == {"Dr Demandeur 1"}
    assert all(item["assignee"]["specialty"] == "cardiologie" for item in mine)


async def test_messages_name_their_author_but_not_a_specialist_who_left(client, ess: Ess) -> None:
    gp = ess.requesters[0]
    request = await submit(client, ess)
    first = holder(ess, request)
    url = f"/api/v1/requests/{request['id']}/messages"
    response = await client.post(url, json={"body": "Des antécédents ?"}, headers=ess.auth(first))
    assert response.status_code == 201, response.text
    assert response.json()["author_name"] == first.name
    ess.context.clock.advance(timedelta(minutes=5))
    response = await client.post(url, json={"body": "Aucun."}, headers=ess.auth(gp))
    assert response.json()["author_name"] == "Dr Demandeur 0"
    for viewer in (gp, first):
        thread = await get(client, ess, url, viewer)
        assert [m["author_name"] for m in thread] == [first.name, "Dr Demandeur 0"]
    # Once the request has moved on, the colleague who declined it stays anonymous.
    response = await client.post(
        f"/api/v1/requests/{request['id']}/decline",
        json={"reason": "unavailable"},
        headers=ess.auth(first),
    )
    assert response.status_code == 200, response.text
    second = holder(ess, response.json())
    assert second.id != first.id
    for viewer in (gp, second):
        thread = await get(client, ess, url, viewer)
        assert [m["author_name"] for m in thread] == ["Un spécialiste de l'ESS", "Dr Demandeur 0"]
        assert first.name not in str(thread)
    assert (await client.get(url, headers=ess.auth(ess.coordinator))).status_code == 403
