"""``ESS_LOG_FORMAT=json``: one JSON object per line, a request id shared with the response."""

import json
from pathlib import Path

import httpx
import pytest

from config import Settings
from models import Role
from tests.conftest import Ess, request_payload
from tests.servers import ServerProcess

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
PASSWORD = "Grenadine-plafond-93-ivoire"


async def test_json_lines_carry_the_request_id_and_nothing_clinical_or_secret(
    ess: Ess, settings: Settings, tmp_path: Path
) -> None:
    gp = await ess.add_user(
        role=Role.REQUESTER,
        email="journaux@cabinet-test.fr",
        name="Dr Journaux",
        password=PASSWORD,
    )
    secret = settings.secret_key.get_secret_value()
    env = {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": secret,
        "ESS_DATA_DIR": str(tmp_path),
        "ESS_SLA__CALENDAR": "24/7",
        "ESS_SLA__TICK_SECONDS": "0.5",
        "ESS_LOG_FORMAT": "json",
    }
    log = tmp_path / "server.log"
    payload = request_payload(question="Souffle systolique chez Mme Zéphirine Quatrefages ?")
    patient = payload["patient"]
    with ServerProcess(env, log) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            login = await http.post(
                "/api/v1/auth/login", json={"email": gp.email, "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
            token = login.json()["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}
            submitted = await http.post("/api/v1/requests", json=payload, headers=bearer)
            assert submitted.status_code == 201, submitted.text
            rid = submitted.json()["id"]
            # A token in a query string (as a careless link would carry) never reaches the log.
            read = await http.get(f"/api/v1/requests/{rid}?access_token={token}", headers=bearer)
            assert read.status_code == 200
            missing = await http.get(f"/api/v1/requests/{rid}/nulle-part?jeton=secret-du-lien")
            chosen = await http.get("/health", headers={"X-Request-ID": "nginx-abcdef0123456789"})
            metrics = await http.get("/metrics")
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert records, log.read_text()[-2000:]
    assert all({"time", "level", "logger", "message", "request_id"} <= set(r) for r in records)

    by_id = {r["request_id"]: r for r in records if r["logger"] == "ess_router.access"}
    for response, route, status in (
        (login, "/api/v1/auth/login", 200),
        (submitted, "/api/v1/requests", 201),
        (read, "/api/v1/requests/{request_id}", 200),
    ):
        request_id = response.headers["X-Request-ID"]
        assert by_id[request_id]["route"] == route
        assert by_id[request_id]["status"] == status
    assert by_id[missing.headers["X-Request-ID"]]["route"] is None
    # The proxy's id is kept, so that its log and the service's meet.
    assert chosen.headers["X-Request-ID"] == "nginx-abcdef0123456789"
    assert "nginx-abcdef0123456789" in by_id

    text = log.read_text()
    for never in (
        PASSWORD,
        token,
        secret,
        "secret-du-lien",
        "access_token=",
        payload["question"],
        patient["last_name"],
        patient["first_name"],
        patient["ins"],
        "Quatrefages",
    ):
        assert never not in text, never
    # The SLA tick ran and is measured.
    assert metrics.status_code == 200
    assert "ess_sla_tick_seconds_count" in metrics.text
