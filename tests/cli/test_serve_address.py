"""``serve --port P`` without ESS_BASE_URL: the pages work at the address it listens on."""

import re
from pathlib import Path

import httpx

from tests.servers import ServerProcess, run_cli


def test_a_server_on_another_port_accepts_its_own_pages_forms(tmp_path: Path) -> None:
    env = {
        "ESS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ess.db",
        "ESS_DATA_DIR": str(tmp_path),
        "ESS_DATA_KEY_FILE": str(tmp_path / "ess.keys"),
        "ESS_NEW_PASSWORD": "Vx7-ortie-falaise-92",
    }
    with ServerProcess(env, tmp_path / "server.log").start() as server:
        created = run_cli(
            env, "user", "create", "--role", "coordinator", "--email", "coord@ess-test.fr",
            "--name", "Claire Coord",
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        with httpx.Client(base_url=server.url) as client:
            form = client.get("/connexion")
            token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            answer = client.post(
                "/connexion",
                data={
                    "email": "coord@ess-test.fr",
                    "password": "Vx7-ortie-falaise-92",
                    "_csrf_token": token.group(1),
                },
                headers={"Origin": server.url},
            )
    assert answer.status_code == 303, answer.text[-500:]
    assert "ess_session" in answer.cookies
