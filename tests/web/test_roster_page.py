"""The roster import on the coordinator's team page, in a real browser: a file the service
cannot read brings the team page back with the message beside the file field; Excel's
Windows-1252 files are read; the guide and the template are served; each line says every
error, and what it creates or changes, in French."""

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.servers import ServerProcess
from tests.web.conftest import PHONE, api_token, log_in_to_team
from tests.web.seed import COORDINATOR, SPECIALIST, seed_database

pytestmark = pytest.mark.browser

HEADER = (
    "email;name;rpps;specialty;subspecialties;capacity;membership_start;membership_end;"
    "advanced_consultations\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("roster-page")
    process = ServerProcess(seed_database(directory), directory / "server.log")
    process.env["ESS_BASE_URL"] = process.url
    with process:
        yield process


def emails(server: ServerProcess) -> set[str]:
    response = httpx.get(f"{server.url}/api/v1/users", headers=api_token(server, COORDINATOR.email))
    assert response.status_code == 200, response.text
    return {user["email"] for user in response.json()}


def check(browser, content: bytes | None) -> None:  # type: ignore[no-untyped-def]
    """Send ``content`` (None: no file chosen) with « Vérifier le fichier »."""
    page = browser.page
    if content is not None:
        page.get_by_label("Fichier CSV", exact=True).set_input_files(
            [{"name": "tableau.csv", "mimeType": "text/csv", "buffer": content}]
        )
    page.get_by_role("button", name="Vérifier le fichier").click()


def test_an_unreadable_file_brings_the_team_page_back_with_the_message_at_the_field(
    visit, server
) -> None:
    browser = log_in_to_team(visit)
    page = browser.page
    before = emails(server)
    field = page.get_by_label("Fichier CSV", exact=True)

    cases = [
        (None, "Choisissez le fichier CSV du tableau des spécialistes."),
        (b"nom;prenom\nMartin;Anne\n", "Colonnes obligatoires absentes de la première ligne"),
        # 0x81 is neither UTF-8 here nor assigned in Windows-1252.
        (b"email;name;specialty\n\x81\x8d;x;y\n", "UTF-8 ou en Windows-1252"),
    ]
    for content, message in cases:
        with page.expect_response("**/coordination/equipe/tableau") as answer:
            check(browser, content)
        assert answer.value.status == 422
        expect(page.locator("h1")).to_have_text("L'équipe")
        error = page.locator("#f-roster-file-error")
        expect(error).to_contain_text(message)
        described = field.get_attribute("aria-describedby") or ""
        assert "f-roster-file-error" in described.split()
        expect(field).to_have_attribute("aria-invalid", "true")
        summary = page.locator(".error-summary")
        expect(summary).to_contain_text("Fichier CSV du tableau")
        expect(summary.get_by_role("link")).to_have_attribute("href", "#f-roster-file")
        assert page.get_by_role("link", name="Revenir à l'accueil").count() == 0
    expect(page.locator("#f-roster-file-error")).to_contain_text("« CSV UTF-8 »")
    browser.check_accessibility()

    # Another file can be chosen at once: Excel's « CSV point-virgule » (Windows-1252).
    excel = HEADER + "helene.lefevre@ess-test.fr;Dr Hélène Lefèvre;;cardiologie;hta;;;;oui\n"
    check(browser, excel.encode("cp1252"))
    expect(page.locator("h1")).to_have_text("Import du tableau des spécialistes")
    row = page.locator("tbody tr", has_text="helene.lefevre@ess-test.fr")
    expect(row).to_contain_text("Création")
    expect(row).to_contain_text(
        "Spécialiste « Dr Hélène Lefèvre », Cardiologie ; sur-spécialités : "
        "Hypertension artérielle ; capacité par défaut (5) ; consultations avancées"
    )
    assert emails(server) == before  # the preview writes nothing
    page.get_by_role("button", name="Confirmer l'import").click()
    expect(page.locator(".flash")).to_have_text("Le tableau des spécialistes est importé.")
    expect(page.locator("#comptes")).to_contain_text("Dr Hélène Lefèvre")


def test_the_guide_and_the_template_lead_to_a_file_that_imports(visit, server) -> None:
    browser = log_in_to_team(visit)
    page = browser.page
    page.get_by_role("link", name="le guide des colonnes").click()
    guide = page.locator("#tableau-guide")
    guide.locator("summary").click()
    expect(guide.get_by_role("table")).to_contain_text("Début d'adhésion")
    expect(guide).to_contain_text("cardiologie pour Cardiologie")
    browser.check_accessibility()

    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger le modèle de fichier (CSV)").click()
    assert download.value.suggested_filename == "tableau-specialistes.csv"
    template = open(download.value.path(), "rb").read()
    lines = template.decode("utf-8-sig").splitlines()
    assert lines[0] == HEADER.strip()
    assert len(lines) == 2 and ";cardiologie;hta|rythmologie;" in lines[1]
    answer = httpx.get(
        f"{server.url}/coordination/equipe/tableau/modele.csv",
        cookies={c["name"]: c["value"] for c in browser.context.cookies()},
    )
    assert answer.headers["content-disposition"].startswith("attachment")

    # The template as it comes checks without error: its example line would be created.
    check(browser, template)
    expect(page.locator(".error-summary")).to_have_count(0)
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text(
        "Spécialiste « Dr Anne Martin », Cardiologie ; sur-spécialités : "
        "Hypertension artérielle, Rythmologie ; capacité : 4 ; RPPS 10000000017"
    )
    browser.check_accessibility()
    assert "anne.martin@example.org" not in emails(server)


def test_each_line_says_every_error_and_each_change_in_french(visit, server) -> None:
    browser = log_in_to_team(visit)
    page = browser.page
    before = emails(server)
    roster = HEADER + (
        f"{SPECIALIST.email};{SPECIALIST.name};;cardiologie;rythmologie;12;2026-01-01;;oui\n"
        "pas-une-adresse;Dr Six;12345678901;pneumologie;;beaucoup;2026-13-01;hier;peut-être\n"
    )
    with page.expect_response("**/coordination/equipe/tableau") as answer:
        check(browser, roster.encode())
    assert answer.value.status == 422
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("1 ligne invalide : rien ne sera importé")
    reasons = summary.locator(".line-errors li")
    expect(reasons).to_have_count(7)
    expect(summary).to_contain_text("Ligne 3 (7 erreurs)")
    for text in (
        "Colonne email (adresse e-mail) : adresse e-mail invalide",
        "Colonne rpps (RPPS)",
        "Colonne specialty (spécialité) : spécialité inconnue « pneumologie »",
        "Colonne capacity (capacité) : nombre entier attendu",
        "Colonne membership_start (début d'adhésion) : date attendue au format AAAA-MM-JJ",
        "Colonne membership_end (fin d'adhésion)",
        "Colonne advanced_consultations (consultations avancées) : oui ou non attendu",
    ):
        expect(summary).to_contain_text(text)
    assert page.get_by_role("button", name="Confirmer l'import").count() == 0
    # The good line says what it would change, in French.
    row = page.locator("tbody tr", has_text=SPECIALIST.email)
    expect(row).to_contain_text("Modification")
    expect(row).to_contain_text(
        "sur-spécialités, capacité, début d'adhésion, consultations avancées"
    )
    browser.check_accessibility()
    assert emails(server) == before

    # At 375 px the page still reads: nothing wider than the screen.
    phone = log_in_to_team(visit, viewport=PHONE, is_mobile=True)
    phone.fits_width()
    check(phone, roster.encode())
    expect(phone.page.locator(".error-summary")).to_contain_text("Ligne 3 (7 erreurs)")
    phone.fits_width()
    phone.check_accessibility()
    phone.goto("/coordination/equipe")
    check(phone, None)
    expect(phone.page.locator("#f-roster-file-error")).to_be_visible()
    phone.fits_width()
    phone.check_accessibility()
