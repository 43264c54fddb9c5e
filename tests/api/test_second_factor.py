"""The second factor through the API: enrolment with its QR code, login with a code or a
recovery code, replays refused, guessing throttled, removal, and the required mode."""

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import select

from app.services.keys import stored_under
from config import FrozenClock, Settings
from models import RecoveryCode, Role, UserTotp
from tests.conftest import Ess, unique_email
from tests.servers import run_cli

PASSWORD = "mot-de-passe-solide-2026"
LOGIN = "/api/v1/auth/login"
TOTP = "/api/v1/me/totp"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The suite's settings; ``@pytest.mark.require_totp`` turns the required mode on."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        secret_key="test-secret-" + "x" * 40,
        base_url="http://ess.test.local",
        login_failures_per_account=4,
        auth={"require_totp": request.node.get_closest_marker("require_totp") is not None},
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def new_account(ess: Ess) -> str:
    email = unique_email()
    await ess.add_user(role=Role.REQUESTER, email=email, name="Dr Double", password=PASSWORD)
    return email


async def login(client: httpx.AsyncClient, email: str, otp: str | None = None) -> httpx.Response:
    body = {"email": email, "password": PASSWORD}
    if otp is not None:
        body["otp"] = otp
    client.cookies.clear()  # each login stands on its own, without an earlier session
    return await client.post(LOGIN, json=body)


async def enrol(
    client: httpx.AsyncClient, clock: FrozenClock, token: str
) -> tuple[pyotp.TOTP, dict]:
    """Start and confirm an enrolment as an authenticator application would."""
    started = await client.post(f"{TOTP}/start", headers=bearer(token))
    assert started.status_code == 200, started.text
    totp = pyotp.TOTP(started.json()["secret"])
    confirmed = await client.post(
        f"{TOTP}/confirm", headers=bearer(token), json={"code": totp.at(clock.now())}
    )
    assert confirmed.status_code == 200, confirmed.text
    return totp, confirmed.json()


