"""The pages e-mailed links open: choosing a password from an invitation, a reset."""

import re

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


async def test_the_account_page_enrols_a_second_factor_and_changes_the_password(
    client, ess: Ess, clock
) -> None:
    import pyotp

    created = await create(client, ess, password=PASSWORD)
    await client.get("/connexion")
    await client.post(
        "/connexion",
        data={"email": created["email"], "password": PASSWORD, "next": "/"},
        headers={"Origin": SITE},
    )
    form = {"_csrf_token": client.cookies["ess_csrf"]}
    account = await client.get("/compte")
    assert "Activer la double authentification" in account.text
    started = await client.post("/compte/double-authentification", data=form)
    assert started.status_code == 303
    pending = await client.get("/compte")
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', pending.text).group(1)  # type: ignore[union-attr]
    qr = await client.get("/api/v1/me/totp/qr.svg")
    assert qr.headers["content-type"].startswith("image/svg+xml")
    wrong = await client.post(
        "/compte/double-authentification/confirmation", data={**form, "code": "000000"}
    )
    assert wrong.status_code == 422
    assert "Code de vérification incorrect" in wrong.text
    done = await client.post(
        "/compte/double-authentification/confirmation",
        data={**form, "code": pyotp.TOTP(secret).at(clock.now())},
    )
    assert done.status_code == 200
    assert len(re.findall(r"<li><code>", done.text)) == 10  # the recovery codes, once

    changed = await client.post(
        "/compte/mot-de-passe",
        data={
            **form,
            "current_password": PASSWORD,
            "new_password": "Stethoscope-du-matin-58",
            "new_password_confirmation": "Stethoscope-du-matin-58",
        },
    )
    assert changed.status_code == 303
    after = await client.get("/compte")  # this session goes on with the new password
    assert "Votre mot de passe est changé." in after.text
    assert "Codes de secours restants : 10" in after.text
