"""Who may do what: 401 without a token, 403 for a wrong role, 404 for what one may not see."""

import asyncio
import uuid
from datetime import timedelta

import pytest

from tests.conftest import Ess, request_payload
from tests.factories import submit


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/requests"),
        ("POST", "/api/v1/requests"),
        ("GET", "/api/v1/specialties"),
        ("POST", "/api/v1/users"),
    ],
)
async def test_no_token_is_401(client, method: str, path: str) -> None:
    response = await client.request(method, path, json={})
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == 401
    assert body["title"] == "Authentification requise"
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_garbage_or_expired_token_is_401(client, ess: Ess) -> None:
    response = await client.get("/api/v1/me", headers={"Authorization": "Bearer not.a.token"})
    assert response.status_code == 401
    token = ess.context.jwt_auth.create_token(
        identifier=str(ess.coordinator.id), token_expiration=timedelta(seconds=1)
    )
    await asyncio.sleep(1.1)
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_deactivated_account_loses_access(client, ess: Ess) -> None:
    gp = ess.requesters[0]
    headers = ess.auth(gp)
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    await client.patch(
        f"/api/v1/users/{gp.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
    )
    response = await client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert "désactivé" in response.json()["detail"]


async def test_login_with_password_then_me(client, ess: Ess) -> None:
    await ess.add_user(
        role="requester",
        email="login@cabinet-test.fr",
        name="Dr Login",
        password="un-mot-de-passe-solide",
    )
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": "LOGIN@cabinet-test.fr", "password": "un-mot-de-passe-solide"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 8 * 3600
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["email"] == "login@cabinet-test.fr"
    assert me.json()["role"] == "requester"


async def test_wrong_password_and_unknown_email_look_the_same(client, ess: Ess) -> None:
    await ess.add_user(
        role="requester",
        email="pw@cabinet-test.fr",
        name="Dr Pw",
        password="un-mot-de-passe-solide",
    )
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": "pw@cabinet-test.fr", "password": "mauvais"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@cabinet-test.fr", "password": "mauvais"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


@pytest.mark.parametrize(
    ("role_index", "method", "path", "body"),
    [
        (
            "requester",
            "POST",
            "/api/v1/users",
            {"role": "requester", "email": "x@ess-test.fr", "name": "X"},
        ),
        ("specialist", "GET", "/api/v1/users", None),
        ("requester", "POST", "/api/v1/specialties", {"code": "derm", "name": "Dermatologie"}),
        ("specialist", "POST", "/api/v1/requests", request_payload()),
        ("coordinator", "POST", "/api/v1/requests", request_payload()),
    ],
)
async def test_wrong_role_is_403(
    client, ess: Ess, role_index: str, method: str, path: str, body: dict | None
) -> None:
    user = {
        "requester": ess.requesters[0],
        "specialist": ess.specialists[0],
        "coordinator": ess.coordinator,
    }[role_index]
    response = await client.request(method, path, json=body, headers=ess.auth(user))
    assert response.status_code == 403
    assert response.json()["title"] == "Accès refusé"


async def test_requester_cannot_act_as_specialist(client, ess: Ess) -> None:
    request = await submit(client, ess)
    response = await client.post(
        f"/api/v1/requests/{request['id']}/accept", headers=ess.auth(ess.requesters[0])
    )
    assert response.status_code == 403


async def test_scoping_own_assigned_or_all(client, ess: Ess) -> None:
    mine = await submit(client, ess, 0)
    theirs = await submit(client, ess, 1)
    other_gp = ess.requesters[1]
    # Another requester's request does not exist for me.
    response = await client.get(f"/api/v1/requests/{mine['id']}", headers=ess.auth(other_gp))
    assert response.status_code == 404
    listing = (await client.get("/api/v1/requests", headers=ess.auth(other_gp))).json()
    assert [item["id"] for item in listing["items"]] == [theirs["id"]]
    # A specialist sees what is assigned to them, not the others'.
    by_id = {str(s.id): s for s in ess.specialists}
    assignee = by_id[mine["assignee_id"]]
    listing = (await client.get("/api/v1/requests", headers=ess.auth(assignee))).json()
    assert mine["id"] in [item["id"] for item in listing["items"]]
    not_assignee = next(s for s in ess.specialists if str(s.id) != mine["assignee_id"])
    response = await client.get(f"/api/v1/requests/{mine['id']}", headers=ess.auth(not_assignee))
    assert response.status_code == 404
    response = await client.post(
        f"/api/v1/requests/{mine['id']}/answer",
        json={"answer": "x", "outcome": "advice"},
        headers=ess.auth(not_assignee),
    )
    assert response.status_code == 404
    # The coordinator sees both.
    listing = (await client.get("/api/v1/requests", headers=ess.auth(ess.coordinator))).json()
    assert listing["total"] == 2


async def test_coordinator_never_sees_clinical_content(client, ess: Ess) -> None:
    request = await submit(client, ess)
    for response in [
        await client.get(f"/api/v1/requests/{request['id']}", headers=ess.auth(ess.coordinator)),
    ]:
        body = response.json()
        assert body["question"] is None
        assert body["patient"] is None
        assert body["answer"] is None
        assert body["reference"] == request["reference"]
    listing = (await client.get("/api/v1/requests", headers=ess.auth(ess.coordinator))).json()
    assert listing["items"][0]["question"] is None
    assert "Durand" not in str(listing)


async def test_unknown_request_id_is_404(client, ess: Ess) -> None:
    response = await client.get(
        f"/api/v1/requests/{uuid.uuid4()}", headers=ess.auth(ess.coordinator)
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "Demande introuvable."


async def test_list_filters_by_status_and_paginates(client, ess: Ess) -> None:
    for _ in range(3):
        await submit(client, ess)
    headers = ess.auth(ess.coordinator)
    page = (await client.get("/api/v1/requests?limit=2&offset=0", headers=headers)).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    page2 = (await client.get("/api/v1/requests?limit=2&offset=2", headers=headers)).json()
    assert len(page2["items"]) == 1
    assert {i["id"] for i in page["items"]}.isdisjoint({i["id"] for i in page2["items"]})
    assigned = (await client.get("/api/v1/requests?status=assigned", headers=headers)).json()
    assert assigned["total"] == 3
    none = (await client.get("/api/v1/requests?status=closed", headers=headers)).json()
    assert none == {"items": [], "total": 0}


async def test_password_guessing_is_throttled(client, ess: Ess) -> None:
    statuses = []
    for _ in range(11):
        response = await client.post(
            "/api/v1/auth/login", json={"email": "x@cabinet-test.fr", "password": "devine"}
        )
        statuses.append(response.status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    assert "réessayez" in response.json()["detail"]
    # Other endpoints are not throttled.
    for _ in range(15):
        assert (await client.get("/health")).status_code == 200
