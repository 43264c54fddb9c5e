"""The ``ess-router`` command, run as a user runs it: a real process, a real database file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "ess-router"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ESS_")}
    clean.update(
        {
            "ESS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
            "ESS_DATA_DIR": str(tmp_path),
        }
    )
    return clean


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN), *args],
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, needle: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ess-router: ")
    assert needle in lines[0]
    assert "Traceback" not in result.stderr


def test_upgrade_create_users_and_token(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli.db").exists()
    # The dev secret is generated once, private to its owner.
    secret = tmp_path / "ess-router.secret"
    result = run(
        env,
        "user",
        "create",
        "--role",
        "coordinator",
        "--email",
        "coord@ess-test.fr",
        "--name",
        "Coordination",
        "--password",
        "un-long-secret",
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) == 36  # a UUID

    env_with_password = {**env, "ESS_NEW_PASSWORD": "encore-un-long-secret"}
    result = run(
        env_with_password,
        "user",
        "create",
        "--role",
        "requester",
        "--email",
        "gp@cabinet-test.fr",
        "--name",
        "Dr GP",
        "--rpps",
        "10000000017",
        "--treating-physician",
    )
    assert result.returncode == 0, result.stderr

    result = run(env, "token", "gp@cabinet-test.fr", "--ttl", "600")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.count(".") == 2
    # Signing needed a secret: dev generated one, readable by its owner only, and keeps it.
    assert secret.stat().st_mode & 0o777 == 0o600
    first = secret.read_text()
    assert run(env, "token", "gp@cabinet-test.fr").returncode == 0
    assert secret.read_text() == first


def test_token_is_accepted_by_the_api(env: dict[str, str], tmp_path: Path) -> None:
    import asyncio

    import httpx

    from app.context import AppContext
    from app.main import create_app
    from config import Settings, SystemClock
    from models.storage import Database

    assert run(env, "db", "upgrade").returncode == 0
    run(
        env,
        "user",
        "create",
        "--role",
        "coordinator",
        "--email",
        "c@ess-test.fr",
        "--name",
        "C",
        "--password",
        "un-long-secret",
    )
    token = run(env, "token", "c@ess-test.fr").stdout.strip()

    async def me() -> dict:
        settings = Settings(database_url=env["ESS_DATABASE_URL"], data_dir=tmp_path)
        context = AppContext(
            settings=settings, db=Database(settings.database_url), clock=SystemClock()
        )
        transport = httpx.ASGITransport(app=create_app(context))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get(
                    "/api/v1/me", headers={"Authorization": f"Bearer {token}"}
                )
                return response.json()
        finally:
            await context.db.dispose()

    assert asyncio.run(me())["email"] == "c@ess-test.fr"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["user", "create", "--role", "chef", "--email", "a@b.fr", "--name", "X"], "--role"),
        (
            [
                "user",
                "create",
                "--role",
                "requester",
                "--email",
                "x@ess-test.fr",
                "--name",
                "X",
                "--rpps",
                "12345678901",
                "--password",
                "un-long-secret",
            ],
            "clé de contrôle",
        ),
        (
            [
                "user",
                "create",
                "--role",
                "requester",
                "--email",
                "pas-une-adresse",
                "--name",
                "X",
                "--password",
                "un-long-secret",
            ],
            "email",
        ),
        (
            [
                "user",
                "create",
                "--role",
                "specialist",
                "--email",
                "s@ess-test.fr",
                "--name",
                "S",
                "--specialty",
                "cardiologie",
                "--password",
                "un-long-secret",
            ],
            "Spécialité inconnue",
        ),
        (
            ["user", "create", "--role", "requester", "--email", "x@ess-test.fr", "--name", "X"],
            "mot de passe requis",
        ),
        (["token", "personne@ess-test.fr"], "Aucun compte"),
        (["token", "x@ess-test.fr", "--ttl", "5"], "--ttl"),
        (["nonexistent-command"], "No such command"),
    ],
)
def test_bad_input_is_one_line(env: dict[str, str], args: list[str], needle: str) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    assert_one_line_error(run(env, *args, stdin=""), needle)


def test_prod_refuses_generated_secrets(env: dict[str, str]) -> None:
    result = run({**env, "ESS_ENV": "prod"}, "serve", "--port", "8765")
    assert_one_line_error(result, "ESS_SECRET_KEY")
    result = run({**env, "ESS_ENV": "prod", "ESS_SECRET_KEY": "change-me"}, "serve")
    assert_one_line_error(result, "placeholder")


def test_unreachable_database_is_one_line(env: dict[str, str]) -> None:
    result = run(
        {**env, "ESS_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:9/x"}, "db", "upgrade"
    )
    # The one line says which server could not be reached.
    assert_one_line_error(result, "127.0.0.1")


def test_bad_setting_is_one_line(env: dict[str, str]) -> None:
    result = run({**env, "ESS_SLA__WARN_AT": "1.5"}, "db", "upgrade")
    assert_one_line_error(result, "ESS_SLA.WARN_AT")


def test_prod_refuses_to_start_without_the_key_file(env: dict[str, str], tmp_path) -> None:
    result = run(
        {
            **env,
            "ESS_ENV": "prod",
            "ESS_SECRET_KEY": "s" * 48,
            "ESS_DATA_KEY_FILE": str(tmp_path / "absent.keys"),
        },
        "serve",
        "--port",
        "8766",
    )
    assert_one_line_error(result, "absent.keys")


def test_outbox_commands(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    result = run(env, "outbox", "list")
    assert result.returncode == 0 and "Aucune notification" in result.stdout
    result = run(env, "outbox", "send")
    assert result.returncode == 0 and "held" in result.stdout
    assert_one_line_error(run(env, "outbox", "retry"), "--failed")
    assert_one_line_error(run(env, "outbox", "retry", "pas-un-id"), "identifiant invalide")
    result = run(env, "outbox", "retry", "--failed")
    assert result.returncode == 0 and "0 notification" in result.stdout


def test_audit_verify_on_an_empty_trail(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    result = run(env, "audit", "verify")
    assert result.returncode == 0 and "0 entrée(s)" in result.stdout
