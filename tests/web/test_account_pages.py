"""The pages e-mailed links open: choosing a password from an invitation, a reset."""

import pytest

from tests.api.test_accounts import create, deliver, link
from tests.conftest import Ess
from tests.notifications.smtp import SmtpServer

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
SITE = "http://ess.test.local"
PASSWORD = "Cardiogramme-de-nuit-47"


@pytest.fixture
def smtp_server():  # type: ignore[no-untyped-def]
    server = SmtpServer().start()
    yield server
    server.stop()


async def test_from_the_invitation_a_new_gp_chooses_a_password_and_logs_in(
    client, ess: Ess, smtp_server: SmtpServer
) -> None:
    await create(client, ess)
    [mail] = await deliver(ess, smtp_server)
    token = link(smtp_server, mail, "invitation")

    shown = await client.get(f"/invitation/{token}")
    assert shown.status_code == 200
    assert "Dr Anne Martin" in shown.text
    csrf = {"_csrf_token": client.cookies["ess_csrf"]}
    mismatch = await client.post(
        f"/invitation/{token}",
        data={**csrf, "password": PASSWORD, "password_confirmation": PASSWORD + "x"},
        headers={"Origin": SITE},
    )
    assert mismatch.status_code == 422
    assert "ne sont pas identiques" in mismatch.text
    weak = await client.post(
        f"/invitation/{token}",
        data={**csrf, "password": "anne.martin", "password_confirmation": "anne.martin"},
        headers={"Origin": SITE},
    )
    assert weak.status_code == 422
    assert 'aria-invalid="true"' in weak.text
    chosen = await client.post(
        f"/invitation/{token}",
        data={**csrf, "password": PASSWORD, "password_confirmation": PASSWORD},
        headers={"Origin": SITE},
    )
    assert chosen.status_code == 303
    login_page = await client.get(chosen.headers["location"])
    assert "Votre mot de passe est enregistré" in login_page.text
    logged = await client.post(
        "/connexion",
        data={"email": "anne.martin@cabinet-test.fr", "password": PASSWORD, "next": "/"},
        headers={"Origin": SITE},
    )
    assert logged.status_code == 303
    again = await client.get(f"/invitation/{token}")
    assert again.status_code == 410
    assert "Ce lien a déjà servi" in again.text


async def test_a_forgotten_password_says_the_same_whatever_the_address(
    client, ess: Ess, smtp_server: SmtpServer
) -> None:
    await create(client, ess, password=PASSWORD)
    await deliver(ess, smtp_server)
    answers = []
    for email in ("anne.martin@cabinet-test.fr", "personne@nulle-part.fr"):
        await client.get("/mot-de-passe-oublie")
        response = await client.post(
            "/mot-de-passe-oublie",
            data={"email": email, "_csrf_token": client.cookies["ess_csrf"]},
            headers={"Origin": SITE},
        )
        assert response.status_code == 200
        answers.append(response.text)
    assert answers[0] == answers[1]
    [mail] = await deliver(ess, smtp_server)
    token = link(smtp_server, mail, "mot-de-passe")
    page = await client.get(f"/mot-de-passe/{token}")
    assert "Choisissez un nouveau mot de passe" in page.text
    unknown = await client.get("/mot-de-passe/inconnu")
    assert unknown.status_code == 404
