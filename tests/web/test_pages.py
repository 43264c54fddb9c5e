"""The pages without a browser: sessions, redirects, CSRF, headers, forms, who sees what."""

import re
import uuid
from datetime import timedelta

import httpx
import pytest

from app.auth import SESSION_COOKIE
from app.web.assets import manifest
from app.web.session import safe_next
from tests.conftest import Ess, request_payload

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
SITE = "http://ess.test.local"
PASSWORD = "Vx7-ortie-falaise-92"


async def log_in(client: httpx.AsyncClient, email: str, next_path: str = "/") -> httpx.Response:
    await client.get("/connexion")  # the CSRF cookie, as a browser gets it
    return await client.post(
        "/connexion",
        data={"email": email, "password": PASSWORD, "next": next_path},
        headers={"Origin": SITE},
    )


async def with_password(ess: Ess, user) -> None:  # type: ignore[no-untyped-def]
    from security.passwords import hash_password

    async with ess.context.db.transaction() as session:
        stored = await session.merge(user)
        stored.password_hash = await hash_password(PASSWORD)


def csrf(client: httpx.AsyncClient) -> str:
    return client.cookies["ess_csrf"]


async def submit(client: httpx.AsyncClient, ess: Ess, user) -> str:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/requests", json=request_payload(), headers=ess.auth(user))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_a_page_asked_for_without_a_session_goes_to_the_login(client, ess: Ess) -> None:
    for path, target in [("/", "/"), ("/demandes?status=closed", "/demandes?status=closed")]:
        response = await client.get(path)
        assert response.status_code == 303
        location = response.headers["location"]
        assert location.startswith("/connexion?next=")
        assert httpx.URL(location).params["next"] == target
    login = await client.get("/connexion?next=/demandes")
    assert login.status_code == 200
    assert 'name="next" value="/demandes"' in login.text
    assert '<html lang="fr">' in login.text


async def test_login_goes_back_to_the_page_asked_for_never_elsewhere(client, ess: Ess) -> None:
    requester = ess.requesters[0]
    await with_password(ess, requester)
    response = await log_in(client, requester.email, "/demandes?status=answered")
    assert response.status_code == 303
    assert response.headers["location"] == "/demandes?status=answered"
    for elsewhere in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "demandes"):
        assert safe_next(elsewhere) == "/"
        response = await log_in(client, requester.email, elsewhere)
        assert response.headers["location"] == "/"


