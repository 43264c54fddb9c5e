"""Accounts through the API, with a real SMTP server: invitations, resets, password changes,
the password policy, sessions that end, and the coordinator's changes to an account."""

import re
from datetime import timedelta
from email.message import EmailMessage

import pytest

from config.settings import SmtpSettings
from models import Role
from notifications.sender import OutboxSender
from tests.conftest import PARIS, Ess
from tests.notifications.smtp import SmtpServer

BASE = "http://ess.test.local"
PASSWORD = "Cardiogramme-de-nuit-47"
OTHER = "Stethoscope-du-matin-58"


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


async def deliver(ess: Ess, smtp: SmtpServer) -> list[EmailMessage]:
    """Send what the outbox holds to the SMTP server; return the messages it got this time."""
    settings = ess.context.settings
    sender = OutboxSender(
        ess.context.db,
        ess.context.clock,
        SmtpSettings(host="127.0.0.1", port=smtp.port),
        base_url=settings.base_url,
        zone=PARIS,
        link_secret=settings.resolved_secret_key(),
    )
    before = len(smtp.inbox.messages)
    await sender.send_due()
    return smtp.inbox.messages[before:]


def link(smtp: SmtpServer, mail: EmailMessage, page: str) -> str:
    """Return the token of the ``page`` link, the same in the text and the HTML part."""
    pattern = re.escape(f"{BASE}/{page}/") + r"([A-Za-z0-9_-]+)"
    [token] = set(re.findall(pattern, smtp.inbox.text(mail)))
    assert f"{BASE}/{page}/{token}" in smtp.inbox.html(mail)
    return token


async def login(client, email: str, password: str) -> int:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    return response.status_code


async def create(client, ess: Ess, **fields: object) -> dict:
    body = {"role": "requester", "email": "anne.martin@cabinet-test.fr", "name": "Dr Anne Martin"}
    body.update(fields)
    response = await client.post("/api/v1/users", json=body, headers=ess.auth(ess.coordinator))
    assert response.status_code == 201, response.text
    return response.json()


def field_error(response, field: str) -> str:
    body = response.json()
    [error] = [e for e in body["errors"] if e["field"] == field]
    return error["message"]


async def test_invitation_arrives_and_its_link_works_once(
    client, ess: Ess, smtp_server: SmtpServer
) -> None:
    created = await create(client, ess)
    [mail] = await deliver(ess, smtp_server)
    assert mail["X-Envelope-To"] == "anne.martin@cabinet-test.fr"
    assert "mot de passe" in mail["Subject"]
    text = smtp_server.inbox.text(mail)
    assert "Bonjour Dr Anne Martin" in text and "ne sert qu'une fois" in text
    token = link(smtp_server, mail, "invitation")

    described = await client.get(f"/api/v1/auth/tokens/{token}")
    assert described.status_code == 200, described.text
    assert described.json()["purpose"] == "invitation"
    assert described.json()["email"] == created["email"]
    assert described.json()["name"] == "Dr Anne Martin"
    # Until the password is chosen, nobody logs in.
    assert await login(client, created["email"], PASSWORD) == 401

    # A refused password says which rule failed and leaves the link usable.
    weak = await client.post("/api/v1/auth/invitation", json={"token": token, "password": "court"})
    assert weak.status_code == 422
    assert "12 caractères" in field_error(weak, "password")
    named = await client.post(
        "/api/v1/auth/invitation", json={"token": token, "password": "martin-cardiologie-1"}
    )
    assert named.status_code == 422
    assert "votre nom" in field_error(named, "password")

    used = await client.post("/api/v1/auth/invitation", json={"token": token, "password": PASSWORD})
    assert used.status_code == 204, used.text
    assert await login(client, created["email"], PASSWORD) == 200

    again = await client.post("/api/v1/auth/invitation", json={"token": token, "password": OTHER})
    assert again.status_code == 410
    assert "déjà servi" in again.json()["detail"]
    assert (await client.get(f"/api/v1/auth/tokens/{token}")).status_code == 410
    assert await login(client, created["email"], OTHER) == 401


