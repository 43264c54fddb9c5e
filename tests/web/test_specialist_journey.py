"""The specialist's day in a real browser: the queue updates itself, accept, ask for
information, read the reply, answer from a template, decline; on a phone too."""

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from app.web.display import MONTHS, WEEKDAYS
from tests.servers import ServerProcess
from tests.web.conftest import PHONE, api_token
from tests.web.seed import REQUESTER, SPECIALIST, seed_database
from tests.web.test_requester_journey import submit_by_api

pytestmark = pytest.mark.browser
LIVE = 10_000  # ms: a few polls (ESS_QUEUE_POLL is 1 s here)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The seeded server, its queue polled every second (20 s by default)."""
    directory = tmp_path_factory.mktemp("specialist")
    env = seed_database(directory)
    env["ESS_QUEUE_POLL"] = "1"
    process = ServerProcess(env, directory / "server.log")
    process.env["ESS_BASE_URL"] = process.url
    with process:
        yield process


def gp_writes(server: ServerProcess, request_id: str, body: str) -> None:
    httpx.post(
        f"{server.url}/api/v1/requests/{request_id}/messages",
        headers=api_token(server, REQUESTER.email),
        json={"body": body},
    ).raise_for_status()


def test_a_specialist_works_a_request_from_the_live_queue(visit, server) -> None:
    browser = visit()
    page = browser.page
    browser.goto("/")
    browser.login(SPECIALIST.email)
    expect(page.locator("h1")).to_have_text("Mes demandes")
    browser.check_accessibility()
    page.evaluate("() => { window.notReloaded = true; }")

    # A request is assigned: it appears, and the title counts it, without a reload.
    request_id = submit_by_api(server)
    item = page.locator(".queue-item").filter(has=page.locator(f"a[href='/demandes/{request_id}']"))
    expect(item).to_contain_text("Nouvelle", timeout=LIVE)
    expect(item).to_contain_text("Accepter ou décliner")
    expect(item).to_contain_text(REQUESTER.name)
    expect(page).to_have_title(re.compile(r"^\(\d+\) Mes demandes"))
    assert page.evaluate("() => window.notReloaded === true")
    browser.check_accessibility()

    # Accept.
    item.get_by_role("link").first.click()
    expect(page.locator("h1")).to_have_text(re.compile(r"^Demande TE-"))
    expect(page.get_by_text("ans)")).to_be_visible()  # the patient's age
    browser.check_accessibility()
    page.get_by_role("button", name="Accepter la demande").click()
    expect(page.get_by_role("status").first).to_have_text("Vous avez accepté la demande.")
    expect(page.locator(".badge").first).to_have_text("Acceptée")

    # Ask for information: the deadline pauses and the page says so.
    page.get_by_label("Votre message").fill("Pouvez-vous joindre le dernier ECG ?")
    page.get_by_label("Demander des informations au médecin").check()
    page.get_by_role("button", name="Envoyer le message").click()
    expect(page.locator(".flash")).to_contain_text("le délai de réponse est suspendu")
    expect(page.locator(".badge").first).to_have_text("En attente d'informations")
    expect(page.locator("#suivi + dl")).to_contain_text("Délai suspendu")

    # Back to the queue; the GP's reply arrives by itself.
    page.get_by_role("link", name="Demandes", exact=True).click()
    item = page.locator(".queue-item").filter(has=page.locator(f"a[href='/demandes/{request_id}']"))
    expect(item).to_contain_text("Délai suspendu")
    page.evaluate("() => { window.notReloaded = true; }")
    gp_writes(server, request_id, "ECG fait ce matin : rythme sinusal.")
    expect(item).to_contain_text("Non lu : le médecin a écrit", timeout=LIVE)
    expect(item).to_contain_text("Répondre")
    assert page.evaluate("() => window.notReloaded === true")
    item.get_by_role("link").first.click()
    expect(page.locator(".thread")).to_contain_text("rythme sinusal")

    # A template, created from the workspace, inserted into the answer.
    page.get_by_role("link", name="Gérer mes modèles de réponse").click()
    page.get_by_label("Titre").fill("Palpitations : Holter d'abord")
    page.get_by_label("Texte du modèle").fill("Holter ECG de 24 h, puis consultation si FA.")
    page.get_by_role("button", name="Enregistrer le modèle").click()
    expect(page.get_by_role("status").first).to_have_text("Le modèle est enregistré.")
    browser.check_accessibility()
    browser.goto(f"/demandes/{request_id}")
    page.get_by_label("Réponse au médecin demandeur").fill("Bonjour,")
    page.get_by_label("Insérer un modèle").select_option(label="Palpitations : Holter d'abord")
    page.get_by_role("button", name="Insérer le modèle").click()
    answer = page.get_by_label("Réponse au médecin demandeur")
    expect(answer).to_have_value("Bonjour,\n\nHolter ECG de 24 h, puis consultation si FA.")
    page.get_by_label("Consultation", exact=True).check()
    page.get_by_role("button", name="Envoyer la réponse").click()
    expect(page.get_by_role("status").first).to_contain_text("Votre réponse a été envoyée")
    expect(page.locator(".badge").first).to_have_text("Répondue")

    reference = page.locator("h1").inner_text().removeprefix("Demande ")

    # Counted in the month's figures.
    browser.goto("/compte/activite")
    month = MONTHS[datetime.now(ZoneInfo("Europe/Paris")).month - 1]
    expect(page.get_by_role("row").filter(has_text=month)).to_contain_text("100 %")
    browser.check_accessibility()

    # Answered: in the history tab, found by its reference.
    browser.goto("/demandes?onglet=repondues")
    page.get_by_label("Référence").fill(reference[-6:])
    page.get_by_role("button", name="Chercher").click()
    expect(page.locator(".queue-item")).to_have_count(1)
    expect(page.locator(".queue-item")).to_contain_text(reference)


