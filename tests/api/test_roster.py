"""The roster import over the API: a dry run reports each line, a confirmation applies it."""

from tests.conftest import Ess

HEADER = (
    "email;name;rpps;specialty;subspecialties;capacity;membership_start;membership_end;"
    "advanced_consultations\n"
)
ROSTER = HEADER + (
    "Nouvelle.Cardio@ESS-test.fr;Dr Nouvelle;10000000017;cardiologie;rythmologie|hta;4;"
    "2026-01-01;2026-12-31;oui\n"
    "specialiste0@ess-test.fr;Dr Spécialiste 0;;cardiologie;rythmologie;5;;;non\n"
    "specialiste1@ess-test.fr;Dr Spécialiste 1;;cardiologie;rythmologie|hta;3;;;non\n"
)


async def upload(client, ess: Ess, content: str, *, confirm: bool = False, user=None):
    return await client.post(
        "/api/v1/roster/import",
        params={"confirm": "true"} if confirm else None,
        files={"file": ("equipe.csv", content.encode(), "text/csv")},
        headers=ess.auth(user or ess.coordinator),
    )


async def specialists(client, ess: Ess) -> dict[str, dict]:
    response = await client.get(
        "/api/v1/users", params={"role": "specialist"}, headers=ess.auth(ess.coordinator)
    )
    return {user["email"]: user for user in response.json()}


async def test_dry_run_then_confirm_then_nothing_left_to_change(client, ess: Ess) -> None:
    before = await specialists(client, ess)
    dry = await upload(client, ess, ROSTER)
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report["applied"] is False and report["errors"] == []
    assert (report["created"], report["updated"], report["unchanged"]) == (1, 1, 1)
    assert report["lines"][0] == {
        "line": 2,
        "email": "nouvelle.cardio@ess-test.fr",
        "action": "create",
        "changes": [],
    }
    assert report["lines"][1]["action"] == "update"
    assert report["lines"][1]["changes"] == ["capacity"]
    assert await specialists(client, ess) == before  # a dry run changes nothing

    applied = await upload(client, ess, ROSTER, confirm=True)
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied"] is True
    after = await specialists(client, ess)
    created = after["nouvelle.cardio@ess-test.fr"]
    assert created["name"] == "Dr Nouvelle" and created["rpps"] == "10000000017"
    assert created["subspecialties"] == ["hta", "rythmologie"] and created["capacity"] == 4
    assert created["member_since"] == "2026-01-01" and created["member_until"] == "2026-12-31"
    assert created["advanced_consultations"] is True
    assert after["specialiste0@ess-test.fr"]["capacity"] == 5

    again = (await upload(client, ess, ROSTER, confirm=True)).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert await specialists(client, ess) == after


async def test_one_bad_line_imports_nothing_and_each_is_named(client, ess: Ess) -> None:
    bad = ROSTER + (
        "autre@ess-test.fr;Dr Autre;12345678901;cardiologie;;;;;non\n"
        "troisieme@ess-test.fr;Dr Trois;;cardiologie;coronaires;;;;non\n"
        "quatrieme@ess-test.fr;Dr Quatre;;pneumologie;;;;;non\n"
        "NOUVELLE.cardio@ess-test.fr;Doublon;;cardiologie;;;;;non\n"
        "cinquieme@ess-test.fr;Dr Cinq;;cardiologie;;beaucoup;;;non\n"
        "coordination@ess-test.fr;Coordination;;cardiologie;;;;;non\n"
    )
    before = await specialists(client, ess)
    dry = (await upload(client, ess, bad)).json()
    reasons = {error["line"]: error["reason"] for error in dry["errors"]}
    assert sorted(reasons) == [5, 6, 7, 8, 9, 10]
    assert "clé de contrôle" in reasons[5]
    assert "sur-spécialité inconnue" in reasons[6] and "coronaires" in reasons[6]
    assert reasons[7] == "Colonne specialty (spécialité) : spécialité inconnue « pneumologie »"
    assert "déjà à la ligne 2" in reasons[8]
    assert reasons[9] == "Colonne capacity (capacité) : nombre entier attendu"
    assert "n'est pas celui d'un spécialiste" in reasons[10]

    refused = await upload(client, ess, bad, confirm=True)
    assert refused.status_code == 422
    problem = refused.json()
    assert "rien n'a été importé" in problem["detail"]
    assert problem["errors"][0]["message"].startswith("ligne 5 :")
    assert await specialists(client, ess) == before


