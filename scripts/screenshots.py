"""``make screenshots``: a PNG of each page, desktop (1280 px) and phone (375 px).

Starts a real server on a freshly seeded database (``tests/web/seed.py``), fills it
with a few requests over the API, and has Debian's Chromium photograph the pages
into ``docs/screenshots/``. Other helpers add their pages to ``PAGES``.
"""

import re
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx

from app.web.report import presets as report_presets
from scripts import specialist_screens
from tests.notifications.smtp import SmtpServer
from tests.servers import ServerProcess
from tests.web.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CHROMIUM_ENV,
    DESKTOP,
    PHONE,
    browser_missing,
)
from tests.web.seed import COORDINATOR, PASSWORD, REQUESTER, SPECIALIST, seed_database

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
QUESTION = (
    "Patiente de 70 ans, palpitations depuis trois semaines, surtout le soir. "
    "ECG de repos normal (joint). Pas de traitement en cours.\n\n"
    "Faut-il un Holter avant de vous l'adresser, ou une consultation d'emblée ?"
)


def token(server: ServerProcess, email: str) -> dict[str, str]:
    response = httpx.post(
        f"{server.url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def fill(server: ServerProcess) -> dict[str, str]:
    """A few requests in various states; the ids of the ones photographed."""
    gp, specialist = token(server, REQUESTER.email), token(server, SPECIALIST.email)
    api = f"{server.url}/api/v1/requests"

    def submit(priority: str, sub: str, first: str, last: str) -> str:
        response = httpx.post(
            api,
            headers=gp,
            json={
                "specialty": "cardiologie",
                "subspecialty": sub,
                "priority": priority,
                "question": QUESTION,
                "patient": {
                    "first_name": first,
                    "last_name": last,
                    "birth_date": "1956-04-12",
                    "sex": "F",
                },
                "consent": True,
            },
        )
        response.raise_for_status()
        return response.json()["id"]

    closed = submit("standard", "hta", "Marie", "Leroy")
    answered = submit("standard", "rythmologie", "Jeanne", "Durand")
    submit("urgent", "rythmologie", "Lucie", "Bernard")
    for request_id in (closed, answered):
        httpx.post(f"{api}/{request_id}/accept", headers=specialist).raise_for_status()
    httpx.post(
        f"{api}/{answered}/messages",
        headers=specialist,
        json={"body": "Merci. A-t-elle des antécédents thyroïdiens ?"},
    ).raise_for_status()
    httpx.post(
        f"{api}/{answered}/messages",
        headers=gp,
        json={"body": "Non, TSH normale en septembre."},
    ).raise_for_status()
    for request_id in (closed, answered):
        httpx.post(
            f"{api}/{request_id}/answer",
            headers=specialist,
            json={
                "answer": "Holter ECG de 24 h d'abord ; si FA confirmée, consultation "
                "rapide en rythmologie. Pas d'anticoagulation avant le résultat.",
                "outcome": "consultation",
            },
        ).raise_for_status()
    httpx.post(
        f"{api}/{closed}/close",
        headers=gp,
        json={"usefulness": 5, "referral_avoided": False},
    ).raise_for_status()
    users = httpx.get(f"{server.url}/api/v1/users", headers=token(server, COORDINATOR.email)).json()
    claire = next(u["id"] for u in users if u["email"] == SPECIALIST.email)
    return {"answered": answered, "specialist": claire}


def invitation(server: ServerProcess, smtp: SmtpServer) -> str:
    """Invite a new GP; return the path of the link the e-mail carries."""
    email = "ines.nouvelle@cabinet-test.fr"
    httpx.post(
        f"{server.url}/api/v1/users",
        headers=token(server, COORDINATOR.email),
        json={"role": "requester", "email": email, "name": "Dr Inès Nouvelle"},
    ).raise_for_status()
    deadline = time.monotonic() + 30
    while not (mails := [m for m in smtp.inbox.messages if email in m["To"]]):
        if time.monotonic() > deadline:
            raise SystemExit("make screenshots : l'invitation n'est pas arrivée")
        time.sleep(0.2)
    found = re.search(r"/invitation/[A-Za-z0-9_-]+", smtp.inbox.text(mails[0]))
    assert found
    return found.group(0)


def pages(ids: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """(file name, path, who is logged in) for each page photographed."""
    # The report of the last twelve months (its link on the page): the seeded requests are in it.
    twelve = report_presets(date.today())[1]
    return [
        *specialist_screens.pages(ids),
        ("connexion", "/connexion", None),
        ("invitation", ids["invitation"], None),
        ("mot-de-passe-oublie", "/mot-de-passe-oublie", None),
        ("compte", "/compte", REQUESTER.email),
        ("demandes", "/demandes", REQUESTER.email),
        ("nouvelle-demande", "/demandes/nouvelle", REQUESTER.email),
        ("demande-repondue", f"/demandes/{ids['answered']}", REQUESTER.email),
        ("demande-vue-coordination", f"/demandes/{ids['answered']}", COORDINATOR.email),
        ("coordination", "/coordination", COORDINATOR.email),
        ("coordination-equipe", "/coordination/equipe", COORDINATOR.email),
        (
            "coordination-compte",
            f"/coordination/equipe/comptes/{ids['specialist']}",
            COORDINATOR.email,
        ),
        (
            "coordination-rapport",
            f"/coordination/rapport?from={twelve.first}&to={twelve.last}",
            COORDINATOR.email,
        ),
        ("coordination-exploitation", "/coordination/exploitation", COORDINATOR.email),
    ]


def main() -> int:
    reason = browser_missing()
    if reason:
        print(f"make screenshots : impossible, {reason}", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        smtp = SmtpServer().start()
        env = seed_database(directory)
        env.update({"ESS_SMTP__HOST": "127.0.0.1", "ESS_SMTP__PORT": str(smtp.port)})
        server = ServerProcess(env, directory / "server.log")
        server.env["ESS_BASE_URL"] = server.url
        with server, sync_playwright() as playwright:
            ids = fill(server)
            ids["invitation"] = invitation(server, smtp)
            ids.update(specialist_screens.fill(server))
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env=CHROMIUM_ENV
            )
            for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
                sessions: dict[str | None, object] = {}
                for name, path, email in pages(ids):
                    if email not in sessions:
                        context = browser.new_context(
                            viewport=viewport, locale="fr-FR", is_mobile=size == "phone"
                        )
                        page = context.new_page()
                        if email:
                            page.goto(f"{server.url}/connexion")
                            page.get_by_label("Adresse e-mail").fill(email)
                            page.get_by_label("Mot de passe").fill(PASSWORD)
                            page.get_by_role("button", name="Se connecter").click()
                            page.wait_for_load_state()
                        sessions[email] = page
                    page = sessions[email]  # type: ignore[assignment]
                    page.goto(f"{server.url}{path}")  # type: ignore[attr-defined]
                    target = OUT / f"{name}-{size}.png"
                    page.screenshot(path=str(target), full_page=True)  # type: ignore[attr-defined]
                    print(target.relative_to(OUT.parent.parent))
                # The form refused: what a GP sees when something is missing.
                page = sessions[REQUESTER.email]  # type: ignore[assignment]
                page.goto(f"{server.url}/demandes/nouvelle")  # type: ignore[attr-defined]
                page.get_by_role("button", name="Envoyer la demande").click()  # type: ignore[attr-defined]
                target = OUT / f"nouvelle-demande-erreurs-{size}.png"
                page.screenshot(path=str(target), full_page=True)  # type: ignore[attr-defined]
                print(target.relative_to(OUT.parent.parent))
            browser.close()
        smtp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
