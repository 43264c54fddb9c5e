"""Account care from the command line: list, set a password, deactivate."""

import asyncio
from pathlib import Path

import httpx
import pytest

from app.context import AppContext
from app.main import create_app
from app.services.specialties import create_specialty
from config import Settings, SystemClock
from models import SpecialtyCreate
from models.storage import Database
from tests.cli.test_cli import assert_one_line_error, env, run

__all__ = ["env"]


def login(env: dict[str, str], tmp_path: Path, email: str, password: str) -> int:
    """Log in through the API on the command's database; return the HTTP status."""

    async def attempt() -> int:
        settings = Settings(database_url=env["ESS_DATABASE_URL"], data_dir=tmp_path)
        context = AppContext(
            settings=settings, db=Database(settings.database_url), clock=SystemClock()
        )
        transport = httpx.ASGITransport(app=create_app(context))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.post(
                    "/api/v1/auth/login", json={"email": email, "password": password}
                )
                return response.status_code
        finally:
            await context.db.dispose()

    return asyncio.run(attempt())


def seed_specialties(env: dict[str, str]) -> None:
    """Add cardiology with two sub-specialties to the command's database."""

    async def seed() -> None:
        db = Database(env["ESS_DATABASE_URL"])
        try:
            async with db.transaction() as session:
                await create_specialty(
                    session,
                    SpecialtyCreate(
                        code="cardiologie",
                        name="Cardiologie",
                        subspecialties=[
                            {"code": "rythmologie", "name": "Rythmologie"},
                            {"code": "insuffisance-cardiaque", "name": "Insuffisance cardiaque"},
                        ],
                    ),
                )
        finally:
            await db.dispose()

    asyncio.run(seed())


def create(env: dict[str, str], role: str, email: str, name: str, *extra: str) -> None:
    args = ["user", "create", "--role", role, "--email", email, "--name", name]
    result = run(env, *args, "--password", "un-long-secret", *extra)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def roster(env: dict[str, str]) -> dict[str, str]:
    assert run(env, "db", "upgrade").returncode == 0
    create(env, "coordinator", "coord@ess-test.fr", "Coordination")
    create(env, "requester", "gp@cabinet-test.fr", "Dr Généraliste")
    return env


def test_list_shows_every_account_and_filters_by_role(roster: dict[str, str]) -> None:
    result = run(roster, "user", "list")
    assert result.returncode == 0, result.stderr
    assert "coord@ess-test.fr" in result.stdout and "gp@cabinet-test.fr" in result.stdout
    assert "Dr Généraliste" in result.stdout and "oui" in result.stdout

    result = run(roster, "user", "list", "--role", "requester")
    assert result.returncode == 0, result.stderr
    assert "gp@cabinet-test.fr" in result.stdout and "coord@ess-test.fr" not in result.stdout

    result = run(roster, "user", "list", "--role", "specialist")
    assert result.returncode == 0 and "Aucun compte" in result.stdout


def test_subspecialty_option_is_repeated_as_the_readme_says(roster: dict[str, str]) -> None:
    seed_specialties(roster)
    create(
        roster,
        "specialist",
        "cardio@ess-test.fr",
        "Dr Cœur",
        "--specialty",
        "cardiologie",
        "--subspecialty",
        "rythmologie",
        "--subspecialty",
        "insuffisance-cardiaque",
    )
    result = run(roster, "user", "list", "--role", "specialist")
    assert "cardio@ess-test.fr" in result.stdout and "cardiologie" in result.stdout


def test_set_password_replaces_the_old_one(roster: dict[str, str], tmp_path: Path) -> None:
    email = "gp@cabinet-test.fr"
    result = run(
        {**roster, "ESS_NEW_PASSWORD": "un-tout-nouveau-secret"},
        "user",
        "set-password",
        "GP@Cabinet-test.fr",
    )
    assert result.returncode == 0, result.stderr
    assert login(roster, tmp_path, email, "un-tout-nouveau-secret") == 200
    assert login(roster, tmp_path, email, "un-long-secret") == 401


def test_set_password_refuses_bad_input_and_changes_nothing(
    roster: dict[str, str], tmp_path: Path
) -> None:
    short = {**roster, "ESS_NEW_PASSWORD": "court"}
    assert_one_line_error(
        run(short, "user", "set-password", "gp@cabinet-test.fr"), "au moins 12 caractères"
    )
    common = {**roster, "ESS_NEW_PASSWORD": "password1234"}
    assert_one_line_error(
        run(common, "user", "set-password", "gp@cabinet-test.fr"), "des plus courants"
    )
    assert_one_line_error(
        run(
            {**roster, "ESS_NEW_PASSWORD": "un-tout-nouveau-secret"},
            "user",
            "set-password",
            "personne@ess-test.fr",
        ),
        "Aucun compte",
    )
    # No terminal and no ESS_NEW_PASSWORD: it cannot prompt.
    assert_one_line_error(
        run(roster, "user", "set-password", "gp@cabinet-test.fr", stdin=""), "mot de passe requis"
    )
    assert login(roster, tmp_path, "gp@cabinet-test.fr", "un-long-secret") == 200


def test_deactivate_stops_logins(roster: dict[str, str], tmp_path: Path) -> None:
    assert login(roster, tmp_path, "gp@cabinet-test.fr", "un-long-secret") == 200
    result = run(roster, "user", "deactivate", "gp@cabinet-test.fr")
    assert result.returncode == 0 and "désactivé" in result.stdout
    assert login(roster, tmp_path, "gp@cabinet-test.fr", "un-long-secret") == 401
    listed = run(roster, "user", "list", "--role", "requester").stdout
    assert "non" in listed.split("gp@cabinet-test.fr")[1].splitlines()[0]
    again = run(roster, "user", "deactivate", "gp@cabinet-test.fr")
    assert again.returncode == 0 and "déjà désactivé" in again.stdout
    assert_one_line_error(run(roster, "user", "deactivate", "personne@ess-test.fr"), "Aucun compte")
    # Reactivated (the way back for an account the pages cannot reach), it logs in again.
    back = run(roster, "user", "reactivate", "gp@cabinet-test.fr")
    assert back.returncode == 0 and "réactivé" in back.stdout
    assert login(roster, tmp_path, "gp@cabinet-test.fr", "un-long-secret") == 200
    twice = run(roster, "user", "reactivate", "gp@cabinet-test.fr")
    assert twice.returncode == 0 and "déjà actif" in twice.stdout
