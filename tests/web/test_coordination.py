"""The coordinator's console in a real browser: delays, alerts, stuck requests, by hand."""

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from tests.notifications.smtp import SmtpServer
from tests.servers import ServerProcess
from tests.web.conftest import PHONE, api, api_token
from tests.web.seed import COORDINATOR, REQUESTER, SPECIALIST, seed_database

pytestmark = pytest.mark.browser

# Planted in every clinical field: no coordinator's page may contain any of them.
MARKERS = {
    "question": "QMARK-Souffle-Systolique-7731",
    "first_name": "Pmarkprenom",
    "last_name": "Pmarknom",
    "answer": "AMARK-Reponse-Holter-5512",
    "message": "MMARK-Message-TSH-9904",
    "filename": "FMARK-ecg-8841.pdf",
}
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[ServerProcess]:
    """The module's server: urgent answers due within seconds (a breach to watch), SMTP."""
    directory = tmp_path_factory.mktemp("coordination")
    env = seed_database(directory)
    env.update(
        {
            "ESS_SLA__URGENT__ANSWER_WITHIN": "PT4S",
            "ESS_SLA__TICK_SECONDS": "1",
            "ESS_SMTP__HOST": "127.0.0.1",
            "ESS_SMTP__PORT": str(smtp.port),
            "ESS_SMTP__POLL_SECONDS": "1",
        }
    )
    process = ServerProcess(env, directory / "server.log")
    process.env["ESS_BASE_URL"] = process.url
    with process:
        yield process


def submit(server: ServerProcess, priority: str = "standard") -> dict:  # type: ignore[type-arg]
    return api(
        server,
        REQUESTER.email,
        "POST",
        "/requests",
        json={
            "specialty": "cardiologie",
            "subspecialty": "rythmologie",
            "priority": priority,
            "question": MARKERS["question"],
            "patient": {
                "first_name": MARKERS["first_name"],
                "last_name": MARKERS["last_name"],
                "birth_date": "1951-02-03",
                "sex": "M",
            },
            "consent": True,
        },
    ).json()


def specialist_id(server: ServerProcess) -> str:
    users = api(server, COORDINATOR.email, "GET", "/users", params={"role": "specialist"}).json()
    return next(u["id"] for u in users if u["email"] == SPECIALIST.email)


def log_in_coordinator(visit, **options):  # type: ignore[no-untyped-def]
    browser = visit(**options)
    browser.goto("/")
    browser.login(COORDINATOR.email)
    return browser


def test_the_dashboard_shows_the_apis_figures_and_reads_on_a_phone(visit, server) -> None:
    answered = submit(server)
    submit(server)
    headers = api_token(server, SPECIALIST.email)
    base = f"{server.url}/api/v1/requests/{answered['id']}"
    httpx.post(f"{base}/accept", headers=headers).raise_for_status()
    httpx.post(
        f"{base}/answer", headers=headers, json={"answer": MARKERS["answer"], "outcome": "advice"}
    ).raise_for_status()

    browser = log_in_coordinator(visit)
    page = browser.page
    expect(page).to_have_url(f"{server.url}/coordination")
    expect(page.locator("h1")).to_have_text("Tableau de bord")
    browser.check_accessibility()

    today = datetime.now(UTC).astimezone(ZoneInfo("Europe/Paris")).date()
    periods = {
        2: (today - timedelta(days=29), today),
        3: (today - timedelta(days=59), today - timedelta(days=30)),
    }
    for column, (first, last) in periods.items():
        figures = api(
            server,
            COORDINATOR.email,
            "GET",
            "/indicators",
            params={"from": first.isoformat(), "to": last.isoformat()},
        ).json()
        for row in page.locator("#indicateurs tbody tr").all():
            key = row.get_attribute("data-indicator")
            expected = figures
            for part in key.split("."):
                expected = expected[part]
            cell = row.locator(f"td:nth-child({column})")
            shown = cell.get_attribute("data-value")
            assert shown == ("" if expected is None else str(expected)), key
    assert (
        page.locator('#indicateurs tr[data-indicator="teleexpertise_count"] td').first.inner_text()
        != "0"
    )
    # The charts are drawn by the service, each with its data in a table.
    assert page.locator("svg.chart").count() == 3
    assert page.locator("figure details table").count() == 3

    phone = log_in_coordinator(visit, viewport=PHONE, is_mobile=True)
    expect(phone.page.locator("h1")).to_have_text("Tableau de bord")
    phone.fits_width()
    phone.check_accessibility()


