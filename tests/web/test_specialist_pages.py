"""The specialist's workspace without a browser: queue order, the idle poll, unread marks,
drafts kept encrypted, templates, and a refused answer that keeps what was typed."""

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from models import AnswerDraft, AnswerTemplate, User
from tests.conftest import Ess, request_payload
from tests.web.test_pages import SITE, csrf, log_in, with_password

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


async def submit(client: httpx.AsyncClient, ess: Ess, **overrides: object) -> dict:
    response = await client.post(
        "/api/v1/requests",
        json=request_payload(**overrides),
        headers=ess.auth(ess.requesters[0]),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def specialist_of(ess: Ess, request: dict) -> User:
    found = next(s for s in ess.specialists if str(s.id) == request["assignee_id"])
    await with_password(ess, found)
    return found


def form(client: httpx.AsyncClient, **values: str) -> dict[str, str]:
    return {"_csrf_token": csrf(client), **values}


async def test_the_queue_puts_urgent_first_then_the_nearest_deadline(client, ess: Ess) -> None:
    first = await submit(client, ess, subspecialty="hta")
    specialist = await specialist_of(ess, first)
    # The same specialist's other requests: sub-specialty only they and one other cover.
    others = [first]
    while len(others) < 3:
        item = await submit(client, ess, subspecialty="hta", priority="urgent")
        if item["assignee_id"] == first["assignee_id"]:
            others.append(item)
    await log_in(client, specialist.email)
    page = await client.get("/")
    assert page.status_code == 200
    positions = [page.text.index(r["reference"]) for r in others]
    # The two urgent ones first (nearest deadline first: the older), then the standard one.
    assert positions[1] < positions[2] < positions[0]
    assert "<title>(3) Mes demandes, 3 à accepter" in page.text
    assert page.text.count("Nouvelle</span>") == 3


async def test_an_idle_poll_answers_204_and_a_change_sends_the_queue(client, ess: Ess) -> None:
    first = await submit(client, ess)
    specialist = await specialist_of(ess, first)
    await log_in(client, specialist.email)
    page = await client.get("/demandes")
    digest = page.text.split("empreinte=")[1].split("&")[0]
    idle = await client.get(f"/demandes/file?empreinte={digest}", headers={"HX-Request": "true"})
    assert idle.status_code == 204
    assert "set-cookie" not in idle.headers or "ess_session" not in idle.headers["set-cookie"]

    # The requester writes: the next poll brings the queue with the request marked unread.
    await client.get(f"/demandes/{first['id']}")  # opened once: read
    ess.context.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    response = await client.post(
        f"/api/v1/requests/{first['id']}/messages",
        json={"body": "Le patient a fait un malaise hier."},
        headers=ess.auth(ess.requesters[0]),
    )
    assert response.status_code == 201
    changed = await client.get(f"/demandes/file?empreinte={digest}", headers={"HX-Request": "1"})
    assert changed.status_code == 200
    assert changed.text.startswith("<title>(1) Mes demandes")
    assert "Non lu : le médecin a écrit" in changed.text
    assert first["reference"] in changed.text
    # Opened again: read.
    await client.get(f"/demandes/{first['id']}")
    assert "Non lu" not in (await client.get("/demandes")).text


async def test_a_poll_after_the_session_expired_reloads_the_page_shown(client, ess: Ess) -> None:
    response = await client.get(
        "/demandes/file?empreinte=x",
        headers={
            "HX-Request": "true",
            "HX-Current-URL": "http://ess.test.local/demandes?onglet=attente",
        },
    )
    assert response.status_code == 401
    target = httpx.URL(response.headers["HX-Redirect"]).params["next"]
    assert target == "/demandes?onglet=attente"


async def test_a_draft_is_kept_encrypted_and_comes_back(client, ess: Ess) -> None:
    request = await submit(client, ess)
    specialist = await specialist_of(ess, request)
    await log_in(client, specialist.email)
    text = "Holter de 24 h pour Mme Durand, puis consultation."
    saved = await client.post(
        f"/demandes/{request['id']}/brouillon",
        data=form(client, answer=text, outcome="consultation"),
        headers={"Origin": SITE},
    )
    assert saved.status_code == 303
    async with ess.context.db.reading() as session:
        blob = (await session.execute(select(AnswerDraft.content))).scalar_one()
    assert b"Durand" not in blob and b"Holter" not in blob
    page = await client.get(f"/demandes/{request['id']}")
    assert text in page.text
    assert 'value="consultation" checked' in page.text

    # A refused answer (no outcome) keeps the text; a sent one discards the draft.
    refused = await client.post(
        f"/demandes/{request['id']}/reponse",
        data=form(client, answer=text + " Modifié."),
        headers={"Origin": SITE},
    )
    assert refused.status_code == 422
    assert text + " Modifié." in refused.text
    assert "Choisissez la suite donnée." in refused.text
    sent = await client.post(
        f"/demandes/{request['id']}/reponse",
        data=form(client, answer=text, outcome="consultation", appointment_at="2026-12-14T09:30"),
        headers={"Origin": SITE},
    )
    assert sent.status_code == 303
    answered = await client.get(
        f"/api/v1/requests/{request['id']}", headers=ess.auth(ess.requesters[0])
    )
    assert answered.json()["status"] == "answered"
    assert answered.json()["appointment_at"].startswith("2026-12-14T08:30:00")  # 09:30 Paris
    async with ess.context.db.reading() as session:
        assert (await session.execute(select(AnswerDraft))).first() is None


async def test_templates_are_the_specialists_own_and_encrypted(client, ess: Ess) -> None:
    request = await submit(client, ess)
    specialist = await specialist_of(ess, request)
    await log_in(client, specialist.email)
    created = await client.post(
        "/modeles",
        data=form(client, title="Palpitations du soir", body="Holter ECG de 24 h d'abord."),
        headers={"Origin": SITE},
    )
    assert created.status_code == 303
    async with ess.context.db.reading() as session:
        row = (await session.execute(select(AnswerTemplate))).scalar_one()
    assert b"Holter" not in row.body and b"Palpitations" not in row.title
    inserted = await client.post(
        f"/demandes/{request['id']}/brouillon",
        data=form(client, answer="Bonjour,", template_id=str(row.id), insert_template="1"),
        headers={"Origin": SITE},
    )
    assert inserted.status_code == 303
    page = await client.get(f"/demandes/{request['id']}")
    assert "Bonjour,\n\nHolter ECG de 24 h d&#39;abord." in page.text

    # Another specialist neither sees nor uses it.
    other = next(s for s in ess.specialists if s.id != specialist.id)
    await with_password(ess, other)
    await log_in(client, other.email)
    assert "Palpitations du soir" not in (await client.get("/modeles")).text
    gone = await client.post(
        f"/modeles/{row.id}/suppression", data=form(client), headers={"Origin": SITE}
    )
    assert gone.status_code == 404
    assert (await client.get(f"/demandes/{uuid.uuid4()}")).status_code == 404
