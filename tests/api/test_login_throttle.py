"""Password guessing against a running server: per address (proxies believed only if trusted)
and per account, whatever the addresses."""

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from app.context import AppContext
from app.main import create_app
from models import Role
from models.storage import Database
from tests.conftest import Ess
from tests.servers import ServerProcess

# Forwarded headers and the throttle's memory do not depend on the database.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
PASSWORD = "mot-de-passe-solide"
LOGIN = "/api/v1/auth/login"


def server_env(settings, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(tmp_path),
        # Small limits: each guess costs an Argon2 verification.
        "ESS_LOGIN_ATTEMPTS_PER_MINUTE": "3",
        "ESS_LOGIN_FAILURES_PER_ACCOUNT": "3",
        **extra,
    }


async def guess(http: httpx.AsyncClient, email: str, forwarded_for: str) -> httpx.Response:
    return await http.post(
        LOGIN,
        json={"email": email, "password": "devine-devine"},
        headers={"X-Forwarded-For": forwarded_for},
    )


@pytest.mark.usefixtures("ess")
async def test_forwarded_for_from_an_untrusted_peer_does_not_reset_the_throttle(
    settings, tmp_path: Path
) -> None:
    server = ServerProcess(server_env(settings, tmp_path), tmp_path / "server.log")
    with server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            statuses = [
                (await guess(http, f"inconnu{i}@cabinet-test.fr", f"203.0.113.{i}")).status_code
                for i in range(4)
            ]
            assert statuses == [401] * 3 + [429]
            refused = await guess(http, "inconnu@cabinet-test.fr", "198.51.100.7")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "réessayez" in refused.json()["detail"]


async def test_a_trusted_proxy_names_the_client_and_each_account_has_its_own_limit(
    victim: str, settings, tmp_path: Path
) -> None:
    env = server_env(settings, tmp_path, ESS_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8")
    server = ServerProcess(env, tmp_path / "server.log")
    with server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            # The clients behind the proxy are counted one by one.
            statuses = [
                (await guess(http, f"inconnu{i}@cabinet-test.fr", f"203.0.113.{i}")).status_code
                for i in range(5)
            ]
            assert statuses == [401] * 5
            assert (await guess(http, "inconnu@cabinet-test.fr", "203.0.113.1")).status_code == 401
            statuses = [
                (await guess(http, f"autre{i}@cabinet-test.fr", "198.51.100.1")).status_code
                for i in range(4)
            ]
            assert statuses == [401] * 3 + [429]

            # One account guessed from many addresses: three failures, then 429 for a while,
            # even with the right password.
            statuses = [(await guess(http, victim, f"192.0.2.{i}")).status_code for i in range(3)]
            assert statuses == [401] * 3
            refused = await http.post(
                LOGIN,
                json={"email": victim, "password": PASSWORD},
                headers={"X-Forwarded-For": "192.0.2.200"},
            )
    assert refused.status_code == 429
    assert 14 * 60 <= int(refused.headers["retry-after"]) <= 15 * 60
    assert refused.json()["detail"].startswith("Trop de tentatives de connexion échouées")


@pytest_asyncio.fixture
async def victim(ess: Ess) -> str:
    email = "victime@cabinet-test.fr"
    await ess.add_user(role=Role.REQUESTER, email=email, name="Dr Victime", password=PASSWORD)
    return email


async def test_a_failed_login_says_why_in_french(client, victim: str) -> None:
    response = await client.post(LOGIN, json={"email": victim, "password": "pas-le-bon"})
    assert response.status_code == 401
    assert response.json()["detail"] == "Adresse e-mail ou mot de passe incorrect."
    response = await client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Authentification requise")


async def test_the_account_limit_lifts_after_its_window(context, clock, victim: str) -> None:
    # Many addresses (a generous per-address limit here), one account.
    settings = context.settings.model_copy(update={"login_attempts_per_minute": 100})
    other = AppContext(settings=settings, db=Database(settings.database_url), clock=clock)
    transport = httpx.ASGITransport(app=create_app(other))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://ess.test.local") as http:
            for _ in range(10):
                response = await http.post(LOGIN, json={"email": victim, "password": "non"})
                assert response.status_code == 401
            # The same address in another spelling is the same account.
            response = await http.post(
                LOGIN, json={"email": "VICTIME@Cabinet-Test.fr", "password": PASSWORD}
            )
            assert response.status_code == 429
            clock.advance(timedelta(minutes=15))
            response = await http.post(LOGIN, json={"email": victim, "password": PASSWORD})
            assert response.status_code == 200, response.text
            # A success wipes the slate: the next failures start from zero.
            response = await http.post(LOGIN, json={"email": victim, "password": "non"})
            assert response.status_code == 401
    finally:
        await other.db.dispose()
