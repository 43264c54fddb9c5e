"""When the service requires a second factor, an account without one enrols before anything."""

import re
from pathlib import Path

import pyotp
import pytest

from config import Settings
from tests.api.test_accounts import create
from tests.conftest import Ess

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
SITE = "http://ess.test.local"
PASSWORD = "Cardiogramme-de-nuit-47"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        secret_key="test-secret-" + "x" * 40,
        base_url=SITE,
        auth={"require_totp": True},
    )


async def test_an_account_without_it_logs_in_to_its_enrolment_alone(
    client, ess: Ess, clock
) -> None:
    created = await create(client, ess, password=PASSWORD)
    await client.get("/connexion")
    login = await client.post(
        "/connexion",
        data={"email": created["email"], "password": PASSWORD, "next": "/demandes"},
        headers={"Origin": SITE},
    )
    assert login.status_code == 303
    assert login.headers["location"] == "/compte#double-authentification"
    account = await client.get("/compte")
    assert "La double authentification est obligatoire" in account.text
    # Anything else refuses this session, and no page renews it into a whole one.
    refused = await client.get("/demandes")
    assert refused.status_code == 303
    assert refused.headers["location"] == "/compte#double-authentification"
    assert "set-cookie" not in refused.headers or "ess_session" not in refused.headers["set-cookie"]

    form = {"_csrf_token": client.cookies["ess_csrf"]}
    await client.post("/compte/double-authentification", data=form)
    pending = await client.get("/compte")
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', pending.text).group(1)  # type: ignore[union-attr]
    done = await client.post(
        "/compte/double-authentification/confirmation",
        data={**form, "code": pyotp.TOTP(secret).at(clock.now())},
    )
    assert done.status_code == 200
    assert (await client.get("/demandes")).status_code == 200
