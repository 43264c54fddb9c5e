"""The activity report over HTTP (CSV for a French spreadsheet, JSON), access and bad input."""

import csv
import io
import json

import pytest

from config.settings import ReportSettings
from tests.conftest import Ess
from tests.factories import act, paris, submit

INDICATOR_KEYS = {
    "teleexpertise_count",
    "answered_count",
    "cancelled_count",
    "open_count",
    "patients_count",
    "requesters_count",
    "treating_physicians_count",
    "advanced_consultation_specialists_count",
    "advanced_consultations_count",
    "response_delay_hours.median",
    "response_delay_hours.p90",
    "response_delay_hours.mean",
    "within_sla_rate",
    "acknowledge_delay_hours.median",
    "acknowledge_delay_hours.p90",
    "acknowledge_delay_hours.mean",
    "appointment_delay_days.median",
    "appointment_delay_days.p90",
    "appointment_delay_days.mean",
    "usefulness_mean",
    "referral_avoided_rate",
    "feedback_count",
    "membership.members_count",
    "membership.members_prorated",
    "membership.estimated_annual_grant_eur",
    "membership.territory_specialists",
    "membership.coverage_rate",
}


async def answered_request(client, ess: Ess, clock) -> None:
    request = await submit(client, ess)
    clock.set(paris(2026, 3, 2, 11, 30))  # 2.5 h
    await act(client, ess, request, "answer", answer="Avis.", outcome="advice")
    await act(client, ess, request, "close", usefulness=5, referral_avoided=True)