async def test_invitation_link_expires_after_72_hours(
    client, ess: Ess, clock, smtp_server: SmtpServer
) -> None:
    await create(client, ess)
    [mail] = await deliver(ess, smtp_server)
    token = link(smtp_server, mail, "invitation")
    clock.advance(timedelta(hours=71, minutes=59))
    assert (await client.get(f"/api/v1/auth/tokens/{token}")).status_code == 200
    clock.advance(timedelta(minutes=1))
    expired = await client.post(
        "/api/v1/auth/invitation", json={"token": token, "password": PASSWORD}
    )
    assert expired.status_code == 410
    assert "expiré" in expired.json()["detail"]
    assert await login(client, "anne.martin@cabinet-test.fr", PASSWORD) == 401


async def test_an_invitation_not_yet_sent_gives_way_to_the_resent_one(
    client, ess: Ess, smtp_server: SmtpServer
) -> None:
    created = await create(client, ess)
    for _ in range(2):
        resent = await client.post(
            f"/api/v1/users/{created['id']}/invitation", headers=ess.auth(ess.coordinator)
        )
        assert resent.status_code == 202
    # The SMTP server was not reached in between: one e-mail, with the live link.
    [mail] = await deliver(ess, smtp_server)
    token = link(smtp_server, mail, "invitation")
    assert (await client.get(f"/api/v1/auth/tokens/{token}")).status_code == 200


async def test_a_resent_invitation_voids_the_previous_link(
    client, ess: Ess, smtp_server: SmtpServer
) -> None:
    created = await create(client, ess)
    [first] = await deliver(ess, smtp_server)
    old = link(smtp_server, first, "invitation")
    resent = await client.post(
        f"/api/v1/users/{created['id']}/invitation", headers=ess.auth(ess.coordinator)
    )
    assert resent.status_code == 202, resent.text
    [second] = await deliver(ess, smtp_server)
    new = link(smtp_server, second, "invitation")
    assert new != old

    refused = await client.post(
        "/api/v1/auth/invitation", json={"token": old, "password": PASSWORD}
    )
    assert refused.status_code == 410
    assert "remplacé" in refused.json()["detail"]
    accepted = await client.post(
        "/api/v1/auth/invitation", json={"token": new, "password": PASSWORD}
    )
    assert accepted.status_code == 204
    # Once a password is chosen there is nothing to invite to: the reset is for that.
    again = await client.post(
        f"/api/v1/users/{created['id']}/invitation", headers=ess.auth(ess.coordinator)
    )
    assert again.status_code == 409
    assert "réinitialisation" in again.json()["detail"]
    # Only the coordinator invites.
    gp = ess.requesters[0]
    forbidden = await client.post(f"/api/v1/users/{gp.id}/invitation", headers=ess.auth(gp))
    assert forbidden.status_code == 403


async def test_unknown_or_garbled_links_are_refused(client, ess: Ess) -> None:
    for token in ["n-importe-quoi", "A" * 43]:
        response = await client.get(f"/api/v1/auth/tokens/{token}")
        assert response.status_code == 404
        assert "pas valide" in response.json()["detail"]
        response = await client.post(
            "/api/v1/auth/password-reset/confirm", json={"token": token, "password": PASSWORD}
        )
        assert response.status_code == 404


