"""Large uploads against a running server: refused over the limit, memory flat either way."""

import os
from pathlib import Path

import httpx

from tests.conftest import Ess, request_payload
from tests.servers import ServerProcess


def memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


async def test_big_uploads_keep_the_server_memory_flat(ess: Ess, settings, tmp_path: Path) -> None:
    env = {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(tmp_path),
        "ESS_SLA__CALENDAR": "24/7",
    }
    gp = ess.requesters[0]
    with ServerProcess(env, tmp_path / "server.log") as server:
        assert server.process is not None
        pid = server.process.pid
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            request = (
                await http.post("/api/v1/requests", json=request_payload(), headers=ess.auth(gp))
            ).json()
            rid = request["id"]
            # Warm up the upload path once with a small file.
            small = b"%PDF-1.4\n" + os.urandom(64 * 1024)
            response = await http.post(
                f"/api/v1/requests/{rid}/attachments",
                headers=ess.auth(gp),
                files={"file": ("petit.pdf", small, "application/pdf")},
            )
            assert response.status_code == 201, response.text
            baseline = memory_kib(pid)

            too_big = b"%PDF-1.4\n" + os.urandom(25 * 1024 * 1024)
            response = await http.post(
                f"/api/v1/requests/{rid}/attachments",
                headers=ess.auth(gp),
                files={"file": ("gros.pdf", too_big, "application/pdf")},
            )
            assert response.status_code == 413
            assert "taille maximale" in response.json()["detail"]

            allowed = b"\xff\xd8\xff" + os.urandom(15 * 1024 * 1024)
            response = await http.post(
                f"/api/v1/requests/{rid}/attachments",
                headers=ess.auth(gp),
                files={"file": ("photo.jpg", allowed, "image/jpeg")},
            )
            assert response.status_code == 201, response.text
            attachment_id = response.json()["id"]
            async with http.stream(
                "GET", f"/api/v1/requests/{rid}/attachments/{attachment_id}", headers=ess.auth(gp)
            ) as download:
                assert download.status_code == 200
                received = b"".join([chunk async for chunk in download.aiter_bytes()])
            assert received == allowed
            after = memory_kib(pid)
    # A 25 MB refusal and a 15 MB round trip move the peak by far less than the files.
    assert after["VmHWM"] - baseline["VmHWM"] < 10 * 1024, (baseline, after)
