"""The coordinator's page for one account, in a real browser: change it, see a specialist's
load, requests, schedule and absences, and change those on their behalf."""

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from stdnum import luhn

from app.web.display import french_date
from tests.servers import ServerProcess
from tests.web.conftest import PHONE, api, log_in_to_team
from tests.web.seed import COORDINATOR, REQUESTER, SPECIALIST, seed_database

pytestmark = pytest.mark.browser

PARIS = ZoneInfo("Europe/Paris")
# Planted in every clinical field of the specialist's request: none may reach the page.
MARKERS = {
    "question": "QMARK-Dyspnee-Effort-4417",
    "first_name": "Pmarkprenom",
    "last_name": "Pmarknom",
    "message": "MMARK-Message-BNP-6620",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("team-accounts")
    process = ServerProcess(seed_database(directory), directory / "server.log")
    process.env["ESS_BASE_URL"] = process.url
    with process:
        yield process


def account(server: ServerProcess, email: str) -> dict:  # type: ignore[type-arg]
    users = api(server, COORDINATOR.email, "GET", "/users").json()
    return next(u for u in users if u["email"] == email)


def open_account(browser, name: str) -> None:  # type: ignore[no-untyped-def]
    browser.page.get_by_role("button", name=f"Modifier le compte de {name}").click()
    expect(browser.page.locator("h1")).to_have_text(f"Compte de {name}")


def plant_request(server: ServerProcess) -> dict:  # type: ignore[type-arg]
    """A request held by the specialist, with a message: clinical text everywhere."""
    request = api(
        server,
        REQUESTER.email,
        "POST",
        "/requests",
        json={
            "specialty": "cardiologie",
            "subspecialty": "rythmologie",
            "priority": "urgent",
            "question": MARKERS["question"],
            "patient": {
                "first_name": MARKERS["first_name"],
                "last_name": MARKERS["last_name"],
                "birth_date": "1948-05-06",
                "sex": "F",
            },
            "consent": True,
        },
    ).json()
    assert request["status"] == "assigned", request
    base = f"/requests/{request['id']}"
    api(server, SPECIALIST.email, "POST", f"{base}/accept")
    api(server, SPECIALIST.email, "POST", f"{base}/messages", json={"body": MARKERS["message"]})
    return request


def test_the_coordinator_changes_a_specialists_account(visit, server) -> None:
    request = plant_request(server)
    browser = log_in_to_team(visit)
    page = browser.page
    open_account(browser, SPECIALIST.name)
    browser.check_accessibility()

    # The open load and the open requests: their flow, never their content.
    load = page.locator("section", has=page.locator("#charge"))
    expect(load).to_contain_text("1 / 1000")
    row = load.locator("tr", has_text=request["reference"])
    expect(row).to_contain_text("Acceptée")
    expect(row).to_contain_text("Urgente")
    expect(row).to_contain_text(re.compile(r"(dans|dépassé de) \d"))
    assert row.get_by_role("link").get_attribute("href") == f"/demandes/{request['id']}"
    html = page.content()
    for field, marker in MARKERS.items():
        assert marker not in html, f"{field} shown on the account page"

    # A capacity the schema refuses: the message beside the field, nothing changed.
    capacity = page.get_by_label("Capacité")
    capacity.fill("-1")
    page.get_by_role("button", name="Enregistrer les modifications").click()
    expect(page.locator("#f-capacity-error")).to_have_text("Au moins 0")
    expect(capacity).to_have_attribute("aria-invalid", "true")
    expect(capacity).to_have_value("-1")
    browser.check_accessibility()
    # What a browser without number inputs (or a hand-made form) may send.
    capacity.evaluate("input => { input.type = 'text'; input.value = 'abc'; }")
    page.get_by_role("button", name="Enregistrer les modifications").click()
    expect(page.locator("#f-capacity-error")).to_have_text("Nombre entier attendu")
    # Kept as typed (a number input shows it empty, but the page sent it back).
    expect(page.get_by_label("Capacité")).to_have_attribute("value", "abc")
    assert account(server, SPECIALIST.email)["capacity"] == 1000

    # Capacity, sub-specialties, end of membership, consultations avancées.
    until = datetime.now(PARIS).date() + timedelta(days=200)
    page.get_by_label("Capacité").fill("3")
    page.get_by_label("Hypertension artérielle").uncheck()
    expect(page.get_by_label("Rythmologie")).to_be_checked()
    page.get_by_label("Fin d'adhésion").fill(until.isoformat())
    page.get_by_label("Consultations avancées").check()
    page.get_by_role("button", name="Enregistrer les modifications").click()
    expect(page.locator(".flash")).to_have_text("Les modifications du compte sont enregistrées.")
    expect(page.get_by_label("Capacité")).to_have_value("3")
    expect(load).to_contain_text("1 / 3")

    browser.goto("/coordination/equipe")
    row = page.locator("#comptes tr", has_text=SPECIALIST.email)
    expect(row).to_contain_text("1 / 3")
    expect(row).to_contain_text("Rythmologie")
    expect(row).not_to_contain_text("Hypertension")
    expect(row).to_contain_text(f"jusqu'au {french_date(until)}")
    expect(row).to_contain_text("Consultations avancées")
    claire = account(server, SPECIALIST.email)
    assert claire["capacity"] == 3
    assert claire["subspecialties"] == ["rythmologie"]
    assert claire["member_until"] == until.isoformat()
    assert claire["advanced_consultations"] is True


def test_the_coordinator_keeps_a_specialists_schedule_and_absences(visit, server) -> None:
    claire = account(server, SPECIALIST.email)
    browser = log_in_to_team(visit)
    page = browser.page
    open_account(browser, SPECIALIST.name)

    # An absence declared on her behalf, with its reason: her own page shows it.
    start = datetime.now(PARIS).replace(second=0, microsecond=0) + timedelta(days=3)
    absences_section = page.locator("section", has=page.locator("#absences"))
    absences_section.get_by_label("Début").fill(start.strftime("%Y-%m-%dT%H:%M"))
    end = start + timedelta(days=2)
    absences_section.get_by_label("Fin").fill(end.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Motif").fill("Congrès de rythmologie")
    page.get_by_role("button", name="Enregistrer l'absence").click()
    expect(page.locator(".flash")).to_have_text("L'absence est enregistrée.")
    expect(page.locator(".absences")).to_contain_text("Congrès de rythmologie")
    absences = api(server, COORDINATOR.email, "GET", f"/users/{claire['id']}/absences").json()
    assert [a["reason"] for a in absences] == ["Congrès de rythmologie"]

    # The weekly schedule, in the lines her own page uses; a bad line comes back as typed.
    schedule = page.get_by_label("Modifier le planning")
    schedule.fill("mardi 09:00–12:00\nle jeudi après-midi")
    page.get_by_role("button", name="Enregistrer le planning").click()
    expect(page.locator("#f-slots-error")).to_contain_text("ligne 2")
    expect(schedule).to_have_value("mardi 09:00–12:00\nle jeudi après-midi")
    browser.check_accessibility()
    assert api(server, COORDINATOR.email, "GET", f"/users/{claire['id']}/schedule").json() == {
        "slots": []
    }
    schedule.fill("mardi 09:00–12:00\njeudi 14h-18h")
    page.get_by_role("button", name="Enregistrer le planning").click()
    expect(page.locator(".flash")).to_have_text("Le planning est enregistré.")
    expect(page.locator("#planning + ul")).to_have_text("mardi 09:00–12:00jeudi 14:00–18:00")
    slots = api(server, COORDINATOR.email, "GET", f"/users/{claire['id']}/schedule").json()
    assert slots["slots"] == [
        {"weekday": 1, "start": "09:00", "end": "12:00"},
        {"weekday": 3, "start": "14:00", "end": "18:00"},
    ]
    browser.check_accessibility()

    own = visit()
    own.goto("/compte/disponibilites")
    own.login(SPECIALIST.email)
    expect(own.page.locator(".absences")).to_contain_text("Congrès de rythmologie")
    expect(own.page.locator("#planning + ul")).to_contain_text("jeudi 14:00–18:00")

    # Cancelled and emptied again from the coordinator's page: her page follows.
    page.get_by_role("button", name=re.compile("^Annuler l'absence")).click()
    expect(page.locator(".flash")).to_have_text("L'absence est annulée.")
    expect(page.locator("#absences ~ p")).to_have_text("Aucune absence à venir.")
    page.get_by_label("Modifier le planning").fill("")
    page.get_by_role("button", name="Enregistrer le planning").click()
    expect(page.locator(".flash")).to_have_text("Le planning est enregistré.")
    own.page.reload()
    expect(own.page.locator("#absences + p")).to_have_text("Aucune absence à venir.")
    expect(own.page.locator("#planning + p")).to_contain_text("Aucun planning")


def test_a_requesters_page_refuses_a_bad_rpps_beside_the_field(visit, server) -> None:
    before = account(server, REQUESTER.email)
    browser = log_in_to_team(visit)
    page = browser.page
    page.get_by_role("link", name=re.compile(r"^Demandeurs \(\d+\)$")).click()
    open_account(browser, REQUESTER.name)
    # A requester's fields, not a specialist's.
    expect(page.get_by_label("Médecin traitant")).to_be_checked()
    assert page.get_by_label("Capacité").count() == 0
    assert page.locator("#charge, #planning, #absences").count() == 0

    rpps = page.get_by_label("RPPS")
    rpps.fill("10000000000")  # eleven digits, wrong check digit
    page.get_by_role("button", name="Enregistrer les modifications").click()
    expect(page.locator("#f-rpps-error")).to_have_text(
        "Le numéro RPPS est invalide (clé de contrôle incorrecte)."
    )
    expect(rpps).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("RPPS")).to_have_value("10000000000")
    browser.check_accessibility()
    assert account(server, REQUESTER.email)["rpps"] == before["rpps"]

    valid = "1000000000" + luhn.calc_check_digit("1000000000")
    page.get_by_label("RPPS").fill(valid)
    page.get_by_label("Médecin traitant").uncheck()
    page.get_by_role("button", name="Enregistrer les modifications").click()
    expect(page.locator(".flash")).to_have_text("Les modifications du compte sont enregistrées.")
    after = account(server, REQUESTER.email)
    assert after["rpps"] == valid and after["treating_physician"] is False

    # An address already taken: beside the field. A new one: used once its link is followed.
    page.get_by_label("Adresse e-mail").fill(SPECIALIST.email)
    page.get_by_role("button", name="Enregistrer les modifications").click()
    expect(page.locator("#f-email-error")).to_contain_text("Un compte existe déjà")
    page.get_by_label("Adresse e-mail").fill("anne.dubois@nouveau-cabinet.fr")
    page.get_by_role("button", name="Enregistrer les modifications").click()
    expect(page.locator(".flash")).to_contain_text("Un lien est envoyé à la nouvelle adresse")
    assert account(server, REQUESTER.email)["id"] == before["id"]


def test_the_account_page_reads_on_a_phone(visit, server) -> None:
    phone = log_in_to_team(visit, viewport=PHONE, is_mobile=True)
    open_account(phone, SPECIALIST.name)
    phone.fits_width()
    phone.check_accessibility()
    phone.goto("/coordination/equipe")
    phone.fits_width()


def test_an_unknown_account_is_a_page_not_found(visit, server) -> None:
    browser = log_in_to_team(visit)
    response = browser.goto("/coordination/equipe/comptes/00000000-0000-0000-0000-000000000000")
    assert response is not None and response.status == 404
    expect(browser.page.locator("main")).to_contain_text("Utilisateur introuvable.")


def test_a_retired_specialty_is_offered_only_to_who_has_it(visit, server) -> None:
    api(server, COORDINATOR.email, "PATCH", "/specialties/dermatologie", json={"retired": True})
    api(
        server,
        COORDINATOR.email,
        "PATCH",
        "/specialties/cardiologie/subspecialties/rythmologie",
        json={"retired": True},
    )
    try:
        browser = log_in_to_team(visit)
        page = browser.page
        open_account(browser, SPECIALIST.name)
        options = page.get_by_label("Spécialité").locator("option").all_inner_texts()
        assert options == ["Cardiologie"]
        assert page.get_by_label("Psoriasis").count() == 0
        # Hers, retired since: shown as such, and kept when the form is saved.
        expect(page.get_by_label("Rythmologie (Cardiologie) (retirée)")).to_be_checked()
        page.get_by_role("button", name="Enregistrer les modifications").click()
        expect(page.locator(".flash")).to_have_text(
            "Les modifications du compte sont enregistrées."
        )
        assert "rythmologie" in account(server, SPECIALIST.email)["subspecialties"]
    finally:
        api(
            server,
            COORDINATOR.email,
            "PATCH",
            "/specialties/cardiologie/subspecialties/rythmologie",
            json={"retired": False},
        )
        api(
            server, COORDINATOR.email, "PATCH", "/specialties/dermatologie", json={"retired": False}
        )


def test_the_accounts_are_listed_by_role_searched_and_by_page(visit, server) -> None:
    """Hundreds of GPs must not bury the specialists: one role at a time, 50 a page."""
    for number in range(55):
        api(
            server,
            COORDINATOR.email,
            "POST",
            "/users",
            json={
                "role": "requester",
                "email": f"gp{number:02d}@cabinet-medical.fr",
                "name": f"Dr Généraliste {number:02d}",
            },
        )
    browser = log_in_to_team(visit)
    page = browser.page
    accounts = page.locator("#comptes")
    # Specialists first: no requester among them.
    expect(accounts.get_by_role("link", name=re.compile("^Spécialistes"))).to_have_attribute(
        "aria-current", "page"
    )
    expect(accounts).to_contain_text(SPECIALIST.email)
    expect(accounts).not_to_contain_text("gp00@cabinet-medical.fr")

    tab = accounts.get_by_role("link", name=re.compile(r"^Demandeurs \(\d+\)$"))
    expect(tab).to_have_text("Demandeurs (56)")  # the seeded GP and the 55
    tab.click()
    expect(accounts.locator("tbody tr")).to_have_count(50)
    expect(accounts).to_contain_text("Page 1 sur 2")
    accounts.get_by_role("link", name="Page suivante →").click()
    expect(accounts.locator("tbody tr")).to_have_count(6)
    browser.check_accessibility()

    # Searched by a piece of the name or of the address, in any case.
    page.get_by_label(re.compile("Rechercher parmi les demandeurs")).fill("GÉNÉRALISTE 4")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("status")).to_have_text(
        re.compile("^10 comptes trouvés pour « GÉNÉRALISTE 4 »")
    )
    expect(accounts.locator("tbody tr")).to_have_count(10)
    page.get_by_label(re.compile("Rechercher parmi les demandeurs")).fill("gp07@")
    page.get_by_role("button", name="Rechercher").click()
    expect(accounts.locator("tbody tr")).to_have_count(1)
    expect(accounts).to_contain_text("Dr Généraliste 07")
    # A search that finds nobody says so; a percent sign is a character, not a wildcard.
    page.get_by_label(re.compile("Rechercher parmi les demandeurs")).fill("%")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("status")).to_have_text(re.compile("^Aucun compte trouvé pour « % »"))
    # A page past the end, or an unknown role, is refused, not a server error.
    assert browser.goto("/coordination/equipe?role=patient").status == 400
    assert browser.goto("/coordination/equipe?role=requester&page=0").status == 400


