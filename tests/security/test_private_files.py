"""What the service writes is private, and a writer killed mid-file leaves nothing behind."""

import os
import signal
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from app.data_files import database_files
from security.files import partial_file
from tests.conftest import Ess, request_payload
from tests.servers import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
# An upload's writer, killed with -9 in the middle of its file.
WRITER = """
import sys, time
from pathlib import Path
from security.files import partial_file
with partial_file(Path(sys.argv[1])) as out:
    out.write(b"x" * 4096)
    out.flush()
    print("writing", flush=True)
    time.sleep(120)
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def killed_writer(path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE
    )
    assert writer.stdout is not None
    assert writer.stdout.readline() == b"writing\n"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()


async def test_start_removes_abandoned_parts_and_everything_written_is_private(
    ess: Ess, settings, tmp_path: Path
) -> None:
    attachments = settings.attachments_dir()
    attachments.mkdir(mode=0o755)
    abandoned = attachments / f"{uuid.uuid4()}.part"
    killed_writer(abandoned)
    assert abandoned.exists()
    env = {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(tmp_path),
        "ESS_SLA__CALENDAR": "24/7",
    }
    gp = ess.auth(ess.requesters[0])
    # Another process's upload still being written: not abandoned, kept.
    in_progress = attachments / f"{uuid.uuid4()}.part"
    with partial_file(in_progress), ServerProcess(env, tmp_path / "server.log") as server:
        assert not abandoned.exists()
        assert in_progress.exists()
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            request = (
                await http.post("/api/v1/requests", json=request_payload(), headers=gp)
            ).json()
            response = await http.post(
                f"/api/v1/requests/{request['id']}/attachments",
                headers=gp,
                files={"file": ("ecg.pdf", b"%PDF-1.4\n" + os.urandom(4096), "application/pdf")},
            )
            assert response.status_code == 201, response.text
            attachment = attachments / f"{response.json()['id']}.enc"
            written = [
                settings.key_file_path(),
                attachment,
                *(p for p in database_files(settings) if p.exists()),
            ]
            assert mode(attachments) == 0o700
            assert {str(p): oct(mode(p)) for p in written} == {str(p): "0o600" for p in written}
    if settings.is_sqlite:
        assert any(p.name.endswith("-wal") for p in written)
