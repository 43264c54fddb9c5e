"""Notifications through a real SMTP server: content, outages, TLS, bad credentials."""

import ssl
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config.settings import SmtpSettings
from models import OutboxMessage
from notifications.sender import OutboxSender, message_id
from sla.engine import fire_due
from tests.conftest import PARIS, Ess
from tests.factories import submit
from tests.notifications.smtp import SmtpServer, self_signed_certificate


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


def sender_for(ess: Ess, clock, **smtp: object) -> OutboxSender:
    settings = SmtpSettings(**{"sender": "ESS Cardio <ne-pas-repondre@ess-test.fr>", **smtp})
    return OutboxSender(
        ess.context.db, clock, settings, base_url="https://ess.example.fr", zone=PARIS
    )


async def rows(ess: Ess) -> list[OutboxMessage]:
    async with ess.context.db.reading() as session:
        return list(
            (
                await session.execute(select(OutboxMessage).order_by(OutboxMessage.created_at))
            ).scalars()
        )


async def test_assignment_mail_reaches_the_specialist(
    client, ess: Ess, clock, smtp_server: SmtpServer
) -> None:
    request = await submit(client, ess)
    sender = sender_for(ess, clock, host="127.0.0.1", port=smtp_server.port)
    assert await sender.send_due() == 1
    assert await sender.send_due() == 0
    [mail] = smtp_server.inbox.messages
    assignee = next(s for s in ess.specialists if str(s.id) == request["assignee_id"])
    assert mail["X-Envelope-To"] == assignee.email
    assert assignee.email in mail["To"]
    assert mail["Subject"] == f"[ESS] Nouvelle demande de téléexpertise {request['reference']}"
    link = f"https://ess.example.fr/demandes/{request['id']}"
    assert link in smtp_server.inbox.text(mail)
    assert link in smtp_server.inbox.html(mail)
    assert "Bonjour Dr Spécialiste" in smtp_server.inbox.text(mail)
    [row] = await rows(ess)
    assert row.status == "sent" and row.sent_at == clock.now()
    assert mail["Message-ID"] == message_id(row)


CLINICAL = [
    "Zéphyrine",
    "Quasimodo-Lenoir",
    "256041234567830",
    "1956-04-12",
    "syncope d'effort inexpliquée",
    "bisoprolol 2,5 mg",
    "ECG du 12 février",
    "pacemaker double chambre",
]


async def test_no_notification_carries_clinical_content(
    client, ess: Ess, clock, smtp_server: SmtpServer
) -> None:
    patient = {
        "first_name": "Zéphyrine",
        "last_name": "Quasimodo-Lenoir",
        "birth_date": "1956-04-12",
        "sex": "F",
        "ins": "256041234567830",
    }
    question = "Syncope d'effort inexpliquée sous bisoprolol 2,5 mg : ECG du 12 février joint."
    gp = ess.requesters[0]
    # assigned, then info_requested, new_message and new_attachment, then answered.
    first = await submit(client, ess, question=question, patient=patient, priority="urgent")
    holder = next(s for s in ess.specialists if str(s.id) == first["assignee_id"])
    await client.post(
        f"/api/v1/requests/{first['id']}/messages",
        json={"body": "Le patient a-t-il un pacemaker double chambre ?", "request_info": True},
        headers=ess.auth(holder),
    )
    await client.post(
        f"/api/v1/requests/{first['id']}/messages",
        json={"body": "Non, pas de pacemaker double chambre."},
        headers=ess.auth(gp),
    )
    response = await client.post(
        f"/api/v1/requests/{first['id']}/attachments",
        files={"file": ("ECG du 12 février Quasimodo-Lenoir.pdf", b"%PDF-1.4\n%%EOF\n")},
        headers=ess.auth(gp),
    )
    assert response.status_code == 201, response.text
    await client.post(
        f"/api/v1/requests/{first['id']}/answer",
        json={
            "answer": "Syncope d'effort inexpliquée : arrêt du bisoprolol 2,5 mg.",
            "outcome": "consultation",
        },
        headers=ess.auth(holder),
    )
    # sla_warning, then ack_missed and sla_breach, on a second request nobody acknowledges.
    second = await submit(client, ess, question=question, patient=patient, priority="urgent")
    clock.advance(timedelta(hours=1, minutes=30))
    await fire_due(ess.context.db, now=clock.now(), policy=ess.context.policy)
    clock.advance(timedelta(hours=8))
    await fire_due(ess.context.db, now=clock.now(), policy=ess.context.policy)
    # pending: nobody left for a third one.
    for user in ess.specialists:
        await client.patch(
            f"/api/v1/users/{user.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
        )
    # pending, the ESS open: the coordinator's e-mail at once (Tuesday 10:00).
    clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=PARIS))
    await submit(client, ess, question=question, patient=patient)
    # waiting_digest: an urgent one in the evening, nobody on call, in the digest.
    clock.set(datetime(2026, 3, 3, 20, 0, tzinfo=PARIS))
    await submit(client, ess, question=question, patient=patient, priority="urgent")
    clock.advance(ess.context.policy.alarm_delay)
    assert second["reference"]

    sender = sender_for(ess, clock, host="127.0.0.1", port=smtp_server.port)
    while await sender.send_due():
        pass
    kinds = {row.kind for row in await rows(ess)}
    assert kinds == {
        "assigned",
        "info_requested",
        "new_message",
        "new_attachment",
        "answered",
        "sla_warning",
        "ack_missed",
        "sla_breach",
        "pending",
        "waiting_digest",
    }
    assert all(row.status == "sent" for row in await rows(ess))
    assert len(smtp_server.inbox.messages) == len(await rows(ess))
    for mail in smtp_server.inbox.messages:
        raw = (
            mail.as_string().lower()
            + smtp_server.inbox.text(mail).lower()
            + smtp_server.inbox.html(mail).lower()
        )
        for needle in CLINICAL:
            assert needle.lower() not in raw, (needle, mail["Subject"])


