"""deploy/systemd: the units systemd itself accepts, running the command they name."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
INSTALLED = "/opt/ess-router/.venv/bin/ess-router"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    here = str(Path(sys.executable).parent / "ess-router")
    names = ["ess-router.service", "ess-router-backup.service", "ess-router-backup.timer"]
    for name in names:
        text = (UNITS / name).read_text()
        # The installed path the README gives, replaced by this checkout's.
        (tmp_path / name).write_text(text.replace(INSTALLED, here))
    result = subprocess.run(
        ["systemd-analyze", "verify", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ess-router" not in result.stderr, result.stderr


def test_the_units_run_what_the_readme_installs() -> None:
    service = (UNITS / "ess-router.service").read_text()
    backup = (UNITS / "ess-router-backup.service").read_text()
    readme = (UNITS.parents[1] / "README.md").read_text()
    assert f"ExecStart={INSTALLED} serve" in service
    assert f"exec {INSTALLED} backup" in backup
    assert "EnvironmentFile=/etc/ess-router/ess-router.env" in service
    assert "/opt/ess-router" in readme and "/etc/ess-router/ess-router.env" in readme
