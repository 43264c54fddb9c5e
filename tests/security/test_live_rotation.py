"""Key rotation on running servers: taken up without a restart, and nothing lost."""

import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import select, update

from app.services.keys import live_holders
from models import Request
from security.crypto import KeyRing
from tests.conftest import Ess, request_payload
from tests.servers import ServerProcess, run_cli, wait_for


async def submit(http: httpx.AsyncClient, server: ServerProcess, ess: Ess, question: str) -> str:
    response = await http.post(
        f"{server.url}/api/v1/requests",
        json=request_payload(question=question),
        headers=ess.auth(ess.requesters[0]),
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def stored_question(ess: Ess, rid: str) -> bytes:
    async with ess.context.db.reading() as session:
        query = select(Request.question).where(Request.id == uuid.UUID(rid))
        return (await session.execute(query)).scalar_one()


async def test_rotation_while_servers_run_loses_nothing(ess: Ess, settings, tmp_path: Path) -> None:
    env = {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(tmp_path),
        "ESS_SLA__CALENDAR": "24/7",
    }
    key_file = settings.key_file_path()
    # A second host whose copy of the key file is not updated by the rotation.
    stale = tmp_path / "other-host" / "ess-router.keys"
    gp = ess.auth(ess.requesters[0])

    with ServerProcess(env, tmp_path / "one.log") as one:
        async with httpx.AsyncClient(timeout=30) as http:
            first = await submit(http, one, ess, "Avant la rotation")
            under_key_1 = await stored_question(ess, first)
            assert KeyRing.wrapped_by(under_key_1) == 1
            stale.parent.mkdir()
            shutil.copyfile(key_file, stale)
            with ServerProcess(
                {**env, "ESS_DATA_KEY_FILE": str(stale)}, tmp_path / "two.log"
            ) as two:
                assert two.process is not None
                await wait_for(lambda: _count_live(ess, 2))

                rotated = run_cli(env, "keys", "rotate", "--wait", "3")
                assert rotated.returncode == 0, rotated.stderr
                assert "Nouvelle clé active : version 2" in rotated.stdout
                assert f"pid {two.process.pid}" in rotated.stderr

                # The server that reads the rotated file took it up without a restart.
                second = await submit(http, one, ess, "Après la rotation")
                assert KeyRing.wrapped_by(await stored_question(ess, second)) == 2
                # The other one still writes under key 1: retiring it is refused.
                third = await submit(http, two, ess, "Par l'autre serveur")
                assert KeyRing.wrapped_by(await stored_question(ess, third)) == 1
                refused = run_cli(env, "keys", "retire", "1")
                assert refused.returncode == 1
                assert "chiffre encore les écritures de 1 serveur(s)" in refused.stderr
                assert f"pid {two.process.pid}" in refused.stderr
                assert len(refused.stderr.strip().splitlines()) == 1

                # The other host gets the key file: it takes it up, but one value it wrote
                # is still under key 1, so retiring is refused until it is re-wrapped.
                incoming = stale.with_name("incoming")
                shutil.copyfile(key_file, incoming)
                os.replace(incoming, stale)
                await wait_for(lambda: _all_active(ess, 2))
                refused = run_cli(env, "keys", "retire", "1")
                assert refused.returncode == 1
                assert "1 valeur(s) stockée(s) dépendent encore de la clé version 1" in (
                    refused.stderr
                )
                rewrapped = run_cli(env, "keys", "rewrap")
                assert rewrapped.returncode == 0, rewrapped.stderr
                retired = run_cli(env, "keys", "retire", "1")
                assert retired.returncode == 0, retired.stderr
                shutil.copyfile(key_file, incoming)
                os.replace(incoming, stale)

                for server in (one, two):
                    response = await http.get(f"{server.url}/api/v1/requests", headers=gp)
                    assert response.status_code == 200, response.text
                    questions = {item["question"] for item in response.json()["items"]}
                    assert questions == {
                        "Avant la rotation",
                        "Après la rotation",
                        "Par l'autre serveur",
                    }

                # A value under the retired key (a backup restored, say) is unreadable: the
                # list still answers and says which record; the log says why.
                async with ess.context.db.transaction() as session:
                    await session.execute(
                        update(Request)
                        .where(Request.id == uuid.UUID(first))
                        .values(question=under_key_1)
                    )
                response = await http.get(f"{one.url}/api/v1/requests", headers=gp)
                assert response.status_code == 200, response.text
                items = {item["id"]: item for item in response.json()["items"]}
                assert items[first]["question"] is None
                assert items[first]["unreadable"]["fields"] == ["question"]
                assert "illisible" in items[first]["unreadable"]["detail"]
                assert items[second]["question"] == "Après la rotation"
                assert items[second]["unreadable"] is None
    log = (tmp_path / "one.log").read_text()
    assert f"request:{first}:question" in log and "retired" in log
    assert "Après la rotation" not in log


async def _count_live(ess: Ess, count: int) -> bool:
    return len(await live_holders(ess.context.db, _now())) == count


async def _all_active(ess: Ess, version: int) -> bool:
    holders = await live_holders(ess.context.db, _now())
    return bool(holders) and all(h.active_version == version for h in holders)


def _now() -> datetime:
    return datetime.now(UTC)
