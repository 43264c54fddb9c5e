"""Nothing clinical in clear at rest, in logs or for the coordinator; tampering is caught."""

import io
import logging
import subprocess
import sys
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select, text, update

from models import AuditEntry, Request
from tests.conftest import Ess, asyncpg_dsn, request_payload

BIN = Path(sys.executable).parent / "ess-router"

SECRET_WORDS = [
    "Zéphyrine",
    "Quasimodo-Lenoir",
    "256041234567830",
    "syncope d'effort",
    "bisoprolol",
    "double chambre",
    "Holter de contrôle",
    "très utile merci",
    "ECG_Quasimodo",
    "TRACE-ECG-QUASIMODO",
]

PATIENT = {
    "first_name": "Zéphyrine",
    "last_name": "Quasimodo-Lenoir",
    "birth_date": "1956-04-12",
    "sex": "F",
    "ins": "256041234567830",
}


def pdf_with(words: str) -> bytes:
    return b"%PDF-1.4\n% " + words.encode() + b"\n" + b"0" * 4000 + b"\n%%EOF\n"


async def full_flow(client, ess: Ess) -> dict:
    gp = ess.requesters[0]
    request = (
        await client.post(
            "/api/v1/requests",
            headers=ess.auth(gp),
            json=request_payload(
                patient=PATIENT, question="Syncope d'effort sous bisoprolol, que faire ?"
            ),
        )
    ).json()
    holder = next(s for s in ess.specialists if str(s.id) == request["assignee_id"])
    rid = request["id"]
    await client.post(
        f"/api/v1/requests/{rid}/messages",
        headers=ess.auth(holder),
        json={"body": "Porte-t-elle un stimulateur double chambre ?", "request_info": True},
    )
    ess.context.clock.advance(timedelta(minutes=5))
    await client.post(
        f"/api/v1/requests/{rid}/messages",
        headers=ess.auth(gp),
        json={"body": "Non, pas de double chambre."},
    )
    response = await client.post(
        f"/api/v1/requests/{rid}/attachments",
        headers=ess.auth(gp),
        files={"file": ("ECG_Quasimodo.pdf", pdf_with("TRACE-ECG-QUASIMODO"), "application/pdf")},
    )
    assert response.status_code == 201, response.text
    await client.post(
        f"/api/v1/requests/{rid}/answer",
        headers=ess.auth(holder),
        json={"answer": "Holter de contrôle puis consultation.", "outcome": "consultation"},
    )
    await client.post(
        f"/api/v1/requests/{rid}/close",
        headers=ess.auth(gp),
        json={"usefulness": 5, "referral_avoided": True, "comment": "Avis très utile merci"},
    )
    return {"request": request, "holder": holder, "attachment": response.json()}


def assert_no_secret(blob: bytes, where: str) -> None:
    lowered = blob.lower()
    for word in SECRET_WORDS:
        for encoding in ("utf-8", "utf-16-le", "latin-1"):
            try:
                needle = word.lower().encode(encoding)
            except UnicodeEncodeError:
                continue
            assert needle not in lowered, f"{word!r} found in clear in {where}"


