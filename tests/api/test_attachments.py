"""Attachments the other side can find: listed for the participants, recorded in the
history (the file name never for the coordinator) and announced by e-mail without it."""

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from config.settings import SmtpSettings
from models import Attachment, OutboxMessage
from notifications.sender import OutboxSender
from tests.conftest import PARIS, Ess
from tests.factories import act, holder, submit
from tests.notifications.smtp import SmtpServer

PDF = b"%PDF-1.4\n" + b"0" * 3000 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
ECG_NAME = "ECG_Durand_Jeanne_12-02.pdf"
PHOTO_NAME = "oedeme_cheville_Durand.png"


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


async def upload(client, ess: Ess, rid: str, who, name: str, content: bytes):
    return await client.post(
        f"/api/v1/requests/{rid}/attachments",
        headers=ess.auth(who),
        files={"file": (name, content, "application/octet-stream")},
    )


async def uploaded(client, ess: Ess, rid: str, who, name: str, content: bytes) -> dict:
    response = await upload(client, ess, rid, who, name, content)
    assert response.status_code == 201, response.text
    ess.context.clock.advance(timedelta(minutes=2))
    return response.json()


async def events(client, ess: Ess, rid: str, viewer) -> list[dict]:
    response = await client.get(f"/api/v1/requests/{rid}/events", headers=ess.auth(viewer))
    assert response.status_code == 200, response.text
    return response.json()


async def outbox(ess: Ess) -> list[OutboxMessage]:
    async with ess.context.db.reading() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.created_at)
        return list((await session.execute(query)).scalars())


async def test_both_participants_find_every_attachment(client, ess: Ess) -> None:
    gp, other_gp = ess.requesters
    request = await submit(client, ess)
    rid = request["id"]
    specialist = holder(ess, request)
    url = f"/api/v1/requests/{rid}/attachments"
    assert (await client.get(url, headers=ess.auth(gp))).json() == []
    ecg = await uploaded(client, ess, rid, gp, ECG_NAME, PDF)
    photo = await uploaded(client, ess, rid, specialist, PHOTO_NAME, PNG)
    expected = [
        {
            "id": ecg["id"],
            "filename": ECG_NAME,
            "content_type": "application/pdf",
            "size": len(PDF),
            "uploaded_by": {"id": str(gp.id), "name": "Dr Demandeur 0"},
        },
        {
            "id": photo["id"],
            "filename": PHOTO_NAME,
            "content_type": "image/png",
            "size": len(PNG),
            "uploaded_by": {"id": str(specialist.id), "name": specialist.name},
        },
    ]
    for viewer in (gp, specialist):
        response = await client.get(url, headers=ess.auth(viewer))
        assert response.status_code == 200, response.text
        listed = [
            {key: item[key] for key in ("id", "filename", "content_type", "size", "uploaded_by")}
            for item in response.json()
        ]
        assert listed == expected
        assert [item["created_at"] for item in response.json()] == [
            ecg["created_at"],
            photo["created_at"],
        ]
        # Each listed id downloads the file it names.
        download = await client.get(f"{url}/{ecg['id']}", headers=ess.auth(viewer))
        assert download.status_code == 200 and download.content == PDF
    # Attachments are clinical: not the coordinator's (as for the download), nobody else's.
    response = await client.get(url, headers=ess.auth(ess.coordinator))
    assert response.status_code == 403
    assert ECG_NAME not in response.text
    others = [other_gp, next(s for s in ess.specialists if s.id != specialist.id)]
    for stranger in others:
        assert (await client.get(url, headers=ess.auth(stranger))).status_code == 404
    missing = f"/api/v1/requests/{uuid.uuid4()}/attachments"
    assert (await client.get(missing, headers=ess.auth(gp))).status_code == 404
    assert (await client.get(url)).status_code == 401


async def test_each_upload_is_in_the_history_its_name_only_for_the_participants(
    client, ess: Ess
) -> None:
    gp = ess.requesters[0]
    request = await submit(client, ess)
    rid = request["id"]
    specialist = holder(ess, request)
    ecg = await uploaded(client, ess, rid, gp, ECG_NAME, PDF)
    photo = await uploaded(client, ess, rid, specialist, PHOTO_NAME, PNG)
    for viewer in (gp, specialist):
        added = [
            e for e in await events(client, ess, rid, viewer) if e["kind"] == "attachment_added"
        ]
        assert [(e["actor_id"], e["detail"]["filename"]) for e in added] == [
            (str(gp.id), ECG_NAME),
            (str(specialist.id), PHOTO_NAME),
        ]
        assert [e["detail"]["attachment_id"] for e in added] == [ecg["id"], photo["id"]]
    history = await events(client, ess, rid, ess.coordinator)
    added = [e for e in history if e["kind"] == "attachment_added"]
    assert [(e["actor_id"], e["detail"]["content_type"]) for e in added] == [
        (str(gp.id), "application/pdf"),
        (str(specialist.id), "image/png"),
    ]
    shown = json.dumps(history, ensure_ascii=False)
    for secret in (ECG_NAME, PHOTO_NAME, "Durand", "filename"):
        assert secret not in shown, secret


