"""The audit chain anchored outside the database: cutting off its newest entries is seen."""

import asyncio
import json
from pathlib import Path

import httpx
from sqlalchemy import text

from models import audit
from security.audit_anchor import checkpoint_path
from tests.conftest import Ess, request_payload
from tests.servers import ServerProcess, run_cli, wait_for


async def test_cutting_off_the_newest_audit_entries_is_detected(
    ess: Ess, settings, tmp_path: Path
) -> None:
    env = {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(tmp_path),
        "ESS_SLA__CALENDAR": "24/7",
        "ESS_SLA__TICK_SECONDS": "0.2",
    }
    path = checkpoint_path(settings.key_file_path())
    gp = ess.auth(ess.requesters[0])
    with ServerProcess(env, tmp_path / "server.log") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            created = await http.post("/api/v1/requests", json=request_payload(), headers=gp)
            assert created.status_code == 201, created.text
            rid = created.json()["id"]
            assert (await http.get(f"/api/v1/requests/{rid}", headers=gp)).status_code == 200
        newest = await audit.head(ess.context.db)
        assert newest is not None and newest[0] >= 2

        async def anchored() -> bool:
            return path.exists() and json.loads(path.read_text())["seq"] == newest[0]

        await wait_for(anchored)
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        sound = run_cli(env, "audit", "verify")
        assert sound.returncode == 0, sound.stderr
        assert f"point de contrôle (entrée n° {newest[0]})" in sound.stdout

        # Someone with write access to the database removes the last two entries.
        async with ess.context.db.transaction() as session:
            await session.execute(
                text("DELETE FROM audit_entry WHERE seq >= :seq"), {"seq": newest[0] - 1}
            )
        before = path.read_bytes()
        await asyncio.sleep(1)  # several ticks: the leader keeps the evidence
        assert path.read_bytes() == before
        cut = run_cli(env, "audit", "verify")
    assert cut.returncode == 1
    assert "journal d'audit tronqué" in cut.stderr
    assert f"les entrées n° {newest[0] - 1} à {newest[0]}" in cut.stderr
    assert len(cut.stderr.strip().splitlines()) == 1

    # The checkpoint itself cannot be moved back without the key.
    document = json.loads(path.read_text())
    path.write_text(json.dumps({**document, "seq": newest[0] - 2}))
    forged = run_cli(env, "audit", "verify")
    assert forged.returncode == 1
    assert "falsifié" in forged.stderr