def test_a_breached_request_appears_in_the_alerts(visit, server) -> None:
    urgent = submit(server, "urgent")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        alerts = api(
            server, COORDINATOR.email, "GET", "/sla/alerts", params={"state": "breached"}
        ).json()
        if any(a["request_id"] == urgent["id"] for a in alerts):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the urgent request was never breached")
    browser = log_in_coordinator(visit)
    row = browser.page.locator("#alertes tr", has_text=urgent["reference"])
    expect(row).to_contain_text("délai dépassé")
    expect(row).to_contain_text(re.compile(r"dépassé de \d"))
    expect(row).to_contain_text(SPECIALIST.name)


def test_a_pending_request_is_assigned_by_hand_and_leaves_the_list(visit, server) -> None:
    claire = specialist_id(server)
    now = datetime.now(UTC)
    absence = api(
        server,
        COORDINATOR.email,
        "POST",
        f"/users/{claire}/absences",
        json={
            "start": (now - timedelta(hours=1)).isoformat(),
            "end": (now + timedelta(days=2)).isoformat(),
        },
    ).json()
    try:
        pending = submit(server)
        assert pending["status"] == "pending"
        browser = log_in_coordinator(visit)
        page = browser.page
        row = page.locator("#en-attente tr", has_text=pending["reference"])
        expect(row).to_contain_text("aucun spécialiste disponible")
        # When the dispatcher said so: an explanation may date from a night or a weekend.
        expect(row).to_contain_text(re.compile(r"Constaté le \d{2}/\d{2}/\d{4}"))
        row.get_by_role("button", name=re.compile("Attribuer")).click()
        expect(page.locator("h1")).to_have_text(f"Attribuer la demande {pending['reference']}")
        expect(page.locator("#repartiteur")).to_contain_text("ne trouverait personne")
        choice = page.locator("tr", has_text=SPECIALIST.name)
        expect(choice).to_contain_text("Absent")
        browser.check_accessibility()
        page.get_by_role("button", name="Attribuer").click()  # nobody chosen
        expect(page.locator(".error-summary")).to_contain_text("Choisissez un spécialiste")
        page.get_by_label(SPECIALIST.name).check()
        page.get_by_role("button", name="Attribuer").click()
        expect(page).to_have_url(re.compile("/coordination"))
        expect(page.locator(".flash")).to_have_text("La demande est attribuée.")
        expect(page.locator("#en-attente")).not_to_contain_text(pending["reference"])
        state = api(server, COORDINATOR.email, "GET", f"/requests/{pending['id']}").json()
        assert state["status"] == "assigned" and state["assignee_id"] == claire
    finally:
        api(server, COORDINATOR.email, "DELETE", f"/users/{claire}/absences/{absence['id']}")