async def test_each_upload_tells_the_other_side_by_email_without_the_file_name(
    client, ess: Ess, clock, smtp_server: SmtpServer
) -> None:
    gp = ess.requesters[0]
    request = await submit(client, ess)
    rid, reference = request["id"], request["reference"]
    specialist = holder(ess, request)
    await uploaded(client, ess, rid, gp, ECG_NAME, PDF)
    await uploaded(client, ess, rid, specialist, PHOTO_NAME, PNG)
    sender = OutboxSender(
        ess.context.db,
        clock,
        SmtpSettings(host="127.0.0.1", port=smtp_server.port, sender="ESS <noreply@ess-test.fr>"),
        base_url="https://ess.example.fr",
        zone=PARIS,
    )
    while await sender.send_due():
        pass
    inbox = smtp_server.inbox
    subject = f"[ESS] Nouvelle pièce jointe – demande {reference}"
    mails = [m for m in inbox.messages if m["Subject"] == subject]
    assert [m["X-Envelope-To"] for m in mails] == [specialist.email, gp.email]
    link = f"https://ess.example.fr/demandes/{rid}"
    for mail, name in zip(mails, (specialist.name, "Dr Demandeur 0"), strict=True):
        text, html = inbox.text(mail), inbox.html(mail)
        assert f"Bonjour {name}" in text
        assert "nouvelle pièce jointe" in text and reference in text
        assert link in text and link in html
        raw = (mail.as_string() + text + html).lower()
        for secret in (ECG_NAME, PHOTO_NAME, "durand", "ecg", "oedeme", "palpitations"):
            assert secret.lower() not in raw, secret
    assert all(row.status == "sent" for row in await outbox(ess))


async def test_a_pending_request_takes_attachments_with_nobody_to_tell(client, ess: Ess) -> None:
    for user in ess.specialists:
        await client.patch(
            f"/api/v1/users/{user.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
        )
    request = await submit(client, ess)
    assert request["status"] == "pending"
    before = {row.kind for row in await outbox(ess)}
    await uploaded(client, ess, request["id"], ess.requesters[0], ECG_NAME, PDF)
    assert {row.kind for row in await outbox(ess)} == before
    kinds = [e["kind"] for e in await events(client, ess, request["id"], ess.requesters[0])]
    assert kinds[-1] == "attachment_added"


async def test_a_closed_request_takes_no_attachment_and_nothing_changes(client, ess: Ess) -> None:
    gp = ess.requesters[0]
    request = await submit(client, ess)
    await act(client, ess, request, "answer", answer="Holter de 24 h.", outcome="advice")
    await act(client, ess, request, "close", usefulness=4, referral_avoided=True)
    history, mails = await events(client, ess, request["id"], gp), await outbox(ess)
    response = await upload(client, ess, request["id"], gp, ECG_NAME, PDF)
    assert response.status_code == 409
    assert "close" in response.json()["detail"]
    assert await events(client, ess, request["id"], gp) == history
    assert len(await outbox(ess)) == len(mails)
    url = f"/api/v1/requests/{request['id']}/attachments"
    assert (await client.get(url, headers=ess.auth(gp))).json() == []
    assert list(ess.context.settings.attachments_dir().glob("*")) == []


async def test_a_damaged_file_name_leaves_the_list_readable(client, ess: Ess) -> None:
    gp = ess.requesters[0]
    request = await submit(client, ess)
    ecg = await uploaded(client, ess, request["id"], gp, ECG_NAME, PDF)
    await uploaded(client, ess, request["id"], gp, "second.pdf", PDF)
    async with ess.context.db.transaction() as session:
        row = await session.get(Attachment, uuid.UUID(ecg["id"]))
        damaged = bytearray(row.filename)
        damaged[-3] ^= 0x01
        await session.execute(
            update(Attachment).where(Attachment.id == row.id).values(filename=bytes(damaged))
        )
    url = f"/api/v1/requests/{request['id']}/attachments"
    response = await client.get(url, headers=ess.auth(gp))
    assert response.status_code == 200, response.text
    first, second = response.json()
    assert first["filename"] is None and first["unreadable"]["fields"] == ["filename"]
    assert second["filename"] == "second.pdf" and second["unreadable"] is None
