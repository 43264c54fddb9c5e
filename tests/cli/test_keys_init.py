"""A production installation: the key file is made by ``keys init``, then the service starts."""

import stat
from pathlib import Path

import httpx

from tests.servers import ServerProcess, run_cli


def test_prod_starts_once_keys_init_made_the_key_file(settings, tmp_path: Path) -> None:
    key_file = tmp_path / "etc" / "ess-router" / "ess-router.keys"
    env = {
        "ESS_ENV": "prod",
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(tmp_path / "data"),
        "ESS_DATA_KEY_FILE": str(key_file),
    }
    missing = run_cli(env, "keys", "rotate")
    assert missing.returncode == 1
    assert "ess-router keys init" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1

    made = run_cli(env, "keys", "init")
    assert made.returncode == 0, made.stderr
    assert len(made.stdout.strip().splitlines()) == 1
    assert str(key_file) in made.stdout
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    content = key_file.read_bytes()

    again = run_cli(env, "keys", "init")
    assert again.returncode == 1
    assert "existe déjà" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert key_file.read_bytes() == content

    with ServerProcess(env, tmp_path / "server.log") as server:
        assert httpx.get(f"{server.url}/health", timeout=5).json() == {"status": "ok"}
        rotated = run_cli(env, "keys", "rotate", "--wait", "10")
        assert rotated.returncode == 0, rotated.stderr
        assert "Nouvelle clé active : version 2" in rotated.stdout
        assert "L'ancienne clé peut être retirée" in rotated.stdout