def test_a_specialist_holding_requests_is_not_deactivated(visit, server) -> None:
    """Their requests would wait for nobody: the page says so, and nothing changes."""
    plant_request(server)
    browser = log_in_to_team(visit)
    page = browser.page
    page.get_by_role("button", name=f"Désactiver le compte de {SPECIALIST.name}").click()
    expect(page.locator(".error-summary")).to_contain_text(
        re.compile(rf"{SPECIALIST.name} détient encore \d+ demandes? ouvertes?")
    )
    browser.check_accessibility()
    assert account(server, SPECIALIST.email)["active"] is True


def test_an_invitation_without_a_mail_server_says_it_is_held(visit, server) -> None:
    """This server has no SMTP server: the page must not claim the e-mail went."""
    browser = log_in_to_team(visit)
    page = browser.page
    page.get_by_label("Rôle", exact=True).select_option(label="Demandeur")
    page.get_by_label("Nom affiché").fill("Dr Jeanne Sansmail")
    page.get_by_label("Adresse e-mail").fill("jeanne.sansmail@cabinet-medical.fr")
    page.get_by_role("button", name="Inviter").click()
    expect(page.locator(".flash")).to_contain_text("aucun serveur d'e-mail n'est configuré")
    # Back on the requesters' list, where she now is.
    expect(page.locator("#comptes")).to_contain_text("jeanne.sansmail@cabinet-medical.fr")