def test_a_specialist_declines_with_a_category_on_a_phone(visit, server) -> None:
    request_id = submit_by_api(server)
    phone = visit(viewport=PHONE, is_mobile=True)
    page = phone.page
    phone.goto(f"/demandes/{request_id}")
    phone.login(SPECIALIST.email)
    phone.fits_width()
    phone.check_accessibility()
    page.get_by_text("Décliner la demande…").click()
    page.get_by_label("Hors de mon champ de compétence").check()
    page.get_by_label("Commentaire pour le médecin demandeur").fill("Relève de la pneumologie.")
    page.get_by_role("button", name="Décliner la demande", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Vous avez décliné la demande")
    expect(page.locator(f"a[href='/demandes/{request_id}']")).to_have_count(0)
    phone.fits_width()
    phone.check_accessibility()
    for path in ("/", "/modeles"):
        phone.goto(path)
        phone.fits_width()
        phone.check_accessibility()


def status_of(server: ServerProcess, request_id: str) -> str:
    response = httpx.get(
        f"{server.url}/api/v1/requests/{request_id}", headers=api_token(server, REQUESTER.email)
    )
    response.raise_for_status()
    return response.json()["status"]


def test_schedule_and_absence_are_honoured_by_the_next_dispatch(visit, server) -> None:
    browser = visit()
    page = browser.page
    browser.goto("/compte/disponibilites")
    browser.login(SPECIALIST.email)
    expect(page.locator("h1")).to_have_text("Mes disponibilités")
    browser.check_accessibility()

    # A schedule that leaves out today: a request sent now waits for someone.
    today = datetime.now(ZoneInfo("Europe/Paris")).weekday()
    other_day = WEEKDAYS[(today + 2) % 7]
    page.get_by_label("Modifier le planning").fill(f"{other_day} 08:00–09:00")
    page.get_by_role("button", name="Enregistrer le planning").click()
    expect(page.get_by_role("status").first).to_have_text("Votre planning est enregistré.")
    expect(page.locator("#planning + ul")).to_have_text(f"{other_day} 08:00–09:00")
    expect(page.locator("#repartition + ul")).to_contain_text(f"le {other_day} de 08:00 à 09:00")
    waiting = submit_by_api(server)
    assert status_of(server, waiting) == "pending"

    # The schedule emptied: available whenever the ESS is open, the request comes at once.
    page.get_by_label("Modifier le planning").fill("")
    page.get_by_role("button", name="Enregistrer le planning").click()
    expect(page.get_by_role("status").first).to_have_text("Votre planning est enregistré.")
    assert status_of(server, waiting) == "assigned"

    # An absence from now: the next request waits; cancelled, it comes at once.
    now = datetime.now(ZoneInfo("Europe/Paris"))
    page.get_by_label("Début").fill(now.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Fin").fill((now + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Motif").fill("Congrès")
    page.get_by_role("button", name="Enregistrer l'absence").click()
    expect(page.get_by_role("status").first).to_have_text("L'absence est enregistrée.")
    expect(page.locator(".absences")).to_contain_text("Congrès")
    browser.check_accessibility()
    during = submit_by_api(server)
    assert status_of(server, during) == "pending"
    page.get_by_role("button", name=re.compile("^Annuler l'absence")).click()
    expect(page.get_by_role("status").first).to_have_text("L'absence est annulée.")
    assert status_of(server, during) == "assigned"

    # A line the page cannot read comes back as typed, with what is wrong.
    page.get_by_label("Modifier le planning").fill("lundi 08:00–12:00\nle matin")
    page.get_by_role("button", name="Enregistrer le planning").click()
    expect(page.locator(".error-summary")).to_contain_text("ligne 2")
    expect(page.get_by_label("Modifier le planning")).to_have_value("lundi 08:00–12:00\nle matin")


def test_the_account_pages_fit_a_phone(visit, server) -> None:
    phone = visit(viewport=PHONE, is_mobile=True)
    phone.goto("/compte")
    phone.login(SPECIALIST.email)
    for path in ("/compte", "/compte/disponibilites", "/compte/activite"):
        phone.goto(path)
        phone.fits_width()
        phone.check_accessibility()