async def test_the_session_cookie_is_httponly_samesite_and_idles_out(client, ess: Ess) -> None:
    requester = ess.requesters[0]
    await with_password(ess, requester)
    response = await log_in(client, requester.email)
    cookie = next(
        v for v in response.headers.get_list("set-cookie") if v.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Max-Age=1800" in cookie  # ESS_SESSION_IDLE, 30 minutes by default
    home = await client.get("/")
    assert home.status_code == 200
    assert "Se déconnecter" in home.text
    out = await client.post("/deconnexion", data={"_csrf_token": csrf(client)})
    assert out.status_code == 303
    assert (await client.get("/")).status_code == 303


async def test_logging_out_ends_every_copy_of_that_session_and_only_it(client, ess: Ess) -> None:
    """A copied session cookie (a shared computer, a stolen cookie) dies at logout; the
    same person's session on another device goes on."""
    requester = ess.requesters[0]
    await with_password(ess, requester)

    async def with_cookie(token: str) -> httpx.Response:
        client.cookies.delete(SESSION_COOKIE)
        return await client.get("/", headers={"Cookie": f"{SESSION_COOKIE}={token}"})

    await log_in(client, requester.email)
    other_device = client.cookies[SESSION_COOKIE]
    client.cookies.clear()
    await log_in(client, requester.email)
    copied = client.cookies[SESSION_COOKIE]
    out = await client.post("/deconnexion", data={"_csrf_token": csrf(client)})
    assert out.status_code == 303
    refused = await with_cookie(copied)
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/connexion")
    api = await client.get(
        "/api/v1/me", headers={"Cookie": f"{SESSION_COOKIE}={copied}", "Accept": "*/*"}
    )
    assert api.status_code == 401
    assert "vous vous êtes déconnecté" in api.json()["detail"]
    assert (await with_cookie(other_device)).status_code == 200


async def test_a_wrong_password_keeps_the_address_and_says_so(client, ess: Ess) -> None:
    requester = ess.requesters[0]
    await with_password(ess, requester)
    await client.get("/connexion")
    response = await client.post(
        "/connexion",
        data={"email": requester.email, "password": "pas-le-bon", "next": "/"},
        headers={"Origin": SITE},
    )
    assert response.status_code == 401
    assert "Adresse e-mail ou mot de passe incorrect." in response.text
    assert f'value="{requester.email}"' in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def test_assets_are_served_here_cached_for_a_year(client, ess: Ess) -> None:
    page = await client.get("/connexion")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert len(urls) == 4  # Pico, app.css, htmx, app.js
    for url in urls:
        response = await client.get(url)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["content-type"].startswith(("text/css", "text/javascript"))
    assert "vendor/htmx-2.0.11.min.js" in manifest()
    assert (await client.get("/static/app.css")).status_code == 404  # unversioned name


async def test_no_inline_script_nor_style_in_the_pages(client, ess: Ess) -> None:
    requester = ess.requesters[0]
    await with_password(ess, requester)
    request_id = await submit(client, ess, requester)
    await log_in(client, requester.email)
    for path in ("/", "/demandes", "/demandes/nouvelle", f"/demandes/{request_id}"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-store"
        assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), path
        assert " style=" not in response.text, path
        assert not re.search(r" on[a-z]+=", response.text), path


async def test_a_refused_form_keeps_every_value(client, ess: Ess) -> None:
    requester = ess.requesters[0]
    await with_password(ess, requester)
    await log_in(client, requester.email)
    question = "Douleur thoracique atypique. " * 70  # about 2 000 characters
    response = await client.post(
        "/demandes/nouvelle",
        data={
            "_csrf_token": csrf(client),
            "specialty": "cardiologie",
            "priority": "standard",
            "question": question,
            "patient.first_name": "Jeanne",
            "patient.last_name": "Durand",
            "patient.birth_date": "1956-04-12",
            "patient.sex": "F",
            "patient.ins": "123456789012345",
        },
        headers={"Origin": SITE},
    )
    assert response.status_code == 422
    assert question.rstrip() in response.text
    assert 'value="Durand"' in response.text
    assert re.search(r'aria-describedby="[^"]*f-patient-ins-error"', response.text)
    assert "Cochez la case" in response.text  # the consent, beside its box
    listing = await client.get("/api/v1/requests", headers=ess.auth(requester))
    assert listing.json()["total"] == 0


async def test_a_form_without_the_csrf_token_changes_nothing(client, ess: Ess) -> None:
    requester = ess.requesters[0]
    await with_password(ess, requester)
    request_id = await submit(client, ess, requester)
    await log_in(client, requester.email)
    response = await client.post(
        f"/demandes/{request_id}/annulation", data={}, headers={"Origin": SITE}
    )
    assert response.status_code == 403
    assert "CSRF" in response.text
    assert "<html" in response.text
    status = await client.get(f"/api/v1/requests/{request_id}", headers=ess.auth(requester))
    assert status.json()["status"] != "cancelled"


async def test_cancel_asks_first_then_cancels(client, ess: Ess) -> None:
    requester = ess.requesters[0]
    await with_password(ess, requester)
    request_id = await submit(client, ess, requester)
    await log_in(client, requester.email)
    confirm = await client.get(f"/demandes/{request_id}/annulation")
    assert "Annuler la demande" in confirm.text
    done = await client.post(
        f"/demandes/{request_id}/annulation",
        data={"_csrf_token": csrf(client)},
        headers={"Origin": SITE},
    )
    assert done.status_code == 303
    page = await client.get(done.headers["location"])
    assert "La demande est annulée." in page.text
    assert "Annulée" in page.text


async def test_the_coordinator_sees_the_flow_not_the_clinical_content(client, ess: Ess) -> None:
    requester = ess.requesters[0]
    request_id = await submit(client, ess, requester)
    await with_password(ess, ess.coordinator)
    await log_in(client, ess.coordinator.email)
    page = await client.get(f"/demandes/{request_id}")
    assert page.status_code == 200
    payload = request_payload()
    assert payload["question"] not in page.text  # type: ignore[operator]
    assert "Durand" not in page.text and "Jeanne" not in page.text
    assert "Envoyer le message" not in page.text
    assert "réservé au demandeur et au spécialiste" in page.text


async def test_another_requesters_request_is_not_found(client, ess: Ess) -> None:
    request_id = await submit(client, ess, ess.requesters[0])
    other = ess.requesters[1]
    await with_password(ess, other)
    await log_in(client, other.email)
    for path in (f"/demandes/{request_id}", f"/demandes/{uuid.uuid4()}"):
        response = await client.get(path)
        assert response.status_code == 404
        assert "Demande introuvable." in response.text


async def test_an_account_with_a_second_factor_logs_in_in_two_steps(
    client, ess: Ess, clock
) -> None:
    import pyotp

    requester = ess.requesters[0]
    await with_password(ess, requester)
    headers = ess.auth(requester)
    started = await client.post("/api/v1/me/totp/start", headers=headers)
    totp = pyotp.TOTP(started.json()["secret"])
    confirmed = await client.post(
        "/api/v1/me/totp/confirm", headers=headers, json={"code": totp.at(clock.now())}
    )
    assert confirmed.status_code == 200, confirmed.text
    client.cookies.clear()

    first = await log_in(client, requester.email, "/demandes")
    assert first.status_code == 200  # the password was right: now the code
    assert SESSION_COOKIE not in first.headers.get("set-cookie", "")
    assert "Code de vérification" in first.text
    assert PASSWORD not in first.text  # the page holds a signed note, never the password
    pending = re.search(r'name="pending" value="([^"]+)"', first.text).group(1)  # type: ignore[union-attr]
    # The note is no session: the pages refuse it as a cookie.
    client.cookies.set(SESSION_COOKIE, pending, domain="ess.test.local")
    assert (await client.get("/demandes")).status_code == 303
    client.cookies.delete(SESSION_COOKIE)

    step = {"pending": pending, "email": requester.email, "next": "/demandes"}
    wrong = await client.post(
        "/connexion", data={**step, "otp": "000000"}, headers={"Origin": SITE}
    )
    assert wrong.status_code == 401
    assert "Code de vérification incorrect" in wrong.text
    clock.advance(timedelta(seconds=60))
    right = await client.post(
        "/connexion", data={**step, "otp": totp.at(clock.now())}, headers={"Origin": SITE}
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/demandes"
    assert (await client.get("/demandes")).status_code == 200


async def test_opening_a_forms_address_leads_to_its_page_not_to_an_error(client, ess: Ess) -> None:
    """After a refused form the address bar holds the form's address; opening it again (a
    reload, a pasted link) shows the page the form belongs to."""
    html = {"Accept": "text/html,*/*;q=0.8"}
    cases = {
        "/coordination/equipe/invitation": "/coordination/equipe",
        f"/coordination/equipe/comptes/{ess.specialists[0].id}/activation": (
            f"/coordination/equipe/comptes/{ess.specialists[0].id}"
        ),
        "/coordination/equipe/tableau/confirmation": "/coordination/equipe",
        "/deconnexion": "/",
    }
    for address, page in cases.items():
        response = await client.get(address, headers=html)
        assert response.status_code == 303, address
        assert response.headers["location"] == page
    # An API client keeps the problem details of a wrong method.
    api = await client.get("/api/v1/auth/login", headers=html)
    assert api.status_code == 405
    assert api.headers["content-type"].startswith("application/problem+json")
    script = await client.get("/coordination/equipe/invitation")
    assert script.status_code == 405


async def test_an_unknown_address_is_a_french_page_for_a_browser_and_a_problem_for_the_api(
    client, ess: Ess
) -> None:
    browser = await client.get("/demandes-perdues", headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.status_code == 404
    assert browser.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in browser.text
    assert "existe pas, ou elle ne vous est pas accessible" in browser.text
    api = await client.get("/api/v1/inconnu", headers={"Accept": "text/html"})
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["detail"] == "Ressource introuvable."
    script = await client.get("/nulle-part")  # a client that does not ask for HTML
    assert script.headers["content-type"].startswith("application/problem+json")


async def test_the_dashboard_shows_the_most_overdue_alerts_and_all_on_request(
    client, ess: Ess, clock, monkeypatch
) -> None:
    """An ESS hundreds of requests behind gets a readable page, and every alert one click away."""
    from app.web import coordination
    from sla.engine import fire_due

    monkeypatch.setattr(coordination, "ALERTS_SHOWN", 2)
    for _ in range(3):
        await client.post(
            "/api/v1/requests", json=request_payload(), headers=ess.auth(ess.requesters[0])
        )
    clock.advance(timedelta(days=7))
    await fire_due(ess.context.db, now=clock.now(), policy=ess.context.policy)
    await with_password(ess, ess.coordinator)
    await log_in(client, ess.coordinator.email)

    def alert_rows(html: str) -> int:
        section = html.split('id="alertes"')[1].split("</section>")[0]
        return section.count("<tr>") - 1  # the header's row

    page = await client.get("/coordination")
    assert "Alertes de délai (3)" in page.text
    assert alert_rows(page.text) == 2
    assert "Les 2 demandes les plus en retard sont affichées, sur 3." in page.text
    every = await client.get("/coordination?toutes-alertes=true")
    assert alert_rows(every.text) == 3
    assert "plus en retard sont affichées" not in every.text