async def test_json_report_has_every_indicator_with_label_and_note(client, ess: Ess, clock) -> None:
    ess.context.settings.report = ReportSettings(
        ess_name="ESS Cardio Test", territory_specialists=30
    )
    await answered_request(client, ess, clock)
    response = await client.get(
        "/api/v1/reports/activity",
        params={"from": "2026-03-01", "to": "2026-03-31", "format": "json"},
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    report = response.json()
    assert report["title"] == "Rapport d'activité – ESS Cardio Test"
    assert report["period"] == {"from": "2026-03-01", "to": "2026-03-31"}
    lines = {line["key"]: line for s in report["sections"] for line in s["indicators"]}
    assert INDICATOR_KEYS <= set(lines)
    for line in lines.values():
        assert line["label"] and line["note"], line
    assert lines["teleexpertise_count"]["label"] == "Nombre de téléexpertises"
    assert lines["response_delay_hours.median"]["value"] == 2.5
    assert lines["response_delay_hours.median"]["display"] == "2,5\u00a0heures"
    assert lines["within_sla_rate"]["value"] == 1.0
    assert lines["within_sla_rate"]["display"] == "100,0\u00a0%"
    assert lines["teleexpertise_count"]["display"] == "1"
    # Three members out of 30 specialists of the territory: 10 % reached.
    assert lines["membership.coverage_rate"]["value"] == 0.1
    assert lines["membership.coverage_10"]["value"] is True
    assert lines["membership.coverage_30"]["value"] is False
    grant = lines["membership.estimated_annual_grant_eur"]
    assert "linéaire" in grant["note"] and "hypothèse" in grant["note"]
    tables = {t["key"]: t for t in report["breakdowns"]}
    assert set(tables) == {"by_month", "by_subspecialty", "by_specialist", "by_priority"}
    assert tables["by_month"]["rows"][0]["label"] == "mars 2026"
    assert [r["label"] for r in tables["by_priority"]["rows"]] == ["Urgente", "Standard"]
    assert report["notes"]


async def test_csv_report_opens_in_a_french_spreadsheet(client, ess: Ess, clock) -> None:
    await answered_request(client, ess, clock)
    response = await client.get(
        "/api/v1/reports/activity",
        params={"from": "2026-03-01", "to": "2026-03-31", "format": "csv"},
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"  # said once
    assert (
        'filename="rapport-activite_2026-03-01_2026-03-31.csv"'
        in (response.headers["content-disposition"])
    )
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    text = raw.decode("utf-8-sig")
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["Rapport d'activité – ESS"]
    header = rows.index(["Rubrique", "Indicateur", "Valeur", "Unité", "Mode de calcul"])
    values = {row[1]: row for row in rows[header + 1 :] if len(row) == 5}
    assert values["Nombre de téléexpertises"][2] == "1"
    assert values["Délai de réponse à la téléexpertise – médiane"][2:4] == ["2,5", "heures"]
    assert values["Réponses dans le délai"][2:4] == ["100,0", "%"]
    assert values["Utilité de la réponse (moyenne)"][2] == "5,00"
    # Notes in plain French: what the figure means and on how many requests.
    median_note = values["Délai de réponse à la téléexpertise – médiane"][4]
    assert "la moitié des demandes" in median_note and "Calculé sur 1 demande." in median_note
    assert "percentile_cont" not in text and "HMAC" not in text and "ESS_" not in text
    # Nothing applies: an empty cell, not "None".
    assert values["Délai d'obtention d'un rendez-vous – médiane"][2] == ""
    assert "None" not in text
    month_header = rows.index(["Par mois de soumission"]) + 1
    assert rows[month_header][0] == "Mois"
    assert rows[month_header + 1][:3] == ["mars 2026", "1", "1"]


async def test_default_format_is_json(client, ess: Ess) -> None:
    response = await client.get(
        "/api/v1/reports/activity",
        params={"from": "2026-03-01", "to": "2026-03-31"},
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 200
    assert json.loads(response.content)["report"] == "activity"


@pytest.mark.parametrize("path", ["/api/v1/indicators", "/api/v1/reports/activity"])
async def test_only_the_coordinator(client, ess: Ess, path: str) -> None:
    params = {"from": "2026-03-01", "to": "2026-03-31"}
    for user in (ess.specialists[0], ess.requesters[0]):
        response = await client.get(path, params=params, headers=ess.auth(user))
        assert response.status_code == 403
        assert "coordinateur" in response.json()["detail"]
    assert (await client.get(path, params=params)).status_code == 401


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"from": "2026-03-31", "to": "2026-03-01"}, 400, "inversée"),
        ({"from": "2026-02-30", "to": "2026-03-01"}, 400, "AAAA-MM-JJ"),
        ({"from": "01/03/2026", "to": "2026-03-31"}, 400, "AAAA-MM-JJ"),
        ({"from": "2026-03-01", "to": "demain"}, 400, "AAAA-MM-JJ"),
        ({"from": "2010-01-01", "to": "2026-12-31"}, 400, "trop longue"),
        ({"from": "1999-12-31", "to": "2000-01-31"}, 400, "2000"),
        ({"to": "2026-03-31"}, 400, "« from » obligatoire"),
        ({"from": "2026-03-01"}, 400, "« to » obligatoire"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/indicators", "/api/v1/reports/activity"])
async def test_bad_periods_are_problem_details_in_french(
    client, ess: Ess, path: str, params: dict, status: int, needle: str
) -> None:
    response = await client.get(path, params=params, headers=ess.auth(ess.coordinator))
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["status"] == status
    assert problem["title"] == "Requête invalide"
    assert needle in problem["detail"] or needle in json.dumps(problem.get("errors"))
    # Named as the query parameter it is, like any other malformed one.
    assert problem["errors"][0]["source"] == "query"
    assert problem["errors"][0]["field"] in ("from", "to")


async def test_unknown_report_format(client, ess: Ess) -> None:
    response = await client.get(
        "/api/v1/reports/activity",
        params={"from": "2026-03-01", "to": "2026-03-31", "format": "xlsx"},
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "format"
    assert response.json()["errors"][0]["source"] == "query"
    assert "csv ou json" in response.json()["detail"]


async def test_openapi_documents_the_endpoints(client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    indicators = schema["paths"]["/api/v1/indicators"]["get"]
    assert {p["name"] for p in indicators["parameters"]} >= {"from", "to"}
    report = schema["paths"]["/api/v1/reports/activity"]["get"]
    assert {p["name"] for p in report["parameters"]} >= {"from", "to", "format"}


async def test_usual_periods_count_their_requests_and_the_first_one(
    client, ess: Ess, clock
) -> None:
    """What the report page says beside each usual period, and since when the ESS works."""
    from datetime import date

    from app.services.indicators import Period
    from app.services.indicators.compute import first_submitted_at, submitted_counts
    from app.web.report import presets

    zone = ess.context.zone
    async with ess.context.db.reading() as session:
        assert await first_submitted_at(session) is None
    clock.set(paris(2026, 2, 28, 23, 30))
    await submit(client, ess)
    clock.set(paris(2026, 3, 1, 0, 30))  # 23:30 UTC on 28 February, but March in Paris
    await submit(client, ess)
    clock.set(paris(2026, 3, 2, 9, 0))
    await submit(client, ess)
    usual = presets(date(2026, 3, 2))
    assert [p.label for p in usual] == [
        "Année 2025",
        "12 derniers mois",
        "Année 2026 à ce jour",
        "Février 2026",
        "Mars 2026 à ce jour",
    ]
    assert (usual[1].first, usual[1].last) == (date(2025, 3, 3), date(2026, 3, 2))
    async with ess.context.db.reading() as session:
        counts = await submitted_counts(session, [Period(p.first, p.last, zone) for p in usual])
        first = await first_submitted_at(session)
    assert counts == [0, 3, 3, 1, 2]
    assert first == paris(2026, 2, 28, 23, 30)


async def test_a_name_written_as_a_formula_stays_text_in_the_csv(client, ess: Ess, clock) -> None:
    """Opened in a spreadsheet, the report runs nothing a sub-specialty's name says."""
    formula = '=HYPERLINK("http://evil.example";"Cliquez")'
    renamed = await client.patch(
        "/api/v1/specialties/cardiologie/subspecialties/rythmologie",
        json={"name": formula},
        headers=ess.auth(ess.coordinator),
    )
    assert renamed.status_code == 200, renamed.text
    await answered_request(client, ess, clock)
    response = await client.get(
        "/api/v1/reports/activity",
        params={"from": "2026-03-01", "to": "2026-03-31", "format": "csv"},
        headers=ess.auth(ess.coordinator),
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    cells = [cell for row in rows for cell in row]
    assert "'" + formula in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    # Numbers stay numbers.
    assert "1" in cells
