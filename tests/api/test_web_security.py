"""Browser-facing protections: CSRF on cookie sessions, the session cookie, security headers."""

import httpx
import pytest
from litestar import MediaType, get

from app.auth import SESSION_COOKIE, issue_token
from app.context import AppContext
from app.csrf import CSRF_COOKIE, CSRF_HEADER
from app.main import create_app
from models import Role
from models.storage import Database
from tests.conftest import Ess, request_payload

# What a browser is allowed to do does not depend on the database.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
PASSWORD = "mot-de-passe-solide"
SITE = "http://ess.test.local"
EVIL = "http://evil.example"


def signed_in(client: httpx.AsyncClient, ess: Ess) -> None:
    """Give the client a requester's session cookie, as a browser keeps it after login."""
    token = issue_token(ess.context.jwt_auth, ess.requesters[0])
    client.cookies.set(SESSION_COOKIE, token, domain="ess.test.local")


async def request_count(client: httpx.AsyncClient, ess: Ess) -> int:
    headers = ess.auth(ess.coordinator)
    return (await client.get("/api/v1/requests", headers=headers)).json()["total"]


async def test_cookie_session_post_from_another_site_changes_nothing(client, ess: Ess) -> None:
    signed_in(client, ess)
    # The page of the other site gets no token: it sends JSON, text or a form.
    body = httpx.Request("POST", "/", json=request_payload()).content
    attempts = [
        {"json": request_payload()},
        {"content": body, "headers": {"Origin": EVIL, "Content-Type": "text/plain"}},
        {"data": {"question": "x"}},
    ]
    for attempt in attempts:
        attempt.setdefault("headers", {"Origin": EVIL})
        response = await client.post("/api/v1/requests", **attempt)
        assert response.status_code == 403, response.text
        assert response.json()["title"] == "Accès refusé"
        assert "autre site" in response.json()["detail"]
    # Same refusal from a Referer when the browser sends no Origin.
    response = await client.post(
        "/api/v1/requests", json=request_payload(), headers={"Referer": f"{EVIL}/piege.html"}
    )
    assert response.status_code == 403
    assert await request_count(client, ess) == 0


async def test_cookie_session_post_needs_the_csrf_token(client, ess: Ess) -> None:
    signed_in(client, ess)
    response = await client.post(
        "/api/v1/requests", json=request_payload(), headers={"Origin": SITE}
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert await request_count(client, ess) == 0

    # A page of the service gets the token (the cookie, and in templates ``csrf_input``).
    page = await client.get("/api/v1/me")
    assert page.status_code == 200
    token = client.cookies[CSRF_COOKIE]
    response = await client.post(
        "/api/v1/requests", json=request_payload(), headers={"Origin": SITE, CSRF_HEADER: token}
    )
    assert response.status_code == 201, response.text
    # A forged token is refused, a token from another origin too.
    response = await client.post(
        "/api/v1/requests", json=request_payload(), headers={CSRF_HEADER: "0" * 128}
    )
    assert response.status_code == 403
    response = await client.post(
        "/api/v1/requests", json=request_payload(), headers={"Origin": EVIL, CSRF_HEADER: token}
    )
    assert response.status_code == 403
    assert await request_count(client, ess) == 1


async def test_a_form_cancels_only_with_the_token_in_its_fields(client, ess: Ess) -> None:
    gp = ess.requesters[0]
    created = await client.post("/api/v1/requests", json=request_payload(), headers=ess.auth(gp))
    rid = created.json()["id"]
    signed_in(client, ess)
    await client.get("/api/v1/me")
    token = client.cookies[CSRF_COOKIE]

    # What another site's hidden form posts: refused, the request stays open.
    response = await client.post(f"/api/v1/requests/{rid}/cancel", data={"motif": "x"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    status = await client.get(f"/api/v1/requests/{rid}", headers=ess.auth(gp))
    assert status.json()["status"] == "assigned"
    # The service's own form carries the token as ``csrf_input`` writes it.
    response = await client.post(f"/api/v1/requests/{rid}/cancel", data={"_csrf_token": token})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"


async def test_logging_in_again_with_a_session_needs_no_token(client, ess: Ess) -> None:
    await ess.add_user(
        role=Role.REQUESTER, email="gp@cabinet-test.fr", name="Dr Généraliste", password=PASSWORD
    )
    signed_in(client, ess)
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": "gp@cabinet-test.fr", "password": PASSWORD},
        headers={"Origin": SITE},
    )
    assert response.status_code == 200, response.text
    # But not from another site (a visitor logged into someone else's account).
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": "gp@cabinet-test.fr", "password": PASSWORD},
        headers={"Origin": EVIL},
    )
    assert response.status_code == 403


async def test_bearer_clients_need_no_csrf_token(client, ess: Ess) -> None:
    response = await client.post(
        "/api/v1/requests", json=request_payload(), headers=ess.auth(ess.requesters[0])
    )
    assert response.status_code == 201, response.text
    assert CSRF_COOKIE not in response.cookies


@pytest.mark.parametrize(
    ("base_url", "secure"), [("http://ess.test.local", False), ("https://ess.example.fr", True)]
)
async def test_login_sets_a_protected_session_cookie(
    context: AppContext, ess: Ess, base_url: str, secure: bool
) -> None:
    await ess.add_user(
        role=Role.REQUESTER, email="gp@cabinet-test.fr", name="Dr Généraliste", password=PASSWORD
    )
    settings = context.settings.model_copy(update={"base_url": base_url})
    other = AppContext(settings=settings, db=Database(settings.database_url), clock=context.clock)
    try:
        transport = httpx.ASGITransport(app=create_app(other))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            response = await http.post(
                "/api/v1/auth/login", json={"email": "gp@cabinet-test.fr", "password": PASSWORD}
            )
    finally:
        await other.db.dispose()
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith("ess_session=")
    assert "httponly" in attributes
    assert "samesite=lax" in cookie.lower()
    assert ("secure" in attributes) is secure
    assert ("strict-transport-security" in response.headers) is secure


async def test_every_response_forbids_sniffing_framing_and_referrers(client, ess: Ess) -> None:
    signed = ess.auth(ess.requesters[0])
    responses = [
        await client.get("/health"),
        await client.get("/inexistant"),
        await client.get("/api/v1/me"),
        await client.post("/api/v1/requests", json=request_payload(), headers=signed),
    ]
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # plain http here


async def test_answers_to_a_signed_in_user_are_never_stored(client, ess: Ess) -> None:
    signed = ess.auth(ess.requesters[0])
    created = await client.post("/api/v1/requests", json=request_payload(), headers=signed)
    response = await client.get(f"/api/v1/requests/{created.json()['id']}", headers=signed)
    assert response.json()["patient"]["last_name"] == "Durand"
    for answer in (created, response):
        assert answer.headers["cache-control"] == "no-store"


async def test_pages_get_a_strict_content_security_policy(context: AppContext) -> None:
    @get("/page-de-test", media_type=MediaType.HTML, exclude_from_auth=True)
    async def page() -> str:
        return "<!doctype html><title>Test</title>"

    app = create_app(context)
    app.register(page)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SITE) as http:
        response = await http.get("/page-de-test")
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in response.headers["content-security-policy"].split(";")
    }
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