async def test_nothing_clinical_in_clear_at_rest(
    client, ess: Ess, settings, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    flow = await full_flow(client, ess)
    rid = flow["request"]["id"]
    gp = ess.requesters[0]
    # The participants read everything back in clear.
    shown = (await client.get(f"/api/v1/requests/{rid}", headers=ess.auth(gp))).json()
    assert shown["patient"]["last_name"] == "Quasimodo-Lenoir"
    assert shown["answer"] == "Holter de contrôle puis consultation."
    download = await client.get(
        f"/api/v1/requests/{rid}/attachments/{flow['attachment']['id']}", headers=ess.auth(gp)
    )
    assert download.status_code == 200
    assert b"TRACE-ECG-QUASIMODO" in download.content
    await ess.context.db.dispose()  # flush SQLite's WAL file to disk as it stands

    if backend == "sqlite":
        path = Path(settings.database_url.split("///", 1)[1])
        for file in [path, Path(f"{path}-wal")]:
            if file.exists():
                assert_no_secret(file.read_bytes(), file.name)
    else:
        connection = await asyncpg.connect(asyncpg_dsn(settings.database_url))
        try:
            tables = await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
            for row in tables:
                dump = await connection.fetch(f'SELECT t::text FROM "{row[0]}" t')
                assert_no_secret("\n".join(r[0] for r in dump).encode(), row[0])
        finally:
            await connection.close()
    for file in settings.attachments_dir().iterdir():
        assert_no_secret(file.read_bytes(), file.name)
    assert_no_secret(caplog.text.encode(), "the logs")


async def test_coordinator_sees_flow_not_content(client, ess: Ess) -> None:
    flow = await full_flow(client, ess)
    rid = flow["request"]["id"]
    coordinator = ess.auth(ess.coordinator)
    body = (await client.get(f"/api/v1/requests/{rid}", headers=coordinator)).json()
    assert (body["question"], body["patient"], body["answer"]) == (None, None, None)
    assert body["status"] == "closed" and body["priority"] == "standard"
    assert (
        await client.get(f"/api/v1/requests/{rid}/messages", headers=coordinator)
    ).status_code == 403
    assert (
        await client.get(
            f"/api/v1/requests/{rid}/attachments/{flow['attachment']['id']}", headers=coordinator
        )
    ).status_code == 403
    history = (await client.get(f"/api/v1/requests/{rid}/events", headers=coordinator)).text
    assert_no_secret(history.encode(), "the history")


async def test_a_flipped_byte_makes_that_record_unreadable_not_the_list(
    client, ess: Ess, caplog: pytest.LogCaptureFixture
) -> None:
    request = (
        await client.post(
            "/api/v1/requests", json=request_payload(), headers=ess.auth(ess.requesters[0])
        )
    ).json()
    async with ess.context.db.transaction() as session:
        row = await session.get(Request, __import__("uuid").UUID(request["id"]))
        damaged = bytearray(row.question)
        damaged[-5] ^= 0x01
        await session.execute(
            update(Request).where(Request.id == row.id).values(question=bytes(damaged))
        )
    other = (
        await client.post(
            "/api/v1/requests",
            json=request_payload(question="Intacte"),
            headers=ess.auth(ess.requesters[0]),
        )
    ).json()
    # The damaged record says it is unreadable; the others are served as usual.
    response = await client.get(
        f"/api/v1/requests/{request['id']}", headers=ess.auth(ess.requesters[0])
    )
    assert response.status_code == 200
    body = response.json()
    assert body["question"] is None and body["patient"]["last_name"] == "Durand"
    assert body["unreadable"]["fields"] == ["question"]
    assert "illisible" in body["unreadable"]["detail"]
    listed = await client.get("/api/v1/requests", headers=ess.auth(ess.requesters[0]))
    assert listed.status_code == 200
    items = {item["id"]: item for item in listed.json()["items"]}
    assert items[request["id"]]["unreadable"]["fields"] == ["question"]
    assert items[other["id"]]["question"] == "Intacte" and items[other["id"]]["unreadable"] is None
    assert f"request:{request['id']}:question" in caplog.text
    assert "Palpitations" not in response.text + caplog.text


async def test_a_ciphertext_moved_to_another_row_fails(client, ess: Ess) -> None:
    gp = ess.requesters[0]
    first = (
        await client.post(
            "/api/v1/requests", json=request_payload(question="Première"), headers=ess.auth(gp)
        )
    ).json()
    second = (
        await client.post(
            "/api/v1/requests", json=request_payload(question="Seconde"), headers=ess.auth(gp)
        )
    ).json()
    async with ess.context.db.transaction() as session:
        rows = {str(r.id): r for r in (await session.execute(select(Request))).scalars()}
        await session.execute(
            update(Request)
            .where(Request.id == rows[second["id"]].id)
            .values(question=rows[first["id"]].question)
        )
    response = await client.get(f"/api/v1/requests/{second['id']}", headers=ess.auth(gp))
    assert response.status_code == 200
    assert response.json()["question"] is None
    assert response.json()["unreadable"]["fields"] == ["question"]
    assert (await client.get(f"/api/v1/requests/{first['id']}", headers=ess.auth(gp))).json()[
        "question"
    ] == "Première"


async def test_same_patient_same_key_without_reading_identity(client, ess: Ess) -> None:
    gp = ess.requesters[0]
    without_ins = {**PATIENT, "ins": None}
    spelled_otherwise = {**without_ins, "first_name": "zephyrine ", "last_name": "QUASIMODO LENOIR"}
    for patient in (PATIENT, PATIENT, without_ins, spelled_otherwise):
        await client.post(
            "/api/v1/requests", json=request_payload(patient=patient), headers=ess.auth(gp)
        )
    async with ess.context.db.reading() as session:
        keys = (
            (
                await session.execute(
                    select(Request.patient_key).order_by(Request.submitted_at, Request.reference)
                )
            )
            .scalars()
            .all()
        )
    assert keys[0] == keys[1]
    assert keys[2] == keys[3] != keys[0]
    assert all(len(k) == 64 for k in keys)


async def test_attachments_are_for_the_two_doctors_only(client, ess: Ess) -> None:
    gp, other_gp = ess.requesters
    request = (
        await client.post("/api/v1/requests", json=request_payload(), headers=ess.auth(gp))
    ).json()
    rid = request["id"]
    holder = next(s for s in ess.specialists if str(s.id) == request["assignee_id"])
    other_specialist = next(s for s in ess.specialists if s.id != holder.id)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    response = await client.post(
        f"/api/v1/requests/{rid}/attachments",
        headers=ess.auth(holder),
        files={"file": ("photo.txt", png, "text/plain")},
    )
    assert response.status_code == 201, response.text
    attachment = response.json()
    assert attachment["content_type"] == "image/png"  # by content, not by name
    assert attachment["size"] == len(png)
    url = f"/api/v1/requests/{rid}/attachments/{attachment['id']}"
    download = await client.get(url, headers=ess.auth(gp))
    assert download.status_code == 200
    assert download.content == png
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("attachment;")
    for stranger in (other_gp, other_specialist):
        assert (await client.get(url, headers=ess.auth(stranger))).status_code == 404
    response = await client.post(
        f"/api/v1/requests/{rid}/attachments",
        headers=ess.auth(gp),
        files={"file": ("scan.pdf", b"MZ\x90\x00 not a pdf at all", "application/pdf")},
    )
    assert response.status_code == 415
    assert "PDF" in response.json()["detail"]


async def test_an_oversized_upload_is_413(client, ess: Ess) -> None:
    gp = ess.requesters[0]
    ess.context.settings.attachment_max_bytes = 64 * 1024
    rid = (
        await client.post("/api/v1/requests", json=request_payload(), headers=ess.auth(gp))
    ).json()["id"]
    big = io.BytesIO(b"%PDF-1.4\n" + b"x" * (200 * 1024))
    response = await client.post(
        f"/api/v1/requests/{rid}/attachments",
        headers=ess.auth(gp),
        files={"file": ("gros.pdf", big, "application/pdf")},
    )
    assert response.status_code == 413
    assert "taille maximale" in response.json()["detail"]
    assert list(ess.context.settings.attachments_dir().glob("*")) == []


async def test_audit_trail_records_reads_and_detects_edits(
    client, ess: Ess, settings, backend: str
) -> None:
    flow = await full_flow(client, ess)
    rid = flow["request"]["id"]
    await client.get(f"/api/v1/requests/{rid}", headers=ess.auth(ess.requesters[0]))
    async with ess.context.db.reading() as session:
        entries = (
            (await session.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars().all()
        )
    actions = [e.action for e in entries]
    for expected in (
        "request.submitted",
        "message.create",
        "attachment.create",
        "request.answered",
        "request.closed",
        "request.read",
    ):
        assert expected in actions
    assert all(e.prev_hash == p.hash for p, e in pairwise(entries))

    env = {"ESS_DATABASE_URL": settings.database_url, "ESS_DATA_DIR": str(settings.data_dir)}

    def verify() -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN), "audit", "verify"],
            env={**_base_env(), **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    result = verify()
    assert result.returncode == 0, result.stderr
    assert f"{len(entries)} entrée(s) vérifiée(s)" in result.stdout
    victim = entries[len(entries) // 2]
    async with ess.context.db.transaction() as session:
        await session.execute(
            text("UPDATE audit_entry SET action = 'request.nothing' WHERE seq = :seq"),
            {"seq": victim.seq},
        )
    result = verify()
    assert result.returncode == 1
    assert f"entrée n° {victim.seq}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("ESS_")}


async def test_keys_rotate_then_retire_keeps_everything_readable(
    client, ess: Ess, settings
) -> None:
    flow = await full_flow(client, ess)
    rid = flow["request"]["id"]
    gp = ess.requesters[0]
    env = {
        **_base_env(),
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_DATA_DIR": str(settings.data_dir),
    }

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN), *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    before = (await client.get(f"/api/v1/requests/{rid}", headers=ess.auth(gp))).json()
    async with ess.context.db.reading() as session:
        old_question = (await session.execute(select(Request.question))).scalar_one()
    result = cli("keys", "retire", "1")
    assert result.returncode == 1 and "clé active" in result.stderr
    result = cli("keys", "rotate")
    assert result.returncode == 0, result.stderr
    assert "version 2" in result.stdout
    result = cli("keys", "retire", "1")
    assert result.returncode == 0, result.stderr
    # A fresh process (new key ring from the file) reads everything.
    ess.context.__dict__.pop("vault", None)
    after = (await client.get(f"/api/v1/requests/{rid}", headers=ess.auth(gp))).json()
    assert after == before
    download = await client.get(
        f"/api/v1/requests/{rid}/attachments/{flow['attachment']['id']}", headers=ess.auth(gp)
    )
    assert b"TRACE-ECG-QUASIMODO" in download.content
    messages = await client.get(f"/api/v1/requests/{rid}/messages", headers=ess.auth(gp))
    assert [m["body"] for m in messages.json()][-1] == "Non, pas de double chambre."
    async with ess.context.db.reading() as session:
        new_question = (await session.execute(select(Request.question))).scalar_one()
    # Only the wrapped data key changed; the content ciphertext is the same bytes.
    assert new_question != old_question
    assert new_question[77:] == old_question[77:]
    assert ess.context.vault.keyring.versions == (2,)