async def test_smtp_outage_then_recovery_sends_each_exactly_once(client, ess: Ess, clock) -> None:
    server = SmtpServer()  # not started: the SMTP server is down
    references = [(await submit(client, ess))["reference"] for _ in range(5)]
    sender = sender_for(
        ess, clock, host="127.0.0.1", port=server.port, retry_after=timedelta(seconds=60)
    )
    assert await sender.send_due() == 0
    waiting = await rows(ess)
    assert {r.status for r in waiting} == {"pending"}
    assert all("injoignable" in r.last_error for r in waiting)
    assert all(r.next_attempt_at > clock.now() for r in waiting)
    server.start()
    try:
        assert await sender.send_due() == 0  # still backing off
        clock.advance(timedelta(minutes=2))
        assert await sender.send_due() == 5
        assert await sender.send_due() == 0
        clock.advance(timedelta(hours=2))
        assert await sender.send_due() == 0
    finally:
        server.stop()
    subjects = sorted(m["Subject"] for m in server.inbox.messages)
    assert subjects == sorted(f"[ESS] Nouvelle demande de téléexpertise {r}" for r in references)
    ids = [m["Message-ID"] for m in server.inbox.messages]
    assert len(set(ids)) == 5
    assert all(r.status == "sent" and r.attempts == 2 for r in await rows(ess))


async def test_a_crashed_senders_claims_come_back(
    client, ess: Ess, clock, smtp_server: SmtpServer
) -> None:
    await submit(client, ess)
    sender = sender_for(ess, clock, host="127.0.0.1", port=smtp_server.port)
    claimed = await sender._claim(clock.now())  # a sender claims, then dies
    assert len(claimed) == 1
    assert await sender.send_due() == 0  # the lease keeps others off
    clock.advance(timedelta(minutes=6))
    assert await sender.send_due() == 1
    assert len(smtp_server.inbox.messages) == 1


async def test_starttls_with_a_self_signed_certificate(
    client, ess: Ess, clock, tmp_path: Path
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer(tls_context=context, credentials=("ess", "secret-smtp")).start()
    try:
        await submit(client, ess)
        # Without trusting the certificate, nothing is sent and the row says why.
        untrusting = sender_for(
            ess,
            clock,
            host="127.0.0.1",
            port=server.port,
            starttls=True,
            username="ess",
            password="secret-smtp",
        )
        assert await untrusting.send_due() == 0
        assert "certificate" in (await rows(ess))[0].last_error.lower()
        clock.advance(timedelta(hours=1))
        trusting = sender_for(
            ess,
            clock,
            host="127.0.0.1",
            port=server.port,
            starttls=True,
            username="ess",
            password="secret-smtp",
            ca_file=cert,
        )
        assert await trusting.send_due() == 1
        assert len(server.inbox.messages) == 1
    finally:
        server.stop()


async def test_wrong_password_is_a_clear_error_not_a_crash(client, ess: Ess, clock) -> None:
    server = SmtpServer(credentials=("ess", "le-bon")).start()
    try:
        await submit(client, ess)
        sender = sender_for(
            ess,
            clock,
            host="127.0.0.1",
            port=server.port,
            username="ess",
            password="le-mauvais",
            max_age=timedelta(hours=1),
        )
        assert await sender.send_due() == 0
        [row] = await rows(ess)
        assert row.status == "pending"
        assert "authentification SMTP refusée" in row.last_error
        clock.advance(timedelta(hours=2))
        assert await sender.send_due() == 0
        [row] = await rows(ess)
        assert row.status == "failed"  # past the maximum age: shown to the coordinator
        listing = (
            await client.get(
                "/api/v1/notifications?status=failed", headers=ess.auth(ess.coordinator)
            )
        ).json()
        assert [n["id"] for n in listing] == [str(row.id)]
        assert "authentification" in listing[0]["last_error"]
        assert server.inbox.messages == []
    finally:
        server.stop()


async def test_without_smtp_host_notifications_are_held_then_sent(
    client, ess: Ess, clock, smtp_server: SmtpServer
) -> None:
    await submit(client, ess)
    assert await sender_for(ess, clock).send_due() == 0
    [row] = await rows(ess)
    assert row.status == "held"
    assert "ESS_SMTP__HOST" in row.last_error
    held = (
        await client.get("/api/v1/notifications?status=held", headers=ess.auth(ess.coordinator))
    ).json()
    assert len(held) == 1
    sender = sender_for(ess, clock, host="127.0.0.1", port=smtp_server.port)
    assert await sender.send_due() == 1
    assert len(smtp_server.inbox.messages) == 1
