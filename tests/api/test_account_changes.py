"""The coordinator changes an account: name, e-mail (confirmed by a link), role's fields."""

from datetime import timedelta

from models import Role
from tests.api.test_accounts import PASSWORD, deliver, link, login, smtp_server
from tests.conftest import Ess, request_payload
from tests.notifications.smtp import SmtpServer

__all__ = ["smtp_server"]


async def patch(client, ess: Ess, user_id: object, **fields: object):
    return await client.patch(
        f"/api/v1/users/{user_id}", json=fields, headers=ess.auth(ess.coordinator)
    )


async def test_a_new_address_counts_once_confirmed(
    client, ess: Ess, clock, smtp_server: SmtpServer
) -> None:
    gp = await ess.add_user(
        role=Role.REQUESTER, email="gp@cabinet-test.fr", name="Dr Généraliste", password=PASSWORD
    )
    session = ess.auth(gp)
    response = await patch(client, ess, gp.id, email="Nouvelle.Adresse@Cabinet-Test.fr")
    assert response.status_code == 200, response.text
    # Until the link is followed the account keeps its address.
    assert response.json()["email"] == "gp@cabinet-test.fr"
    [mail] = await deliver(ess, smtp_server)
    assert mail["X-Envelope-To"] == "nouvelle.adresse@cabinet-test.fr"
    token = link(smtp_server, mail, "confirmation-adresse")
    described = (await client.get(f"/api/v1/auth/tokens/{token}")).json()
    assert described["purpose"] == "email_confirmation"
    assert described["email"] == "nouvelle.adresse@cabinet-test.fr"
    assert await login(client, "gp@cabinet-test.fr", PASSWORD) == 200

    clock.advance(timedelta(hours=23))
    confirmed = await client.post("/api/v1/auth/email-confirmation", json={"token": token})
    assert confirmed.status_code == 204, confirmed.text
    assert await login(client, "nouvelle.adresse@cabinet-test.fr", PASSWORD) == 200
    assert await login(client, "gp@cabinet-test.fr", PASSWORD) == 401
    me = await client.get("/api/v1/me", headers=session)
    assert me.json()["email"] == "nouvelle.adresse@cabinet-test.fr"
    again = await client.post("/api/v1/auth/email-confirmation", json={"token": token})
    assert again.status_code == 410


async def test_an_invited_account_moves_at_once_and_is_invited_there(
    client, ess: Ess, smtp_server: SmtpServer
) -> None:
    created = await client.post(
        "/api/v1/users",
        json={"role": "requester", "email": "faute@cabinet-test.fr", "name": "Dr Anne Martin"},
        headers=ess.auth(ess.coordinator),
    )
    [typo] = await deliver(ess, smtp_server)
    response = await patch(client, ess, created.json()["id"], email="anne.martin@cabinet-test.fr")
    assert response.json()["email"] == "anne.martin@cabinet-test.fr"
    [mail] = await deliver(ess, smtp_server)
    assert mail["X-Envelope-To"] == "anne.martin@cabinet-test.fr"
    # The link sent to the mistyped address no longer works.
    old = link(smtp_server, typo, "invitation")
    assert (await client.get(f"/api/v1/auth/tokens/{old}")).status_code == 410
    token = link(smtp_server, mail, "invitation")
    accepted = await client.post(
        "/api/v1/auth/invitation", json={"token": token, "password": PASSWORD}
    )
    assert accepted.status_code == 204
    assert await login(client, "anne.martin@cabinet-test.fr", PASSWORD) == 200


async def test_the_coordinator_changes_names_and_role_fields(client, ess: Ess) -> None:
    gp = ess.requesters[1]
    response = await patch(
        client, ess, gp.id, name="Dr Demandeur Renommé", treating_physician=True, rpps="10000000017"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["treating_physician"], body["rpps"]) == (
        "Dr Demandeur Renommé",
        True,
        "10000000017",
    )
    removed = await patch(client, ess, gp.id, rpps=None)
    assert removed.json()["rpps"] is None

    specialist = ess.specialists[0]
    response = await patch(client, ess, specialist.id, capacity=7, subspecialties=["hta"])
    assert (response.json()["capacity"], response.json()["subspecialties"]) == (7, ["hta"])