def test_an_invitation_sent_from_the_team_page_reaches_the_mailbox(visit, server, smtp) -> None:
    browser = log_in_coordinator(visit)
    page = browser.page
    browser.goto("/coordination/equipe")
    expect(page.locator("h1")).to_have_text("L'équipe")
    browser.check_accessibility()
    page.get_by_label("Nom affiché").fill("Dr Paul Roux")
    page.get_by_label("Adresse e-mail").fill("paul.roux@ess-test.fr")
    page.get_by_label("Spécialité (spécialistes)").select_option(label="Cardiologie")
    page.get_by_role("checkbox", name="Rythmologie").check()
    page.get_by_role("button", name="Inviter").click()
    expect(page.locator(".flash")).to_have_text("L'invitation est envoyée.")
    row = page.locator("#comptes tr", has_text="paul.roux@ess-test.fr")
    expect(row).to_contain_text("Invitation en attente")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        sent = [m for m in smtp.inbox.messages if "paul.roux@ess-test.fr" in m["X-Envelope-To"]]
        if sent:
            break
        time.sleep(0.3)
    else:
        raise AssertionError("no invitation reached the SMTP server")
    assert "choisissez votre mot de passe" in sent[0]["Subject"]
    assert f"{server.url}/invitation/" in smtp.inbox.text(sent[0])


def test_a_roster_with_one_bad_line_is_refused_naming_that_line(visit, server) -> None:
    browser = log_in_coordinator(visit)
    page = browser.page
    browser.goto("/coordination/equipe")
    roster = (
        "email;name;specialty;subspecialties;capacity\n"
        "lea.blanc@ess-test.fr;Dr Léa Blanc;cardiologie;rythmologie;4\n"
        "marc.noir-sans-arobase;Dr Marc Noir;cardiologie;;3\n"
    ).encode()
    page.get_by_label("Fichier CSV").set_input_files(
        [{"name": "tableau.csv", "mimeType": "text/csv", "buffer": roster}]
    )
    page.get_by_role("button", name="Vérifier le fichier").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Ligne 3")
    expect(summary).to_contain_text("rien ne sera importé")
    assert page.get_by_role("button", name="Confirmer l'import").count() == 0
    browser.check_accessibility()
    users = api(server, COORDINATOR.email, "GET", "/users").json()
    assert not any(u["email"] == "lea.blanc@ess-test.fr" for u in users)

    # Corrected, it shows what would change, then imports on confirmation.
    page.goto(f"{server.url}/coordination/equipe")
    page.get_by_label("Fichier CSV").set_input_files(
        [
            {
                "name": "tableau.csv",
                "mimeType": "text/csv",
                "buffer": roster.split(b"marc.noir")[0][:-1],
            }
        ]
    )
    page.get_by_role("button", name="Vérifier le fichier").click()
    expect(page.locator("table")).to_contain_text("Création")
    page.get_by_role("button", name="Confirmer l'import").click()
    expect(page.locator(".flash")).to_have_text("Le tableau des spécialistes est importé.")
    expect(page.locator("#comptes")).to_contain_text("lea.blanc@ess-test.fr")


def french_grouping(cell: str) -> str:
    """A spreadsheet's number as the page writes it: ``51383`` → ``51 383`` (narrow no-break
    space), ``1234,5`` → ``1 234,5``; any other text unchanged."""
    whole, comma, decimals = cell.partition(",")
    if not whole.isdigit() or (comma and not decimals.isdigit()):
        return cell
    return f"{int(whole):,}".replace(",", "\u202f") + comma + decimals