async def test_enrolment_gives_a_qr_code_rendered_here_then_login_needs_the_code(
    ess: Ess, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    email = await new_account(ess)
    token = (await login(client, email)).json()["access_token"]
    status = await client.get(TOTP, headers=bearer(token))
    assert status.json() == {
        "enabled": False,
        "pending": False,
        "required": False,
        "confirmed_at": None,
        "recovery_codes_left": 0,
    }
    # No enrolment yet: no QR code.
    assert (await client.get(f"{TOTP}/qr.svg", headers=bearer(token))).status_code == 404

    started = await client.post(f"{TOTP}/start", headers=bearer(token))
    assert started.status_code == 200
    enrolment = started.json()
    totp = pyotp.TOTP(enrolment["secret"])
    parsed = pyotp.parse_uri(enrolment["otpauth_uri"])
    assert parsed.secret == enrolment["secret"] and parsed.name == email
    svg = await client.get(enrolment["qr_svg_url"], headers=bearer(token))
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.headers["cache-control"] == "no-store"
    assert svg.text.startswith("<svg") and "<path" in svg.text
    png = await client.get(enrolment["qr_png_url"], headers=bearer(token))
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    pending = (await client.get(TOTP, headers=bearer(token))).json()
    assert pending["pending"] and not pending["enabled"]
    # Pending: the password alone still logs in.
    assert (await login(client, email)).status_code == 200

    wrong = await client.post(f"{TOTP}/confirm", headers=bearer(token), json={"code": "000000"})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "code"
    code = totp.at(clock.now())
    confirmed = await client.post(f"{TOTP}/confirm", headers=bearer(token), json={"code": code})
    assert confirmed.status_code == 200
    body = confirmed.json()
    assert len(body["recovery_codes"]) == 10 and len(set(body["recovery_codes"])) == 10
    assert (await client.get("/api/v1/me", headers=bearer(body["access_token"]))).status_code == 200
    status = (await client.get(TOTP, headers=bearer(token))).json()
    assert status["enabled"] and status["recovery_codes_left"] == 10
    # Active: no new secret drawn over it, and no QR code of it any more.
    assert (await client.post(f"{TOTP}/start", headers=bearer(token))).status_code == 409
    assert (await client.get(f"{TOTP}/qr.svg", headers=bearer(token))).status_code == 404

    # The password alone is not enough any more, and the answer says what is missing.
    refused = await login(client, email)
    assert refused.status_code == 401
    assert refused.json()["second_factor_required"] is True
    assert "otp" in refused.json()["detail"]
    assert "access_token" not in refused.text and "set-cookie" not in refused.headers
    # The code that confirmed the enrolment was seen: it cannot be used again.
    replay = await login(client, email, otp=code)
    assert replay.status_code == 401 and replay.json()["second_factor_required"] is True
    clock.advance(timedelta(seconds=30))
    accepted = await login(client, email, otp=totp.at(clock.now()))
    assert accepted.status_code == 200
    assert accepted.json()["second_factor_enrolment_required"] is False
    me = await client.get("/api/v1/me", headers=bearer(accepted.json()["access_token"]))
    assert me.json()["email"] == email
    # Nor that one, a second time (say, a second script racing the first).
    assert (await login(client, email, otp=totp.at(clock.now()))).status_code == 401
    # A wrong password with a right code is still a wrong password, no hint of the factor.
    clock.advance(timedelta(seconds=30))
    client.cookies.clear()
    wrong_password = await client.post(
        LOGIN, json={"email": email, "password": "pas-le-bon", "otp": totp.at(clock.now())}
    )
    assert wrong_password.status_code == 401
    assert "second_factor_required" not in wrong_password.json()

    # At rest: the secret encrypted, the recovery codes only as hashes.
    async with ess.context.db.reading() as session:
        row = (await session.execute(select(UserTotp))).scalar_one()
        hashes = (await session.execute(select(RecoveryCode.code_hash))).scalars().all()
    assert enrolment["secret"].encode() not in bytes(row.secret)
    assert len(hashes) == 10
    assert not {c.replace("-", "") for c in body["recovery_codes"]} & set(hashes)
    # The secret is wrapped by the data keys: a rotation re-wraps it, retiring counts it.
    active = ess.context.vault.keyring.active_version
    assert await stored_under(ess.context.db, active, ess.context.settings.attachments_dir()) == 1


async def test_a_code_from_the_step_before_or_after_is_accepted_not_older(
    ess: Ess, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    email = await new_account(ess)
    token = (await login(client, email)).json()["access_token"]
    totp, _ = await enrol(client, clock, token)
    clock.advance(timedelta(minutes=5))
    # A phone a little behind, or a little ahead.
    assert (
        await login(client, email, otp=totp.at(clock.now(), counter_offset=-1))
    ).status_code == 200
    assert (
        await login(client, email, otp=totp.at(clock.now(), counter_offset=1))
    ).status_code == 200
    # After a code of the next step, the current one is older: refused.
    assert (await login(client, email, otp=totp.at(clock.now()))).status_code == 401
    clock.advance(timedelta(minutes=5))
    assert (
        await login(client, email, otp=totp.at(clock.now(), counter_offset=-2))
    ).status_code == 401


async def test_two_logins_racing_with_one_code_let_only_one_in(
    ess: Ess, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    email = await new_account(ess)
    token = (await login(client, email)).json()["access_token"]
    totp, _ = await enrol(client, clock, token)
    clock.advance(timedelta(seconds=30))
    body = {"email": email, "password": PASSWORD, "otp": totp.at(clock.now())}
    client.cookies.clear()
    answers = await asyncio.gather(*(client.post(LOGIN, json=body) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401]


async def test_recovery_codes_work_once_each_and_can_be_replaced(
    ess: Ess, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    email = await new_account(ess)
    token = (await login(client, email)).json()["access_token"]
    totp, confirmed = await enrol(client, clock, token)
    first, second, *_ = confirmed["recovery_codes"]
    used = await login(client, email, otp=first)
    assert used.status_code == 200
    again = await login(client, email, otp=first)
    assert again.status_code == 401 and again.json()["second_factor_required"] is True
    # Typed as read aloud: upper case, spaces instead of dashes.
    assert (await login(client, email, otp=second.upper().replace("-", " "))).status_code == 200
    status = (await client.get(TOTP, headers=bearer(token))).json()
    assert status["recovery_codes_left"] == 8

    clock.advance(timedelta(seconds=30))
    renewed = await client.post(
        f"{TOTP}/recovery-codes", headers=bearer(token), json={"code": totp.at(clock.now())}
    )
    assert renewed.status_code == 200
    assert renewed.headers["cache-control"] == "no-store"
    old_unused = confirmed["recovery_codes"][2]
    assert (await login(client, email, otp=old_unused)).status_code == 401
    assert (await login(client, email, otp=renewed.json()["recovery_codes"][0])).status_code == 200


async def test_guessing_codes_meets_the_accounts_limit_even_with_the_right_password(
    ess: Ess, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    email = await new_account(ess)
    token = (await login(client, email)).json()["access_token"]
    totp, _ = await enrol(client, clock, token)
    statuses = [
        (await login(client, email, otp=f"{guess:06d}")).status_code for guess in range(1, 5)
    ]
    assert statuses == [401] * 4
    blocked = await login(client, email, otp=totp.at(clock.now() + timedelta(seconds=30)))
    assert blocked.status_code == 429
    assert "retry-after" in blocked.headers
    clock.advance(timedelta(minutes=16))
    assert (await login(client, email, otp=totp.at(clock.now()))).status_code == 200


async def test_disabling_needs_the_password_and_a_code(
    ess: Ess, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    email = await new_account(ess)
    token = (await login(client, email)).json()["access_token"]
    totp, _ = await enrol(client, clock, token)
    clock.advance(timedelta(seconds=30))
    code = totp.at(clock.now())
    wrong_password = await client.post(
        f"{TOTP}/disable", headers=bearer(token), json={"password": "pas-le-bon", "code": code}
    )
    assert wrong_password.status_code == 422
    assert wrong_password.json()["errors"][0]["field"] == "password"
    wrong_code = await client.post(
        f"{TOTP}/disable", headers=bearer(token), json={"password": PASSWORD, "code": "123456"}
    )
    assert wrong_code.status_code == 422
    assert (await login(client, email)).json()["second_factor_required"] is True

    disabled = await client.post(
        f"{TOTP}/disable", headers=bearer(token), json={"password": PASSWORD, "code": code}
    )
    assert disabled.status_code == 204
    assert (await login(client, email)).status_code == 200
    again = await client.post(
        f"{TOTP}/disable", headers=bearer(token), json={"password": PASSWORD, "code": code}
    )
    assert again.status_code == 409


@pytest.mark.require_totp
async def test_required_mode_lets_an_account_without_it_only_enrol(
    ess: Ess, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    email = await new_account(ess)
    logged = await login(client, email)
    assert logged.status_code == 200
    assert logged.json()["second_factor_enrolment_required"] is True
    assert logged.json()["expires_in"] == 15 * 60
    restricted = logged.json()["access_token"]
    for path in ("/api/v1/me", "/api/v1/requests", "/api/v1/specialties"):
        refused = await client.get(path, headers=bearer(restricted))
        assert refused.status_code == 401, path
        assert refused.json()["second_factor_enrolment_required"] is True
    # The session cookie the login set is just as limited.
    assert (await client.get("/api/v1/me")).status_code == 401
    client.cookies.clear()
    status = (await client.get(TOTP, headers=bearer(restricted))).json()
    assert status["required"] is True and not status["enabled"]

    totp, confirmed = await enrol(client, clock, restricted)
    full = confirmed["access_token"]
    assert (await client.get("/api/v1/me", headers=bearer(full))).status_code == 200
    # The enrolment token stays what it was.
    assert (await client.get("/api/v1/me", headers=bearer(restricted))).status_code == 401
    clock.advance(timedelta(seconds=30))
    disable = await client.post(
        f"{TOTP}/disable",
        headers=bearer(full),
        json={"password": PASSWORD, "code": totp.at(clock.now())},
    )
    assert disable.status_code == 403
    assert (await login(client, email)).json()["second_factor_required"] is True
    logged = await login(client, email, otp=totp.at(clock.now()))
    assert logged.status_code == 200
    assert logged.json()["second_factor_enrolment_required"] is False


@pytest.mark.require_totp
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_required_mode_keeps_the_operators_token_command_working_for_scripts(
    ess: Ess, client: httpx.AsyncClient, settings: Settings
) -> None:
    email = await new_account(ess)
    env = {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(settings.data_dir),
        "ESS_AUTH__REQUIRE_TOTP": "true",
    }
    done = run_cli(env, "token", email)
    assert done.returncode == 0, done.stderr
    me = await client.get("/api/v1/me", headers=bearer(done.stdout.strip()))
    assert me.status_code == 200 and me.json()["email"] == email


@pytest.mark.require_totp
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_operator_removes_a_lost_second_factor_and_the_account_enrols_again(
    ess: Ess, client: httpx.AsyncClient, clock: FrozenClock, settings: Settings
) -> None:
    email = await new_account(ess)
    restricted = (await login(client, email)).json()["access_token"]
    _, confirmed = await enrol(client, clock, restricted)
    stolen_phone_session = confirmed["access_token"]
    assert (await client.get("/api/v1/me", headers=bearer(stolen_phone_session))).status_code == 200
    assert (await login(client, email)).json()["second_factor_required"] is True
    env = {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(settings.data_dir),
    }
    done = run_cli(env, "user", "reset-totp", email)
    assert done.returncode == 0, done.stderr
    assert "retirée" in done.stdout
    # A lost phone may be a stolen one: the sessions opened with it end too.
    refused = await client.get("/api/v1/me", headers=bearer(stolen_phone_session))
    assert refused.status_code == 401
    logged = await login(client, email)
    assert logged.status_code == 200
    assert logged.json()["second_factor_enrolment_required"] is True
    unknown = run_cli(env, "user", "reset-totp", "personne@ess-test.fr")
    assert unknown.returncode != 0
    assert unknown.stderr.count("\n") == 1 and "Aucun compte" in unknown.stderr
