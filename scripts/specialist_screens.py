"""The specialist's pages for ``make screenshots``: a queue with work in every stage,
a request with a photograph, a draft and templates, a schedule with an on-call slot."""

import struct
import zlib
from datetime import UTC, datetime, timedelta

import httpx

from tests.servers import ServerProcess
from tests.web.seed import PASSWORD, REQUESTER, SPECIALIST

QUESTION = (
    "Homme de 63 ans, hypertendu, lésion cutanée de la jambe apparue après une "
    "chute, photographie jointe. Érysipèle ou simple hématome ?"
)


def png(width: int = 240, height: int = 160) -> bytes:
    """A small PNG (a skin-coloured gradient), made here: no file to ship."""
    raw = b"".join(
        b"\x00" + b"".join(bytes((210 - y // 4, 150 + x // 6, 130)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _token(server: ServerProcess, email: str) -> dict[str, str]:
    response = httpx.post(
        f"{server.url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _web(server: ServerProcess, email: str) -> httpx.Client:
    """A browser-like session on the pages (cookie, CSRF token, same origin)."""
    client = httpx.Client(base_url=server.url, headers={"Origin": server.url})
    client.get("/connexion")
    client.post("/connexion", data={"email": email, "password": PASSWORD, "next": "/"})
    return client


def fill(server: ServerProcess) -> dict[str, str]:
    gp, specialist = _token(server, REQUESTER.email), _token(server, SPECIALIST.email)
    api = f"{server.url}/api/v1/requests"

    def submit(priority: str, sub: str, first: str, last: str, question: str) -> str:
        response = httpx.post(
            api,
            headers=gp,
            json={
                "specialty": "cardiologie",
                "subspecialty": sub,
                "priority": priority,
                "question": question,
                "patient": {
                    "first_name": first,
                    "last_name": last,
                    "birth_date": "1963-02-08",
                    "sex": "M",
                    "ins": "163027512345636",
                },
                "consent": True,
            },
        )
        response.raise_for_status()
        return response.json()["id"]

    working = submit("standard", "hta", "Louis", "Garnier", QUESTION)
    httpx.post(
        f"{api}/{working}/attachments",
        headers=gp,
        files={"file": ("jambe.png", png(), "image/png")},
    ).raise_for_status()
    httpx.post(f"{api}/{working}/accept", headers=specialist).raise_for_status()
    waiting = submit(
        "standard", "rythmologie", "Paul", "Roux", "Bradycardie à 45/min sous bêtabloquant."
    )
    httpx.post(
        f"{api}/{waiting}/messages",
        headers=specialist,
        json={"body": "Quelle dose de bisoprolol ? Un ECG récent ?", "request_info": True},
    ).raise_for_status()
    submit("urgent", "hta", "Anne", "Petit", "PA à 210/120 ce matin, céphalées.")

    web = _web(server, SPECIALIST.email)
    csrf = web.cookies["ess_csrf"]
    for title, body in (
        ("HTA : bilan initial", "Bilan : ionogramme, créatinine, ECG, fond d'œil."),
        ("Palpitations : Holter d'abord", "Holter ECG de 24 h, puis consultation si FA."),
    ):
        response = web.post("/modeles", data={"_csrf_token": csrf, "title": title, "body": body})
        assert response.status_code == 303, response.text
    response = web.post(
        f"/demandes/{working}/brouillon",
        data={
            "_csrf_token": csrf,
            "answer": "Aspect évocateur d'un hématome en voie de résorption, pas d'argument "
            "pour un érysipèle. Surveillance ; à revoir si fièvre ou extension.",
            "outcome": "advice",
        },
    )
    assert response.status_code == 303, response.text
    web.close()

    me = httpx.get(f"{server.url}/api/v1/me", headers=specialist).json()["id"]
    httpx.put(
        f"{server.url}/api/v1/users/{me}/schedule",
        headers=specialist,
        json={
            "slots": [
                {"weekday": 0, "start": "08:00", "end": "12:00"},
                {"weekday": 2, "start": "14:00", "end": "18:00"},
                {"weekday": 3, "start": "08:00", "end": "18:00"},
                {"weekday": 5, "start": "08:00", "end": "20:00"},
            ]
        },
    ).raise_for_status()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=9)
    httpx.post(
        f"{server.url}/api/v1/users/{me}/absences",
        headers=specialist,
        json={
            "start": start.isoformat(),
            "end": (start + timedelta(days=5)).isoformat(),
            "reason": "Congrès",
        },
    ).raise_for_status()
    return {"specialist_working": working, "specialist_waiting": waiting}


def pages(ids: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """(file name, path, who is logged in) for the specialist's pages."""
    return [
        ("specialiste-file", "/", SPECIALIST.email),
        ("specialiste-demande", f"/demandes/{ids['specialist_working']}", SPECIALIST.email),
        (
            "specialiste-demande-attente",
            f"/demandes/{ids['specialist_waiting']}",
            SPECIALIST.email,
        ),
        ("specialiste-repondues", "/demandes?onglet=repondues", SPECIALIST.email),
        ("specialiste-modeles", "/modeles", SPECIALIST.email),
        ("specialiste-disponibilites", "/compte/disponibilites", SPECIALIST.email),
        ("specialiste-activite", "/compte/activite", SPECIALIST.email),
    ]
