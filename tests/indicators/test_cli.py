"""``ess-router report``, run as the coordinator runs it: a real process, a real database."""

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from models import Request, Specialty, User
from models.history import measure

BIN = Path(sys.executable).parent / "ess-router"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ESS_")}
    clean.update(
        {
            "ESS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
            "ESS_DATA_DIR": str(tmp_path),
            "ESS_REPORT__ESS_NAME": "ESS Cardio Île-de-France",
            "ESS_REPORT__TERRITORY_SPECIALISTS": "120",
        }
    )
    return clean


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def database(env: dict[str, str], tmp_path: Path) -> Path:
    """A migrated database with one answered request submitted on 31 December, 23:30 Paris."""
    result = run(env, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    path = tmp_path / "cli.db"
    engine = create_engine(f"sqlite:///{path}")
    with Session(engine) as session, session.begin():
        session.add(Specialty(code="cardiologie", name="Cardiologie"))
        requester = User(
            role="requester",
            email="gp@cabinet-test.fr",
            name="Dr GP",
            treating_physician=True,
            created_at=datetime(2025, 1, 1, tzinfo=UTC),
        )
        session.add(requester)
        session.flush()
        blank = b"-" if Request.__table__.c.question.type.python_type is bytes else "-"
        request = Request(
            reference="TE-2025-000001",
            status="answered",
            priority="standard",
            specialty_code="cardiologie",
            requester_id=requester.id,
            question=blank,
            patient=blank,
            patient_key=uuid.uuid4().hex * 2,
            consent=True,
            submitted_at=datetime(2025, 12, 31, 22, 30, tzinfo=UTC),
            answered_at=datetime(2026, 1, 1, 10, 30, tzinfo=UTC),
            answer_due_at=datetime(2026, 1, 5, 12, 0, tzinfo=UTC),
            outcome="advice",
        )
        measure(request)  # the delays models.history.record stores
        session.add(request)
    engine.dispose()
    return path


def test_csv_report_to_a_file(env: dict[str, str], database: Path, tmp_path: Path) -> None:
    output = tmp_path / "rapport.csv"
    result = run(env, "report", "--from", "2025-01-01", "--to", "2025-12-31", "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("Rapport d'activité (csv) écrit dans")
    raw = output.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0] == "Rapport d'activité – ESS Cardio Île-de-France"
    assert "Nombre de téléexpertises;1;nombre;" in text
    # 22:30 UTC on 31 December is 23:30 in Paris: 2025; answered 12 hours later.
    assert "Délai de réponse à la téléexpertise – médiane;12,0;heures;" in text
    assert "décembre 2025;1;1;0;12,0;100,0;" in text


def test_json_report_on_standard_output(env: dict[str, str], database: Path) -> None:
    result = run(env, "report", "--from", "2026-01-01", "--to", "2026-12-31", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    lines = {line["key"]: line for s in report["sections"] for line in s["indicators"]}
    assert lines["teleexpertise_count"]["value"] == 0  # the request belongs to 2025
    assert lines["membership.territory_specialists"]["value"] == 120


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--from", "2025-12-31", "--to", "2025-01-01"], "inversée"),
        (["--from", "31/12/2025", "--to", "2026-01-31"], "AAAA-MM-JJ"),
        (["--from", "2000-01-01", "--to", "2025-12-31"], "trop longue"),
        (["--from", "2025-01-01", "--to", "2025-12-31", "--format", "xlsx"], "xlsx"),
        (["--to", "2025-12-31"], "--from"),
        (["--from", "2025-01-01", "--to", "2025-12-31", "-o", "/nonexistent/r.csv"], "dossier"),
    ],
)
def test_bad_input_is_one_french_line(
    env: dict[str, str], database: Path, args: list[str], needle: str
) -> None:
    result = run(env, "report", *args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ess-router: ")
    assert needle in lines[0]
    assert "Traceback" not in result.stderr
