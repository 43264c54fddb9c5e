"""The activity report's page in a real browser: on a phone, on paper, its usual periods
and its numbers as French prints them."""

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from app.web.display import french_date
from tests.servers import ServerProcess
from tests.web.conftest import PHONE, api_token
from tests.web.seed import COORDINATOR, REQUESTER, seed_database

pytestmark = pytest.mark.browser

PARIS = ZoneInfo("Europe/Paris")
A4 = {"width": 718, "height": 1000}  # A4's printable width at 96 px an inch, 1 cm margins
TERRITORY = 12345  # specialists of the territory: a figure with a thousands separator


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("report-page")
    env = seed_database(directory)
    env["ESS_REPORT__TERRITORY_SPECIALISTS"] = str(TERRITORY)
    process = ServerProcess(env, directory / "server.log")
    process.env["ESS_BASE_URL"] = process.url
    with process:
        # One request today: the last twelve months hold it, last calendar year does not.
        response = httpx.post(
            f"{process.url}/api/v1/requests",
            headers=api_token(process, REQUESTER.email),
            json={
                "specialty": "cardiologie",
                "subspecialty": "rythmologie",
                "priority": "standard",
                "question": "Souffle systolique isolé : échographie ?",
                "patient": {
                    "first_name": "Jeanne",
                    "last_name": "Essai",
                    "birth_date": "1950-01-02",
                    "sex": "F",
                },
                "consent": True,
            },
        )
        response.raise_for_status()
        yield process


def open_report(visit, path: str = "/coordination/rapport", **options):  # type: ignore[no-untyped-def]
    browser = visit(**options)
    browser.goto("/coordination/rapport")
    browser.login(COORDINATOR.email)
    expect(browser.page.locator("h1")).to_have_text("Rapport d'activité")
    browser.goto(path)
    return browser


def figure(page, label: str):  # type: ignore[no-untyped-def]
    return page.locator(
        "table.report-lines tbody tr", has=page.get_by_role("rowheader", name=label)
    )


def test_the_twelve_last_months_are_one_click_away(visit, server) -> None:
    today = datetime.now(PARIS).date()
    browser = open_report(visit)
    page = browser.page
    # Last calendar year by default, saying plainly what it holds and since when the ESS works.
    expect(page.get_by_label("Du")).to_have_value(f"{today.year - 1}-01-01")
    expect(page.get_by_label("Au (inclus)")).to_have_value(f"{today.year - 1}-12-31")
    summary = page.locator(".report-summary")
    expect(summary).to_contain_text("aucune demande soumise")
    expect(summary).to_contain_text(f"La première demande de l'ESS date du {french_date(today)}")
    periods = page.locator(".report-periods")
    expect(periods.get_by_role("listitem").filter(has_text="12 derniers mois")).to_contain_text(
        "1 demande"
    )
    expect(periods.get_by_role("link", name=f"Année {today.year - 1}")).to_have_attribute(
        "aria-current", "true"
    )

    periods.get_by_role("link", name="12 derniers mois").click()
    first = today.replace(year=today.year - 1) + timedelta(days=1)
    expect(page.get_by_label("Du")).to_have_value(first.isoformat())
    expect(page.get_by_label("Au (inclus)")).to_have_value(today.isoformat())
    expect(page.locator("#rapport header")).to_contain_text(
        f"du {first:%d/%m/%Y} au {today:%d/%m/%Y}"
    )
    expect(periods.get_by_role("link", name="12 derniers mois")).to_have_attribute(
        "aria-current", "true"
    )
    expect(summary).to_contain_text("1 demande soumise")
    # The ESS's first request is today's: not a full year yet, nothing better to suggest.
    expect(summary).not_to_contain_text("année entière")
    expect(figure(page, "Nombre de téléexpertises").locator(".report-value")).to_have_text("1")
    browser.check_accessibility()


def test_numbers_are_grouped_on_the_page_not_in_the_csv(visit, server) -> None:
    browser = open_report(visit)
    page = browser.page
    territory = figure(page, "Spécialistes libéraux de la spécialité sur le territoire")
    expect(territory.locator(".report-value")).to_have_text("12\u202f345")
    # Half of a member in 12 345: the members needed for the 10 % threshold, in the note.
    expect(figure(page, "Seuil de 10 % (création de l'ESS)")).to_contain_text(
        "Atteint à partir de 1\u202f235 médecins membres."
    )
    href = page.get_by_role("link", name="CSV (tableur)").get_attribute("href")
    response = page.request.get(server.url + href)
    rows = csv.reader(io.StringIO(response.body().decode("utf-8-sig")), delimiter=";")
    cells = {row[1]: row for row in rows if len(row) == 5}
    assert cells["Spécialistes libéraux de la spécialité sur le territoire"][2] == str(TERRITORY)


def test_the_report_reads_on_a_phone(visit, server) -> None:
    # A refused period first: the error beside its field, no report.
    browser = open_report(
        visit, "/coordination/rapport?from=2026-12-31&to=2026-01-01", viewport=PHONE
    )
    expect(browser.page.locator("#f-to-error")).to_contain_text("inversée")
    browser.fits_width()
    browser.check_accessibility()

    page = browser.page
    page.get_by_role("link", name="12 derniers mois").click()
    expect(page.locator("#rapport")).to_be_visible()
    browser.fits_width()
    browser.check_accessibility()
    # One card per figure: the figure, then how it is counted under it, all on screen.
    median = figure(page, "Délai de réponse à la téléexpertise – médiane")
    label, note = median.get_by_role("rowheader"), median.locator(".report-note")
    expect(note).to_be_visible()
    label_box, note_box = label.bounding_box(), note.bounding_box()
    assert label_box and note_box
    assert note_box["y"] > label_box["y"] and note_box["x"] + note_box["width"] <= PHONE["width"]
    for cell in page.locator(".report-note").all():
        box = cell.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_the_desktop_table_and_the_printed_page(visit, server) -> None:
    browser = open_report(visit)
    page = browser.page
    page.get_by_role("link", name="12 derniers mois").click()
    table = page.locator("table.report-lines").first
    expect(table.get_by_role("columnheader", name="Mode de calcul")).to_be_visible()
    browser.fits_width()
    # On paper (an A4 page's width): the report alone, its tables whole, nothing cut off at
    # the right (the breakdowns' eleven columns included).
    page.set_viewport_size(A4)
    page.emulate_media(media="print")
    for hidden in (".site-header", ".report-periods", ".report-summary", "form.period-form"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(table.get_by_role("columnheader", name="Mode de calcul")).to_be_visible()
    expect(page.locator("#rapport h2")).to_be_visible()
    browser.fits_width()
    cut = page.eval_on_selector_all(
        "#rapport table",
        "tables => tables.filter(t => t.scrollWidth > t.parentElement.clientWidth).length",
    )
    assert cut == 0
