"""``ess-router backup`` while a real server takes writes; ``restore`` into a fresh folder."""

import asyncio
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from config import Settings
from models.message import Attachment
from models.storage import Database
from tests.conftest import Ess, _admin, request_payload, run_in_thread, with_database
from tests.servers import ServerProcess, run_cli, wait_for

WRITERS = 3


@dataclass
class Acknowledged:
    """What the server said it kept (2xx), as the client sent it."""

    requests: dict[str, str] = field(default_factory=dict)
    messages: dict[str, list[str]] = field(default_factory=dict)
    attachments: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def snapshot(self) -> "Acknowledged":
        return Acknowledged(
            dict(self.requests),
            {k: list(v) for k, v in self.messages.items()},
            dict(self.attachments),
        )


async def write_load(
    http: httpx.AsyncClient, headers: dict[str, str], done: Acknowledged, stop: asyncio.Event
) -> None:
    """Submit requests, each with a message and an attachment, until told to stop."""
    serial = 0
    while not stop.is_set():
        serial += 1
        question = f"Question {id(done)}-{os.getpid()}-{serial}-{os.urandom(4).hex()}"
        response = await http.post(
            "/api/v1/requests", json=request_payload(question=question), headers=headers
        )
        assert response.status_code == 201, response.text
        rid = response.json()["id"]
        done.requests[rid] = question
        body = f"Message {os.urandom(6).hex()}"
        response = await http.post(
            f"/api/v1/requests/{rid}/messages", json={"body": body}, headers=headers
        )
        assert response.status_code == 201, response.text
        done.messages.setdefault(rid, []).append(body)
        content = b"%PDF-1.4\n" + os.urandom(48 * 1024) + b"\n%%EOF\n"
        response = await http.post(
            f"/api/v1/requests/{rid}/attachments",
            headers=headers,
            files={"file": ("examen.pdf", content, "application/pdf")},
        )
        assert response.status_code == 201, response.text
        done.attachments[response.json()["id"]] = (rid, content)


