"""Invitations from the command line: ``user create --invite``, sent by ``outbox send`` to a
real SMTP server, and the link in the e-mail works once through the API."""

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from app.context import AppContext
from app.main import create_app
from config import Settings, SystemClock
from models.storage import Database
from tests.cli.test_cli import assert_one_line_error, env, run
from tests.notifications.smtp import SmtpServer

__all__ = ["env"]

BASE = "http://ess.test.local"
SECRET = "secret-de-test-cli-" + "x" * 40
PASSWORD = "Cardiogramme-de-nuit-47"


@pytest.fixture
def smtp_env(env: dict[str, str]):
    server = SmtpServer().start()
    yield (
        server,
        {
            **env,
            "ESS_SECRET_KEY": SECRET,
            "ESS_BASE_URL": BASE,
            "ESS_SMTP__HOST": "127.0.0.1",
            "ESS_SMTP__PORT": str(server.port),
        },
    )
    server.stop()


def api(
    env: dict[str, str],
    tmp_path: Path,
    *calls: tuple[str, str, dict | None],
    headers: dict[str, str] | None = None,
) -> list:
    """Make API calls on the command's database (same secret key); return the responses."""

    async def go() -> list:
        settings = Settings(
            database_url=env["ESS_DATABASE_URL"],
            data_dir=tmp_path,
            secret_key=SECRET,
            base_url=BASE,
        )
        context = AppContext(
            settings=settings, db=Database(settings.database_url), clock=SystemClock()
        )
        transport = httpx.ASGITransport(app=create_app(context))
        try:
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
                return [
                    await client.request(m, url, json=body, headers=headers)
                    for m, url, body in calls
                ]
        finally:
            await context.db.dispose()

    return asyncio.run(go())


def test_user_create_invite_mails_a_link_that_works_once(smtp_env, tmp_path: Path) -> None:
    smtp, env = smtp_env
    assert run(env, "db", "upgrade").returncode == 0
    args = ["user", "create", "--role", "requester", "--email", "Anne.Martin@cabinet-test.fr"]
    result = run(env, *args, "--name", "Dr Anne Martin", "--invite")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"[0-9a-f-]{36}\n", result.stdout)
    assert "Invitation envoyée à anne.martin@cabinet-test.fr" in result.stderr

    assert run(env, "outbox", "send").returncode == 0
    [mail] = smtp.inbox.messages
    assert mail["X-Envelope-To"] == "anne.martin@cabinet-test.fr"
    [token] = re.findall(re.escape(f"{BASE}/invitation/") + r"([\w-]+)", smtp.inbox.text(mail))

    login = (
        "POST",
        "/api/v1/auth/login",
        {"email": "anne.martin@cabinet-test.fr", "password": PASSWORD},
    )
    use = ("POST", "/api/v1/auth/invitation", {"token": token, "password": PASSWORD})
    before, first, second, after = api(env, tmp_path, login, use, use, login)
    assert before.status_code == 401
    assert first.status_code == 204, first.text
    assert second.status_code == 410
    assert after.status_code == 200


def test_invite_and_password_exclude_each_other_and_weak_passwords_are_refused(
    smtp_env, tmp_path: Path
) -> None:
    _, env = smtp_env
    assert run(env, "db", "upgrade").returncode == 0
    args = ["user", "create", "--role", "requester", "--email", "paul@cabinet-test.fr"]
    args += ["--name", "Dr Paul Roux"]
    assert_one_line_error(run(env, *args, "--invite", "--password", PASSWORD), "s'excluent")
    assert_one_line_error(run(env, *args, "--password", "Paul-Roux-2026!"), "votre nom")
    assert_one_line_error(run(env, *args, "--password", "qwertyuiop12"), "trop facile")
    listed = run(env, "user", "list")
    assert "paul@cabinet-test.fr" not in listed.stdout


def test_set_password_and_deactivate_end_the_open_sessions(smtp_env, tmp_path: Path) -> None:
    _, env = smtp_env
    assert run(env, "db", "upgrade").returncode == 0
    email = "gp@cabinet-test.fr"
    args = ["user", "create", "--role", "requester", "--email", email, "--name", "Dr Généraliste"]
    assert run(env, *args, "--password", PASSWORD).returncode == 0
    me = ("GET", "/api/v1/me", None)

    def session() -> dict[str, str]:
        result = run(env, "token", email)
        assert result.returncode == 0, result.stderr
        return {"Authorization": f"Bearer {result.stdout.strip()}"}

    opened = session()
    assert api(env, tmp_path, me, headers=opened)[0].status_code == 200
    changed = run(
        {**env, "ESS_NEW_PASSWORD": "Stethoscope-du-matin-58"}, "user", "set-password", email
    )
    assert changed.returncode == 0, changed.stderr
    assert "sessions ouvertes sont fermées" in changed.stdout
    [refused] = api(env, tmp_path, me, headers=opened)
    assert refused.status_code == 401 and "mot de passe" in refused.json()["detail"]

    opened = session()
    assert run(env, "user", "deactivate", email).returncode == 0
    assert api(env, tmp_path, me, headers=opened)[0].status_code == 401