async def test_reset_answers_202_for_any_address_and_mails_only_active_accounts(
    client, ess: Ess, smtp_server: SmtpServer
) -> None:
    gp = await ess.add_user(
        role=Role.REQUESTER, email="gp@cabinet-test.fr", name="Dr Généraliste", password=PASSWORD
    )
    gone = await ess.add_user(
        role=Role.REQUESTER, email="parti@cabinet-test.fr", name="Dr Parti", password=PASSWORD
    )
    await client.patch(
        f"/api/v1/users/{gone.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
    )
    for address in ["personne@cabinet-test.fr", "parti@cabinet-test.fr"]:
        response = await client.post("/api/v1/auth/password-reset", json={"email": address})
        assert response.status_code == 202
        assert "Si cette adresse est celle d'un compte actif" in response.json()["detail"]
    assert await deliver(ess, smtp_server) == []

    old_session = ess.auth(gp)
    known = await client.post("/api/v1/auth/password-reset", json={"email": "GP@Cabinet-Test.fr"})
    assert (known.status_code, known.json()) == (response.status_code, response.json())
    [mail] = await deliver(ess, smtp_server)
    assert mail["X-Envelope-To"] == "gp@cabinet-test.fr"
    token = link(smtp_server, mail, "mot-de-passe")
    assert (await client.get(f"/api/v1/auth/tokens/{token}")).json()["purpose"] == (
        "password_reset"
    )
    # A reset link is not an invitation link.
    wrong = await client.post("/api/v1/auth/invitation", json={"token": token, "password": OTHER})
    assert wrong.status_code == 404

    common = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": "password1234"}
    )
    assert common.status_code == 422
    assert "plus courants" in field_error(common, "password")
    done = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": OTHER}
    )
    assert done.status_code == 204, done.text
    assert await login(client, "gp@cabinet-test.fr", PASSWORD) == 401
    assert await login(client, "gp@cabinet-test.fr", OTHER) == 200
    # The sessions opened before the reset are over.
    assert (await client.get("/api/v1/me", headers=old_session)).status_code == 401
    again = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": PASSWORD}
    )
    assert again.status_code == 410


async def test_reset_link_lasts_one_hour_and_a_newer_one_replaces_it(
    client, ess: Ess, clock, smtp_server: SmtpServer
) -> None:
    await ess.add_user(
        role=Role.REQUESTER, email="gp@cabinet-test.fr", name="Dr Généraliste", password=PASSWORD
    )
    await client.post("/api/v1/auth/password-reset", json={"email": "gp@cabinet-test.fr"})
    [first] = await deliver(ess, smtp_server)
    clock.advance(timedelta(minutes=59))
    await client.post("/api/v1/auth/password-reset", json={"email": "gp@cabinet-test.fr"})
    [second] = await deliver(ess, smtp_server)
    replaced = await client.get(f"/api/v1/auth/tokens/{link(smtp_server, first, 'mot-de-passe')}")
    assert replaced.status_code == 410
    token = link(smtp_server, second, "mot-de-passe")
    clock.advance(timedelta(hours=1))
    expired = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": OTHER}
    )
    assert expired.status_code == 410
    assert "expiré" in expired.json()["detail"]
    assert await login(client, "gp@cabinet-test.fr", PASSWORD) == 200


async def test_reset_requests_are_throttled(client, ess: Ess) -> None:
    statuses = [
        (
            await client.post("/api/v1/auth/password-reset", json={"email": "x@cabinet-test.fr"})
        ).status_code
        for _ in range(11)
    ]
    assert statuses == [202] * 10 + [429]


async def test_changing_ones_password_ends_the_other_sessions(client, ess: Ess) -> None:
    await ess.add_user(
        role=Role.REQUESTER, email="gp@cabinet-test.fr", name="Dr Généraliste", password=PASSWORD
    )
    response = await client.post(
        "/api/v1/auth/login", json={"email": "gp@cabinet-test.fr", "password": PASSWORD}
    )
    other_device = {"Authorization": f"Bearer {response.json()['access_token']}"}
    url = "/api/v1/me/password"

    wrong = await client.post(
        url, json={"current_password": "pas-le-bon", "new_password": OTHER}, headers=other_device
    )
    assert wrong.status_code == 422
    assert "actuel incorrect" in field_error(wrong, "current_password")
    mine = await client.post(
        url,
        json={"current_password": PASSWORD, "new_password": "cabinet-test-2026-ok"},
        headers=other_device,
    )
    assert mine.status_code == 422
    assert "adresse e-mail" in field_error(mine, "new_password")

    changed = await client.post(
        url, json={"current_password": PASSWORD, "new_password": OTHER}, headers=other_device
    )
    assert changed.status_code == 200, changed.text
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    assert (await client.get("/api/v1/me", headers=other_device)).status_code == 401
    assert (await client.get("/api/v1/me", headers=fresh)).status_code == 200
    assert await login(client, "gp@cabinet-test.fr", PASSWORD) == 401
    assert await login(client, "gp@cabinet-test.fr", OTHER) == 200


