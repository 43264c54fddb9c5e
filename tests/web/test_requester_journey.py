"""The requester's journey in a real browser: log in, ask, attach, follow, read, close."""

import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.conftest import PHONE, api_token, request_id_of
from tests.web.seed import COORDINATOR, REQUESTER, SPECIALIST

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
QUESTION = "Palpitations depuis trois semaines, ECG joint : FA paroxystique ? " * 30  # ~2 000


def fill_request(page, question: str = QUESTION) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label(re.compile("^Spécialité")).select_option(label="Cardiologie")
    page.get_by_label("Sur-spécialité").select_option(label="Rythmologie")
    page.get_by_label("Question posée au spécialiste").fill(question)
    page.get_by_label(re.compile("^Nom")).fill("Durand")
    page.get_by_label(re.compile("^Prénom")).fill("Jeanne")
    page.get_by_label("Date de naissance").fill("1956-04-12")
    page.get_by_label("Femme").check()


def submit_by_api(server) -> str:  # type: ignore[no-untyped-def]
    """A request of the requester's, sent over the API: its id."""
    response = httpx.post(
        f"{server.url}/api/v1/requests",
        headers=api_token(server, REQUESTER.email),
        json={
            "specialty": "cardiologie",
            "priority": "standard",
            "question": "Dyspnée d'effort récente : échographie cardiaque ?",
            "patient": {
                "first_name": "Paul",
                "last_name": "Martin",
                "birth_date": "1948-09-30",
                "sex": "M",
            },
            "consent": True,
        },
    )
    response.raise_for_status()
    return response.json()["id"]


def answer_by_api(server, request_id: str) -> None:  # type: ignore[no-untyped-def]
    """The specialist's side, over the API (their pages are tested with them)."""
    headers = api_token(server, SPECIALIST.email)
    base = f"{server.url}/api/v1/requests/{request_id}"
    httpx.post(f"{base}/accept", headers=headers).raise_for_status()
    httpx.post(
        f"{base}/answer",
        headers=headers,
        json={"answer": "FA paroxystique probable : Holter de 24 h.", "outcome": "advice"},
    ).raise_for_status()


