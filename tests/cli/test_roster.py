"""``ess-router roster import``: the whole file or nothing; the same file twice changes nothing."""

from pathlib import Path

from tests.cli.test_cli import assert_one_line_error, env, run
from tests.cli.test_user_care import seed_specialties

__all__ = ["env"]

ROSTER = (
    "email,name,rpps,specialty,subspecialties,capacity,membership_start,membership_end,"
    "advanced_consultations\n"
    "Dr.Coeur@ESS-test.fr,Dr Cœur,10000000017,cardiologie,rythmologie|insuffisance-cardiaque,4,"
    "2026-01-01,,oui\n"
    "rythme@ess-test.fr,Dr Rythme,,cardiologie,rythmologie,,,,non\n"
)


def test_import_creates_then_changes_nothing_then_updates(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    seed_specialties(env)
    roster = tmp_path / "equipe.csv"
    roster.write_text(ROSTER)
    first = run(env, "roster", "import", str(roster))
    assert first.returncode == 0, first.stderr
    assert "2 créé(s), 0 mis à jour, 0 inchangé(s)" in first.stdout
    listed = run(env, "user", "list", "--role", "specialist").stdout
    assert "dr.coeur@ess-test.fr" in listed and "rythme@ess-test.fr" in listed

    again = run(env, "roster", "import", str(roster))
    assert again.returncode == 0 and "0 créé(s), 0 mis à jour, 2 inchangé(s)" in again.stdout

    roster.write_text(ROSTER.replace("Dr Rythme", "Dr Rythme-Durand"))
    changed = run(env, "roster", "import", str(roster))
    assert changed.returncode == 0 and "0 créé(s), 1 mis à jour, 1 inchangé(s)" in changed.stdout
    assert "Dr Rythme-Durand" in run(env, "user", "list").stdout


def test_a_bad_line_is_named_and_nothing_is_imported(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    seed_specialties(env)
    roster = tmp_path / "equipe.csv"
    roster.write_text(ROSTER + "pas-une-adresse,Dr X,,cardiologie,,,,,non\n")
    result = run(env, "roster", "import", str(roster))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "ligne 4 : Colonne email (adresse e-mail) : adresse e-mail invalide"
    assert lines[-1] == "ess-router: 1 ligne(s) invalide(s) dans equipe.csv : rien n'a été importé"
    assert "Aucun compte" in run(env, "user", "list").stdout
    assert_one_line_error(run(env, "roster", "import", str(tmp_path / "absent.csv")), "absent.csv")