def test_the_report_on_screen_is_the_csv(visit, server) -> None:
    import csv
    import io

    today = datetime.now(UTC).astimezone(ZoneInfo("Europe/Paris")).date()
    browser = log_in_coordinator(visit)
    page = browser.page
    browser.goto("/coordination/rapport")
    expect(page.get_by_label("Du")).to_have_value(f"{today.year - 1}-01-01")  # last year
    page.get_by_role("link", name=f"Année {today.year} à ce jour").click()
    expect(page.locator("#rapport h2")).to_contain_text("Rapport")
    browser.check_accessibility()
    link = page.get_by_role("link", name="CSV (tableur)")
    response = page.request.get(server.url + link.get_attribute("href"))
    assert response.ok
    rows = list(csv.reader(io.StringIO(response.body().decode("utf-8-sig")), delimiter=";"))
    header = rows.index(["Rubrique", "Indicateur", "Valeur", "Unité", "Mode de calcul"])
    expected = []
    for row in rows[header + 1 :]:
        if not row:
            break
        expected.append(row)
    # The page groups thousands (« 51 383 »), the spreadsheet's cells keep bare numbers.
    expected = [[*row[:2], french_grouping(row[2]), *row[3:]] for row in expected]
    shown = []
    for table in page.locator("table.report-lines").all():
        section = table.get_attribute("data-section")
        for tr in table.locator("tbody tr").all():
            cells = [c.inner_text().strip() for c in tr.locator("th, td").all()]
            shown.append([section, *cells])
    assert shown == expected
    assert any(r[1] == "Nombre de téléexpertises" or "téléexpertise" in r[1] for r in shown)
    # Each breakdown's title and rows, as in the CSV.
    for table in page.locator("table.report-breakdown").all():
        title = table.get_attribute("data-title")
        start = rows.index([title])
        for offset, tr in enumerate(table.locator("tbody tr").all(), start=2):
            cells = [c.inner_text().strip() for c in tr.locator("th, td").all()]
            assert cells == [french_grouping(cell) for cell in rows[start + offset]], title


def test_no_coordinator_page_shows_clinical_content(visit, server) -> None:
    request = submit(server)
    claire = specialist_id(server)
    if request["assignee_id"] != claire:  # the roster test's specialists take turns too
        api(
            server,
            COORDINATOR.email,
            "POST",
            f"/requests/{request['id']}/assign",
            json={"assignee_id": claire},
        )
    headers = api_token(server, SPECIALIST.email)
    base = f"{server.url}/api/v1/requests/{request['id']}"
    httpx.post(
        f"{base}/attachments",
        headers=api_token(server, REQUESTER.email),
        files={"file": (MARKERS["filename"], PDF, "application/pdf")},
    ).raise_for_status()
    httpx.post(f"{base}/accept", headers=headers).raise_for_status()
    httpx.post(
        f"{base}/messages", headers=headers, json={"body": MARKERS["message"]}
    ).raise_for_status()
    httpx.post(
        f"{base}/answer", headers=headers, json={"answer": MARKERS["answer"], "outcome": "advice"}
    ).raise_for_status()

    browser = log_in_coordinator(visit)
    page = browser.page
    seen: set[str] = set()
    open_one = submit(server)  # still open: its page offers « Attribuer »
    queue = [
        "/coordination",
        "/coordination/exploitation",
        f"/demandes/{request['id']}",
        f"/coordination/demandes/{request['id']}/attribution",
        f"/demandes/{open_one['id']}",
        "/demandes",
    ]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        response = page.goto(server.url + path)
        assert response is not None and response.ok, path
        html = page.content()
        for field, marker in MARKERS.items():
            assert marker not in html, f"{field} shown on {path}"
        # Pages only: a link marked ``download`` hands over a file (the roster template).
        for href in page.eval_on_selector_all(
            "a[href^='/']:not([download])", "els => els.map(e => e.getAttribute('href'))"
        ):
            target = href.split("#")[0]
            if target.startswith(("/coordination", "/demandes/")) and "/rapport/" not in target:
                queue.append(target)
    assert "/coordination/equipe" in seen and "/coordination/rapport" in seen
    assert any(p.endswith("/attribution") for p in seen)


def test_operations_show_the_keys_and_check_the_audit_chain_on_demand(visit, server) -> None:
    browser = log_in_coordinator(visit)
    page = browser.page
    browser.goto("/coordination/exploitation")
    expect(page.locator("h1")).to_have_text("Exploitation")
    expect(page.locator("#cles + dl")).to_contain_text("Version active")
    page.get_by_role("button", name="Vérifier le journal d'audit").click()
    expect(page.locator("#audit-verdict")).to_contain_text("Journal d'audit intègre")
    browser.check_accessibility()