async def test_every_error_of_a_line_is_reported_with_its_column_in_french(
    client, ess: Ess
) -> None:
    bad = HEADER + (
        "pas-une-adresse;Dr Six;12345678901;pneumologie;;beaucoup;2026-13-01;hier;peut-être\n"
    )
    dry = await upload(client, ess, bad)
    assert dry.status_code == 200, dry.text
    [error] = dry.json()["errors"]
    assert error["line"] == 2
    assert error["reasons"] == [
        "Colonne email (adresse e-mail) : adresse e-mail invalide",
        "Colonne rpps (RPPS) : " + error["reasons"][1].split(" : ", 1)[1],
        "Colonne specialty (spécialité) : spécialité inconnue « pneumologie »",
        "Colonne capacity (capacité) : nombre entier attendu",
        "Colonne membership_start (début d'adhésion) : date attendue au format AAAA-MM-JJ",
        "Colonne membership_end (fin d'adhésion) : date attendue au format AAAA-MM-JJ",
        "Colonne advanced_consultations (consultations avancées) : oui ou non attendu",
    ]
    assert "clé de contrôle" in error["reasons"][1]
    # A required cell left empty is an error of its own too.
    empty = (await upload(client, ess, HEADER + "vide@ess-test.fr;Dr Vide;;;;;;;non\n")).json()
    assert empty["lines"] == []
    assert empty["errors"] == [
        {
            "line": 2,
            "reason": "Colonne specialty (spécialité) : code de spécialité obligatoire",
            "reasons": ["Colonne specialty (spécialité) : code de spécialité obligatoire"],
        }
    ]
    assert error["reason"] == " ; ".join(error["reasons"])

    refused = await upload(client, ess, bad, confirm=True)
    assert refused.status_code == 422
    messages = [item["message"] for item in refused.json()["errors"]]
    assert len(messages) == 7 and all(m.startswith("ligne 2 : Colonne ") for m in messages)


async def test_a_file_saved_by_excel_in_windows_1252_is_read(client, ess: Ess) -> None:
    """Excel's « CSV (séparateur : point-virgule) » writes Windows-1252, not UTF-8."""
    content = HEADER + "helene.lefevre@ess-test.fr;Dr Hélène Lefèvre;;cardiologie;hta;;;;oui\n"
    response = await client.post(
        "/api/v1/roster/import",
        params={"confirm": "true"},
        files={"file": ("equipe.csv", content.encode("cp1252"), "text/csv")},
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    created = (await specialists(client, ess))["helene.lefevre@ess-test.fr"]
    assert created["name"] == "Dr Hélène Lefèvre"


async def test_a_file_that_is_not_a_roster_is_refused(client, ess: Ess) -> None:
    response = await upload(client, ess, "nom,prenom\nA,B\n", confirm=True)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "Colonnes obligatoires absentes" in detail and "name (nom)" in detail
    # Bytes that neither UTF-8 nor Windows-1252 can read (0x81 is unassigned in both).
    response = await client.post(
        "/api/v1/roster/import",
        files={"file": ("equipe.csv", b"email;name;specialty\n\x81\x8d;x;y\n", "text/csv")},
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 422
    assert "UTF-8 ou en Windows-1252" in response.json()["detail"]


async def test_only_the_coordinator_imports(client, ess: Ess) -> None:
    response = await upload(client, ess, ROSTER, confirm=True, user=ess.specialists[0])
    assert response.status_code == 403
    assert "nouvelle.cardio@ess-test.fr" not in await specialists(client, ess)