async def reads_back(http: httpx.AsyncClient, headers: dict[str, str], done: Acknowledged) -> None:
    for rid, question in done.requests.items():
        response = await http.get(f"/api/v1/requests/{rid}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["question"] == question
    for rid, bodies in done.messages.items():
        response = await http.get(f"/api/v1/requests/{rid}/messages", headers=headers)
        assert [m["body"] for m in response.json()] == bodies
    for aid, (rid, content) in done.attachments.items():
        response = await http.get(f"/api/v1/requests/{rid}/attachments/{aid}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.content == content


async def every_stored_attachment_opens(
    http: httpx.AsyncClient, headers: dict[str, str], url: str
) -> int:
    """No row without its file: whatever the copy holds, every attachment downloads."""
    db = Database(url)
    try:
        async with db.reading() as session:
            rows = (await session.execute(select(Attachment.id, Attachment.request_id))).all()
    finally:
        await db.dispose()
    for aid, rid in rows:
        response = await http.get(f"/api/v1/requests/{rid}/attachments/{aid}", headers=headers)
        assert response.status_code == 200, response.text
    return len(rows)


@pytest.fixture
def restored_url(backend: str, tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    """An empty database of the same kind, to restore into."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/restored/ess.db"
        return
    name = f"ess_restored_{os.getpid()}_{tmp_path.name[-12:]}".replace("-", "_")
    run_in_thread(_admin, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    yield with_database(database_url, name)
    run_in_thread(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_a_backup_under_load_restores_everything_acknowledged_before_it(
    ess: Ess, settings: Settings, tmp_path: Path, restored_url: str
) -> None:
    secret = settings.secret_key.get_secret_value()
    live = {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": secret,
        "ESS_DATA_DIR": str(tmp_path),
        "ESS_SLA__CALENDAR": "24/7",
        "ESS_SLA__TICK_SECONDS": "0.3",  # the audit checkpoint moves during the load
    }
    gp = ess.auth(ess.requesters[0])
    backup = tmp_path / "sauvegarde"
    with ServerProcess(live, tmp_path / "live.log") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            for specialist in ess.specialists:  # room for every request of the load
                await http.patch(
                    f"/api/v1/users/{specialist.id}",
                    json={"capacity": 1000},
                    headers=ess.auth(ess.coordinator),
                )
            done, stop = Acknowledged(), asyncio.Event()
            writers = [
                asyncio.create_task(write_load(http, gp, done, stop)) for _ in range(WRITERS)
            ]
            await wait_for(lambda: asyncio.sleep(0, len(done.attachments) >= 6), within=60)
            before = done.snapshot()
            result = await asyncio.to_thread(run_cli, live, "backup", str(backup))
            during = len(done.requests) - len(before.requests)
            stop.set()
            await asyncio.gather(*writers)
    assert result.returncode == 0, result.stderr
    assert during > 0, "the writes went on while the backup ran"
    assert "Le fichier de clés n'y est pas" in result.stdout
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["key_file"]["included"] is False
    assert not (backup / "keys" / "ess-router.keys").exists()
    assert "keys/ess-router.keys.audit-head" in manifest["files"]
    saved_settings = (backup / "settings.json").read_text()
    assert secret not in saved_settings

    # A fresh installation; the key file kept apart is put back by hand, as advised.
    fresh = tmp_path / "restored"
    fresh.mkdir(exist_ok=True)
    shutil.copyfile(tmp_path / "ess-router.keys", fresh / "ess-router.keys")
    restored = {**live, "ESS_DATABASE_URL": restored_url, "ESS_DATA_DIR": str(fresh)}
    result = run_cli(restored, "restore", str(backup))
    assert result.returncode == 0, result.stderr
    assert "Sauvegarde restaurée" in result.stdout

    verified = run_cli(restored, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "la chaîne atteint son point de contrôle" in verified.stdout

    with ServerProcess(restored, tmp_path / "restored.log") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            await reads_back(http, gp, before)
            assert await every_stored_attachment_opens(http, gp, restored_url) >= len(
                before.attachments
            )
    assert run_cli(restored, "audit", "verify").returncode == 0

    # A second restore into the now filled installation is refused, and changes nothing.
    again = run_cli(restored, "restore", str(backup))
    assert again.returncode == 1
    assert "restauration" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_restore_refuses_an_altered_or_unfinished_backup(
    ess: Ess, settings: Settings, tmp_path: Path
) -> None:
    env = {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(tmp_path),
    }
    ess.context.vault  # noqa: B018 - the dev key file exists, as after a first start
    backup = tmp_path / "b"
    assert run_cli(env, "backup", "--include-keys", str(backup)).returncode == 0
    assert (backup / "keys" / "ess-router.keys").read_bytes() == (
        tmp_path / "ess-router.keys"
    ).read_bytes()
    refused = run_cli(env, "backup", str(backup))
    assert refused.returncode == 1
    assert "n'est pas vide" in refused.stderr

    target = tmp_path / "cible"
    fresh = {**env, "ESS_DATABASE_URL": f"sqlite+aiosqlite:///{target}/ess.db"}
    fresh["ESS_DATA_DIR"] = str(target)
    with (backup / "settings.json").open("a") as handle:
        handle.write(" ")
    result = run_cli(fresh, "restore", str(backup))
    assert result.returncode == 1
    assert "sauvegarde altérée : empreinte SHA-256 de settings.json différente" in result.stderr
    assert not target.exists()

    (backup / "manifest.json").unlink()
    result = run_cli(fresh, "restore", str(backup))
    assert result.returncode == 1
    assert "manifest.json est absent" in result.stderr

    mixed = run_cli(
        {**fresh, "ESS_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/x"},
        "backup",
        str(tmp_path / "c"),
    )
    assert mixed.returncode == 1
    assert "Traceback" not in mixed.stderr