async def test_bad_changes_are_refused_and_change_nothing(client, ess: Ess) -> None:
    gp, specialist = ess.requesters[0], ess.specialists[0]
    cases = [
        (gp.id, {"email": "specialiste0@ess-test.fr"}, 409, "existe déjà"),
        (gp.id, {"capacity": 3}, 422, "spécialistes"),
        (gp.id, {"specialty": "cardiologie"}, 422, "spécialistes"),
        (specialist.id, {"treating_physician": True}, 422, "demandeur"),
        (specialist.id, {"specialty": "dermatologie"}, 422, "inconnue"),
        (specialist.id, {"subspecialties": ["inconnue"]}, 422, "inconnue"),
        (gp.id, {"rpps": "12345678901"}, 400, "rpps"),
        (gp.id, {"name": ""}, 400, "name"),
        (gp.id, {"name": None}, 422, "vide"),
        (gp.id, {"email": "pas-une-adresse"}, 400, "email"),
    ]
    for user_id, fields, status, needle in cases:
        response = await patch(client, ess, user_id, **fields)
        assert response.status_code == status, (fields, response.text)
        assert needle in response.text, (fields, response.text)
    listed = await client.get("/api/v1/users", headers=ess.auth(ess.coordinator))
    by_id = {u["id"]: u for u in listed.json()}
    assert by_id[str(gp.id)]["email"] == gp.email
    assert by_id[str(gp.id)]["name"] == gp.name
    assert by_id[str(specialist.id)]["treating_physician"] is False
    assert by_id[str(specialist.id)]["subspecialties"] == ["rythmologie"]


async def test_a_specialist_moves_to_another_specialty(client, ess: Ess) -> None:
    coordinator = ess.auth(ess.coordinator)
    added = await client.post(
        "/api/v1/specialties",
        json={
            "code": "pneumologie",
            "name": "Pneumologie",
            "subspecialties": [{"code": "sommeil", "name": "Sommeil"}],
        },
        headers=coordinator,
    )
    assert added.status_code == 201, added.text
    specialist = ess.specialists[1]
    # The old specialty's sub-specialties do not exist in the new one.
    wrong = await patch(client, ess, specialist.id, specialty="pneumologie", subspecialties=["hta"])
    assert wrong.status_code == 422
    moved = await patch(client, ess, specialist.id, specialty="pneumologie")
    assert moved.status_code == 200, moved.text
    assert (moved.json()["specialty"], moved.json()["subspecialties"]) == ("pneumologie", [])
    moved = await patch(client, ess, specialist.id, subspecialties=["sommeil"])
    assert moved.json()["subspecialties"] == ["sommeil"]


async def test_nobody_is_deactivated_into_a_dead_end(client, ess: Ess) -> None:
    """The coordinator cannot lock themself out, nor leave requests with someone gone."""
    coordinator = ess.auth(ess.coordinator)
    own = await client.patch(
        f"/api/v1/users/{ess.coordinator.id}", json={"active": False}, headers=coordinator
    )
    assert own.status_code == 422, own.text
    assert own.json()["errors"][0]["field"] == "active"
    assert "votre propre compte" in own.json()["detail"]

    submitted = await client.post(
        "/api/v1/requests", json=request_payload(), headers=ess.auth(ess.requesters[0])
    )
    holder = submitted.json()["assignee_id"]
    refused = await client.patch(
        f"/api/v1/users/{holder}", json={"active": False}, headers=coordinator
    )
    assert refused.status_code == 409, refused.text
    assert "détient encore 1 demande ouverte" in refused.json()["detail"]
    users = (await client.get("/api/v1/users", headers=coordinator)).json()
    assert next(u for u in users if u["id"] == holder)["active"] is True

    # Once the request is with someone else, the account can go.
    other = next(s for s in ess.specialists if str(s.id) != holder)
    moved = await client.post(
        f"/api/v1/requests/{submitted.json()['id']}/assign",
        json={"assignee_id": str(other.id)},
        headers=coordinator,
    )
    assert moved.status_code == 200, moved.text
    gone = await client.patch(
        f"/api/v1/users/{holder}", json={"active": False}, headers=coordinator
    )
    assert gone.status_code == 200 and gone.json()["active"] is False