def test_a_requester_asks_follows_reads_the_answer_and_closes(visit, server) -> None:
    browser = visit()
    page = browser.page
    # From the menu's address while logged out: the login, then the page asked for.
    browser.goto("/demandes/nouvelle")
    expect(page).to_have_title(re.compile("^Connexion"))
    browser.check_accessibility()
    browser.login(REQUESTER.email)
    expect(page).to_have_url(f"{server.url}/demandes/nouvelle")
    expect(page.locator("h1")).to_have_text("Nouvelle demande d'avis")
    browser.check_accessibility()

    fill_request(page)
    expect(page.locator("#f-question-count")).to_contain_text("/ 20 000 caractères")
    page.get_by_label("Urgente", exact=False).check()
    page.get_by_label("Mon patient a reçu ces informations").check()
    page.get_by_label("Photographies ou documents").set_input_files(
        [{"name": "ecg.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.get_by_role("button", name="Envoyer la demande").click()

    expect(page.locator("h1")).to_have_text(re.compile(r"^Demande TE-\d{4}-\d{6}$"))
    expect(page.get_by_role("status")).to_have_text("Votre demande a été envoyée.")
    expect(page.get_by_text(SPECIALIST.name).first).to_be_visible()
    expect(page.get_by_role("link", name="ecg.pdf")).to_be_visible()
    expect(page.locator(".badge").first).to_have_text("Attribuée")
    browser.check_accessibility()
    request_id = request_id_of(page.url)
    reference = page.locator("h1").inner_text().removeprefix("Demande ")

    # The list shows it, newest first, with its status and its specialist.
    page.get_by_role("link", name="Demandes", exact=True).click()
    row = page.get_by_role("row").filter(has_text=reference)
    expect(row).to_contain_text("Attribuée")
    expect(row).to_contain_text(SPECIALIST.name)
    expect(row).to_contain_text("Urgente")
    browser.check_accessibility()

    # A message to the specialist.
    row.get_by_role("link", name=reference).click()
    page.get_by_label("Votre message").fill("Le patient est sous bêtabloquant depuis lundi.")
    page.get_by_role("button", name="Envoyer le message").click()
    expect(page.get_by_role("status")).to_have_text("Votre message a été envoyé.")
    expect(page.locator(".thread")).to_contain_text("sous bêtabloquant")

    answer_by_api(server, request_id)
    page.reload()
    expect(page.locator("#reponse + p")).to_have_text("FA paroxystique probable : Holter de 24 h.")
    expect(page.locator(".badge").first).to_have_text("Répondue")
    browser.check_accessibility()

    page.get_by_label("4", exact=True).check()
    page.get_by_label("Oui").check()
    page.get_by_role("button", name="Clôturer la demande").click()
    expect(page.get_by_role("status")).to_contain_text("La demande est clôturée")
    expect(page.locator(".badge").first).to_have_text("Clôturée")
    expect(page.get_by_role("button", name="Envoyer le message")).to_have_count(0)

    # Filtered by status, the closed request is there.
    browser.goto("/demandes?status=closed")
    expect(page.get_by_role("row").filter(has_text=reference)).to_contain_text("Clôturée")


def test_an_email_link_opens_the_request_after_login(visit, server) -> None:
    first = visit()
    first.goto("/connexion")
    first.login(REQUESTER.email)
    first.goto("/demandes/nouvelle")
    fill_request(first.page, "Souffle systolique découvert à l'auscultation.")
    first.page.get_by_label("Mon patient a reçu ces informations").check()
    first.page.get_by_role("button", name="Envoyer la demande").click()
    link = first.page.url

    # Another browser, never logged in, opens the link from the e-mail.
    later = visit()
    later.page.goto(link)
    expect(later.page).to_have_title(re.compile("^Connexion"))
    later.login(REQUESTER.email)
    expect(later.page).to_have_url(link)
    expect(later.page.get_by_text("Souffle systolique")).to_be_visible()


def test_on_a_phone_without_javascript_a_refused_form_keeps_everything(visit, server) -> None:
    phone = visit(viewport=PHONE, java_script_enabled=False, is_mobile=True)
    page = phone.page
    phone.goto("/connexion")
    phone.login(REQUESTER.email)
    phone.goto("/demandes/nouvelle")
    fill_request(page)
    page.get_by_label("INS").fill("123")  # not a NIR
    page.get_by_role("button", name="Envoyer la demande").click()  # and no consent

    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Le formulaire contient 2 erreurs")
    expect(summary).to_contain_text("Consentement")
    assert page.get_by_label("Question posée au spécialiste").input_value() == QUESTION
    expect(page.get_by_label(re.compile("^Nom"))).to_have_value("Durand")
    expect(page.get_by_label("Femme")).to_be_checked()
    ins = page.get_by_label("INS")
    expect(ins).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#" + ins.get_attribute("aria-describedby").split()[-1])).to_contain_text(
        "NIR"
    )

    ins.fill("")
    page.get_by_label("Mon patient a reçu ces informations").check()
    page.get_by_role("button", name="Envoyer la demande").click()
    expect(page.locator("h1")).to_have_text(re.compile(r"^Demande TE-"))
    expect(page.locator(".prewrap").first).to_contain_text(QUESTION.strip()[:60])


def test_pages_fit_a_phone(visit, server) -> None:
    request_id = submit_by_api(server)
    phone = visit(viewport=PHONE, is_mobile=True)
    phone.goto("/connexion")
    phone.fits_width()
    phone.login(REQUESTER.email)
    for path in ("/demandes/nouvelle", "/demandes"):
        phone.goto(path)
        phone.fits_width()
        phone.check_accessibility()
    phone.goto(f"/demandes/{request_id}")
    phone.fits_width()
    phone.check_accessibility()


def test_a_session_that_expired_while_typing_keeps_the_text(visit, server) -> None:
    request_id = submit_by_api(server)
    browser = visit()
    page = browser.page
    browser.goto(f"/demandes/{request_id}")
    browser.login(REQUESTER.email)
    request_url = page.url
    page.get_by_label("Votre message").fill("Un long message tapé pendant que la session expirait.")
    browser.context.clear_cookies(name="ess_session")  # as the idle expiry does

    page.get_by_role("button", name="Envoyer le message").click()
    expect(page.get_by_text("Votre session a expiré")).to_be_visible()
    browser.login(REQUESTER.email)
    expect(page.locator("h1")).to_have_text("Reprendre votre saisie")
    page.get_by_role("button", name="Envoyer de nouveau").click()
    expect(page).to_have_url(re.compile(re.escape(request_url)))
    expect(page.locator(".thread")).to_contain_text("pendant que la session expirait")


def test_from_the_invitation_a_new_gp_chooses_a_password_and_sends_a_request(
    visit, server, smtp
) -> None:
    """The whole journey of someone who has never seen the service, from the e-mail."""
    email = "nouvelle.medecin@cabinet-test.fr"
    created = httpx.post(
        f"{server.url}/api/v1/users",
        headers=api_token(server, COORDINATOR.email),
        json={"role": "requester", "email": email, "name": "Dr Inès Nouvelle"},
    )
    assert created.status_code == 201, created.text
    deadline = time.monotonic() + 20
    while not (mails := [m for m in smtp.inbox.messages if email in m["To"]]):
        assert time.monotonic() < deadline, "no invitation e-mail"
        time.sleep(0.2)
    link = re.search(
        re.escape(server.url) + r"/invitation/[A-Za-z0-9_-]+", smtp.inbox.text(mails[0])
    )
    assert link, smtp.inbox.text(mails[0])

    phone = visit(viewport=PHONE, is_mobile=True)
    page = phone.page
    page.goto(link.group(0))
    expect(page.locator("h1")).to_have_text("Bienvenue : choisissez votre mot de passe")
    phone.check_accessibility()
    phone.fits_width()
    page.get_by_label(re.compile("^Mot de passe")).fill("Ortie-falaise-Vx7-2026")
    page.get_by_label("Le même mot de passe, de nouveau").fill("Ortie-falaise-Vx7-2026")
    page.get_by_role("button", name="Choisir ce mot de passe").click()
    expect(page.get_by_role("status")).to_contain_text("Votre mot de passe est enregistré")
    phone.login(email, "Ortie-falaise-Vx7-2026")
    expect(page.locator("h1")).to_have_text("Mes demandes")
    page.get_by_role("link", name="Demander l'avis d'un spécialiste").click()
    fill_request(page, "Première demande : souffle cardiaque chez un patient de 60 ans.")
    page.get_by_label("Mon patient a reçu ces informations").check()
    page.get_by_role("button", name="Envoyer la demande").click()
    expect(page.locator("h1")).to_have_text(re.compile(r"^Demande TE-"))
    phone.fits_width()


def test_the_sub_specialties_follow_the_specialty(visit, server) -> None:
    browser = visit()
    page = browser.page
    browser.goto("/demandes/nouvelle")
    browser.login(REQUESTER.email)
    subspecialty = page.get_by_label("Sur-spécialité")
    # Before a choice (and without JavaScript), every specialty's, grouped by specialty.
    expect(subspecialty.locator("optgroup")).to_have_count(2)
    page.get_by_label(re.compile("^Spécialité")).select_option(label="Dermatologie")
    expect(subspecialty.locator("option")).to_have_text(["Indifférent", "Psoriasis"])
    page.get_by_label(re.compile("^Spécialité")).select_option(label="Cardiologie")
    expect(subspecialty.locator("option")).to_have_text(
        ["Indifférent", "Hypertension artérielle", "Rythmologie"]
    )
    browser.check_accessibility()
