"""Browser tests: Debian's Chromium driven by Playwright against a real ``ess-router serve``.

Playwright downloads no browser here: it launches ``/usr/bin/chromium``. Without it
the browser tests skip with the reason, except where ``ESS_REQUIRE_BROWSER=1`` (CI)
makes them fail. One browser and one server (seeded database) serve each test module:
Playwright's synchronous API keeps an event loop running in the thread while it is
open, which the asyncio tests of the next modules could not start under.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.notifications.smtp import SmtpServer
from tests.servers import ServerProcess
from tests.web.seed import COORDINATOR, PASSWORD, seed_database

CHROMIUM = Path(os.environ.get("ESS_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("ESS_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The browser's own words (a date field's jj/mm/aaaa, the file button) in French, as the
# ESS's users see them: Chromium on Linux takes them from LANGUAGE (with chromium-l10n).
CHROMIUM_ENV = {**os.environ, "LANGUAGE": "fr"}
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
AXE_SOURCE = "(() => {" + AXE.read_text() + "\n})()"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = browser_missing()
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(reason + " (ESS_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env=CHROMIUM_ENV
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server the service sends its e-mails to (invitations, notifications)."""
    sink = SmtpServer().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[ServerProcess]:
    """A real server on a seeded database, sending its e-mails to ``smtp``."""
    directory = tmp_path_factory.mktemp("web")
    env = seed_database(directory)
    env.update({"ESS_SMTP__HOST": "127.0.0.1", "ESS_SMTP__PORT": str(smtp.port)})
    env["ESS_SMTP__POLL_SECONDS"] = "0.2"
    process = ServerProcess(env, directory / "server.log")
    process.env["ESS_BASE_URL"] = process.url
    with process:
        yield process


class Visit:
    """A browser context on the server: records every request, checks pages with axe."""

    def __init__(self, browser: Any, server: ServerProcess, **options: Any) -> None:
        self.server = server
        self.context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris", **options)
        self.page = self.context.new_page()
        self.requested: list[str] = []
        self.page.on("request", lambda request: self.requested.append(request.url))
        # What the browser refused under the page's CSP (a blocked icon, script or style).
        self.refused: list[str] = []
        self.page.on(
            "console",
            lambda message: (
                self.refused.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )

    def goto(self, path: str) -> Any:
        return self.page.goto(self.server.url + path)

    def login(self, email: str, password: str = PASSWORD) -> None:
        self.page.get_by_label("Adresse e-mail").fill(email)
        self.page.get_by_label("Mot de passe").fill(password)
        self.page.get_by_role("button", name="Se connecter").click()

    def check_accessibility(self) -> None:
        """axe-core finds no serious or critical violation on the page shown."""
        # Evaluated by the browser's debugging protocol: the page's CSP forbids any
        # script it does not serve itself, injected ones included (as it should).
        if not self.page.evaluate("() => typeof axe !== 'undefined'"):
            self.page.evaluate(AXE_SOURCE)
        result = self.page.evaluate("async () => await axe.run(document)")
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(n["target"][0] for n in v["nodes"][:3])
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not bad, f"{self.page.url}: " + "\n".join(bad)

    def fits_width(self) -> None:
        """Nothing wider than the viewport: no sideways scrolling on a phone."""
        overflow = self.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{self.page.url} overflows by {overflow}px"

    def foreign_requests(self) -> list[str]:
        origin = self.server.url
        return [u for u in self.requested if not (u.startswith(origin + "/") or u == origin)]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Any, server: ServerProcess) -> Iterator[Any]:
    """Open a browser context (desktop, JavaScript on) for one test; several if asked."""
    opened: list[Visit] = []

    def open_visit(**options: Any) -> Visit:
        options.setdefault("viewport", DESKTOP)
        visit = Visit(browser, server, **options)
        opened.append(visit)
        return visit

    yield open_visit
    for visit in opened:
        foreign, refused = visit.foreign_requests(), visit.refused
        visit.close()
        assert not foreign, f"requests to another origin: {foreign}"
        assert not refused, f"refused by the page's CSP: {refused}"


def api(server: ServerProcess, email: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A call to the server's API as ``email``; it must succeed."""
    response = httpx.request(
        method, f"{server.url}/api/v1{path}", headers=api_token(server, email), **kwargs
    )
    assert response.status_code < 400, response.text
    return response


def log_in_to_team(visit: Any, **options: Any) -> Any:
    """A browser logged in as the coordinator, on the team page."""
    from playwright.sync_api import expect  # imported where a browser runs

    browser = visit(**options)
    browser.goto("/coordination/equipe")
    browser.login(COORDINATOR.email)
    expect(browser.page.locator("h1")).to_have_text("L'équipe")
    return browser


def api_token(server: ServerProcess, email: str) -> dict[str, str]:
    response = httpx.post(
        f"{server.url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def request_id_of(url: str) -> str:
    found = re.search(r"/demandes/([0-9a-f-]{36})", url)
    assert found, url
    return found.group(1)
