"""The coordinator keeps the specialties on the team page, in a real browser; the requester's
form follows."""

import pytest
from playwright.sync_api import expect

from tests.web.conftest import PHONE
from tests.web.seed import COORDINATOR, REQUESTER

pytestmark = pytest.mark.browser


def options(page, select: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [text.strip() for text in page.locator(f"{select} option").all_inner_texts()]


def test_a_specialty_created_renamed_and_retired_leaves_the_request_form(visit, server) -> None:
    coordinator = visit()
    coordinator.goto("/coordination/equipe")
    coordinator.login(COORDINATOR.email)
    page = coordinator.page
    expect(page.locator("h1")).to_have_text("L'équipe")
    section = page.locator("#specialites")
    expect(section.locator("tr", has_text="Cardiologie").first).to_contain_text("En service")

    # A code that is not one is refused beside its field, with what was typed kept.
    adding = section.locator("form", has=page.locator("#ajout-specialite"))
    adding.get_by_label("Nom").fill("Neurologie")
    adding.get_by_label("Code").fill("Neuro Logie")
    adding.get_by_role("button", name="Ajouter la spécialité").click()
    code = page.locator("#f-new-specialty-code")
    expect(code).to_have_attribute("aria-invalid", "true")
    expect(code).to_have_value("Neuro Logie")
    expect(page.locator("#f-new-specialty-name")).to_have_value("Neurologie")
    expect(page.locator("#f-new-specialty-code-error")).to_be_visible()
    expect(page.locator(".error-summary")).to_contain_text("Code de la spécialité")
    coordinator.check_accessibility()

    # A code already used: said beside the code.
    code.fill("cardiologie")
    page.get_by_role("button", name="Ajouter la spécialité").click()
    expect(page.locator("#f-new-specialty-code-error")).to_have_text(
        "La spécialité « cardiologie » existe déjà."
    )
    code.fill("neurologie")
    page.get_by_role("button", name="Ajouter la spécialité").click()
    expect(page.locator(".flash")).to_have_text("La spécialité est ajoutée.")

    adding_sub = page.locator("form", has=page.locator("#ajout-sous-specialite"))
    adding_sub.get_by_label("Spécialité").select_option(label="Neurologie")
    adding_sub.get_by_label("Nom").fill("Épilepsie")
    adding_sub.get_by_label("Code").fill("epilepsie")
    adding_sub.get_by_role("button", name="Ajouter la sur-spécialité").click()
    expect(page.locator(".flash")).to_have_text("La sur-spécialité est ajoutée.")
    expect(page.locator("#specialites")).to_contain_text("Épilepsie")

    page.get_by_label("Nouveau nom de la spécialité Neurologie").fill("Neurologie adulte")
    page.get_by_role("button", name="Renommer Neurologie").click()
    expect(page.locator(".flash")).to_have_text("La spécialité est renommée.")
    row = page.locator("#specialites tr", has=page.locator("code", has_text="neurologie"))
    expect(row.locator("th")).to_have_text("Neurologie adulte")
    coordinator.check_accessibility()
    # Two specialties may not share a name: said beside that row's field, what was typed kept.
    page.get_by_label("Nouveau nom de la spécialité Dermatologie").fill("cardiologie")
    page.get_by_role("button", name="Renommer Dermatologie").click()
    renamed = page.locator("#f-specialty-name-dermatologie")
    expect(renamed).to_have_attribute("aria-invalid", "true")
    expect(renamed).to_have_value("cardiologie")
    expect(page.locator("#f-specialty-name-dermatologie-error")).to_have_text(
        "Une spécialité s'appelle déjà « cardiologie »."
    )
    # A sub-specialty too, beside its own row.
    page.get_by_label("Nouveau nom de la sur-spécialité Épilepsie (Neurologie adulte)").fill(
        "Épileptologie"
    )
    page.get_by_role("button", name="Renommer Épilepsie (Neurologie adulte)").click()
    expect(page.locator(".flash")).to_have_text("La sur-spécialité est renommée.")
    expect(page.locator("#specialites")).to_contain_text("Épileptologie")
    page.get_by_label("Nouveau nom de la sur-spécialité Épileptologie (Neurologie adulte)").fill(
        "Épilepsie"
    )
    page.get_by_role("button", name="Renommer Épileptologie (Neurologie adulte)").click()
    expect(page.locator(".flash")).to_have_text("La sur-spécialité est renommée.")
    coordinator.goto("/coordination/equipe")
    expect(page.get_by_label("Nouveau nom de la spécialité Dermatologie")).to_have_value(
        "Dermatologie"
    )

    # The requester is offered the new specialty and its sub-specialty.
    requester = visit()
    requester.goto("/demandes/nouvelle")
    requester.login(REQUESTER.email)
    form = requester.page
    expect(form.locator("h1")).to_have_text("Nouvelle demande d'avis")
    assert "Neurologie adulte" in options(form, "#f-specialty")
    form.locator("#f-specialty").select_option(label="Neurologie adulte")
    expect(form.locator("#f-subspecialty")).to_contain_text("Épilepsie")

    # Retired, it is no longer offered; the page says so and offers to put it back.
    page.get_by_role("button", name="Retirer Neurologie adulte").click()
    # A whole specialty: first what it changes, then the choice.
    expect(page.locator("h1")).to_have_text("Retirer la spécialité Neurologie adulte ?")
    expect(page.locator("main")).to_contain_text("Aucune demande n'est en cours")
    coordinator.check_accessibility()
    page.get_by_role("button", name="Retirer Neurologie adulte").click()
    expect(page.locator(".flash")).to_contain_text("La spécialité est retirée")
    expect(row).to_contain_text("Retirée")
    expect(page.get_by_role("button", name="Remettre en service Neurologie adulte")).to_be_visible()
    assert "Neurologie adulte" not in options(page, "#f-specialty")  # nor to invitations
    coordinator.check_accessibility()
    # A sub-specialty alone, too.
    page.get_by_role("button", name="Retirer Psoriasis (Dermatologie)").click()
    expect(page.locator(".flash")).to_contain_text("La sur-spécialité est retirée")

    form.reload()
    assert "Neurologie adulte" not in options(form, "#f-specialty")
    assert "Cardiologie" in options(form, "#f-specialty")
    form.locator("#f-specialty").select_option(label="Dermatologie")
    expect(form.locator("#f-subspecialty")).not_to_contain_text("Psoriasis")
    assert "Psoriasis" not in options(form, "#f-subspecialty")
    requester.check_accessibility()

    page.get_by_role("button", name="Remettre en service Psoriasis (Dermatologie)").click()
    expect(page.locator(".flash")).to_have_text("La sur-spécialité est remise en service.")

    # On a phone the section still reads: nothing wider than the screen.
    phone = visit(viewport=PHONE)
    phone.goto("/coordination/equipe")
    phone.login(COORDINATOR.email)
    expect(phone.page.locator("#specialites")).to_contain_text("Neurologie adulte")
    phone.fits_width()
    phone.check_accessibility()