async def test_deactivation_ends_sessions_for_good(client, ess: Ess) -> None:
    gp = ess.requesters[0]
    old = ess.auth(gp)
    coordinator = ess.auth(ess.coordinator)
    await client.patch(f"/api/v1/users/{gp.id}", json={"active": False}, headers=coordinator)
    await client.patch(f"/api/v1/users/{gp.id}", json={"active": True}, headers=coordinator)
    # Reactivated, the account is back, but not the tokens it had before.
    assert (await client.get("/api/v1/me", headers=old)).status_code == 401


async def test_password_policy_on_creation(client, ess: Ess) -> None:
    coordinator = ess.auth(ess.coordinator)
    body = {"role": "requester", "email": "paul.roux@cabinet-test.fr", "name": "Dr Paul Roux"}
    for password, words in [
        ("azertyuiop123", "trop facile"),
        ("Paul-Roux-Cardio-1", "votre nom"),
        ("cabinet-2026-xyz!", "adresse e-mail"),
    ]:
        response = await client.post(
            "/api/v1/users", json={**body, "password": password}, headers=coordinator
        )
        assert response.status_code == 422, password
        assert words in field_error(response, "password")
    created = await client.post(
        "/api/v1/users", json={**body, "password": PASSWORD}, headers=coordinator
    )
    assert created.status_code == 201
    assert await login(client, "paul.roux@cabinet-test.fr", PASSWORD) == 200


async def test_the_roster_import_invites_new_specialists_once(
    client, ess: Ess, smtp_server: SmtpServer
) -> None:
    from tests.api.test_roster import ROSTER, upload

    for _ in range(2):  # the same file again changes nothing, and sends nothing
        assert (await upload(client, ess, ROSTER, confirm=True)).status_code == 200
        mails = await deliver(ess, smtp_server)
    assert mails == []
    [mail] = smtp_server.inbox.messages
    assert mail["X-Envelope-To"] == "nouvelle.cardio@ess-test.fr"
    token = link(smtp_server, mail, "invitation")
    accepted = await client.post(
        "/api/v1/auth/invitation", json={"token": token, "password": OTHER}
    )
    assert accepted.status_code == 204
    assert await login(client, "nouvelle.cardio@ess-test.fr", OTHER) == 200


async def test_two_uses_of_one_link_at_once_let_exactly_one_through(
    client, ess: Ess, smtp_server: SmtpServer
) -> None:
    import asyncio

    created = await create(client, ess)
    assert created["password_set"] is False
    [mail] = await deliver(ess, smtp_server)
    token = link(smtp_server, mail, "invitation")
    first, second = await asyncio.gather(
        client.post("/api/v1/auth/invitation", json={"token": token, "password": PASSWORD}),
        client.post("/api/v1/auth/invitation", json={"token": token, "password": OTHER}),
    )
    assert sorted([first.status_code, second.status_code]) == [204, 410]
    chosen = PASSWORD if first.status_code == 204 else OTHER
    refused = OTHER if chosen == PASSWORD else PASSWORD
    assert await login(client, created["email"], chosen) == 200
    assert await login(client, created["email"], refused) == 401
    listed = await client.get("/api/v1/users", headers=ess.auth(ess.coordinator))
    [account] = [u for u in listed.json() if u["id"] == created["id"]]
    assert account["password_set"] is True
