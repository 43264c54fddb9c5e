"""The coordinator keeps the specialties: add, rename, retire and put back in service."""

import sqlalchemy as sa

from models import Role
from models.audit import AuditEntry
from tests.api.test_roster import upload
from tests.conftest import Ess, request_payload

API = "/api/v1/specialties"


def find(listing: list[dict], code: str) -> dict:
    return next(s for s in listing if s["code"] == code)


async def audit_actions(ess: Ess) -> list[tuple[str, dict]]:
    async with ess.context.db.reading() as session:
        rows = await session.execute(
            sa.select(AuditEntry.action, AuditEntry.detail, AuditEntry.actor_id)
            .where(AuditEntry.action.like("%specialty.%"))  # type: ignore[attr-defined]
            .order_by(AuditEntry.seq)
        )
        return [(action, detail) for action, detail, actor in rows if actor == ess.coordinator.id]


async def test_rename_and_add_a_subspecialty_keep_the_codes(client, ess: Ess) -> None:
    coordinator = ess.auth(ess.coordinator)
    renamed = await client.patch(
        f"{API}/cardiologie", json={"name": "  Cardiologie adulte "}, headers=coordinator
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Cardiologie adulte"
    assert renamed.json()["code"] == "cardiologie"

    added = await client.post(
        f"{API}/cardiologie/subspecialties",
        json={"code": "insuffisance-cardiaque", "name": "Insuffisance cardiaque"},
        headers=coordinator,
    )
    assert added.status_code == 201, added.text
    subs = {s["code"]: s for s in added.json()["subspecialties"]}
    assert subs["insuffisance-cardiaque"] == {
        "code": "insuffisance-cardiaque",
        "name": "Insuffisance cardiaque",
        "retired": False,
    }
    sub = await client.patch(
        f"{API}/cardiologie/subspecialties/hta", json={"name": "HTA"}, headers=coordinator
    )
    assert sub.status_code == 200, sub.text

    listing = (await client.get(API, headers=ess.auth(ess.requesters[0]))).json()
    cardiology = find(listing, "cardiologie")
    assert cardiology["name"] == "Cardiologie adulte"
    assert cardiology["retired"] is False
    assert {s["code"]: s["name"] for s in cardiology["subspecialties"]} == {
        "rythmologie": "Rythmologie",
        "hta": "HTA",
        "insuffisance-cardiaque": "Insuffisance cardiaque",
    }
    # A new request may name the new sub-specialty.
    submitted = await client.post(
        "/api/v1/requests",
        json=request_payload(subspecialty="insuffisance-cardiaque"),
        headers=ess.auth(ess.requesters[0]),
    )
    assert submitted.status_code == 201, submitted.text
    assert await audit_actions(ess) == [
        (
            "specialty.update",
            {
                "code": "cardiologie",
                "name": {"from": "Cardiologie", "to": "Cardiologie adulte"},
            },
        ),
        (
            "subspecialty.create",
            {
                "specialty": "cardiologie",
                "code": "insuffisance-cardiaque",
                "name": "Insuffisance cardiaque",
            },
        ),
        (
            "subspecialty.update",
            {
                "specialty": "cardiologie",
                "code": "hta",
                "name": {"from": "Hypertension artérielle", "to": "HTA"},
            },
        ),
    ]


async def test_a_retired_subspecialty_takes_no_new_request_until_restored(client, ess: Ess) -> None:
    coordinator = ess.auth(ess.coordinator)
    gp = ess.auth(ess.requesters[0])
    before = await client.post("/api/v1/requests", json=request_payload(), headers=gp)
    assert before.status_code == 201, before.text
    earlier = before.json()

    retired = await client.patch(
        f"{API}/cardiologie/subspecialties/rythmologie", json={"retired": True}, headers=coordinator
    )
    assert retired.status_code == 200, retired.text
    listing = (await client.get(API, headers=gp)).json()
    subs = {s["code"]: s["retired"] for s in find(listing, "cardiologie")["subspecialties"]}
    assert subs == {"rythmologie": True, "hta": False}

    refused = await client.post("/api/v1/requests", json=request_payload(), headers=gp)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["errors"][0]["field"] == "subspecialty"
    assert "Rythmologie" in problem["detail"] and "n'est plus proposée" in problem["detail"]
    # The rest of the specialty still takes requests.
    other = await client.post(
        "/api/v1/requests", json=request_payload(subspecialty="hta"), headers=gp
    )
    assert other.status_code == 201, other.text

    # The request made before carries on: accepted and answered by its specialist.
    assignee = next(s for s in ess.specialists if str(s.id) == earlier["assignee_id"])
    specialist = ess.auth(assignee)
    accepted = await client.post(f"/api/v1/requests/{earlier['id']}/accept", headers=specialist)
    assert accepted.status_code == 200, accepted.text
    answered = await client.post(
        f"/api/v1/requests/{earlier['id']}/answer",
        json={"answer": "Holter ECG 24 h.", "outcome": "advice"},
        headers=specialist,
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["subspecialty"] == "rythmologie"
    # Indicators still count it under its name.
    found = (
        await client.get("/api/v1/indicators?from=2026-03-01&to=2026-03-31", headers=coordinator)
    ).json()
    rows = {row["subspecialty"]: row for row in found["by_subspecialty"]}
    assert "rythmologie" in rows

    restored = await client.patch(
        f"{API}/cardiologie/subspecialties/rythmologie",
        json={"retired": False},
        headers=coordinator,
    )
    assert restored.status_code == 200, restored.text
    again = await client.post("/api/v1/requests", json=request_payload(), headers=gp)
    assert again.status_code == 201, again.text
    assert [action for action, _ in await audit_actions(ess)] == [
        "subspecialty.update",
        "subspecialty.update",
    ]


async def test_a_retired_specialty_takes_no_new_request(client, ess: Ess) -> None:
    coordinator = ess.auth(ess.coordinator)
    gp = ess.auth(ess.requesters[0])
    retired = await client.patch(f"{API}/cardiologie", json={"retired": True}, headers=coordinator)
    assert retired.status_code == 200, retired.text
    assert retired.json()["retired"] is True
    for payload in (request_payload(), request_payload(subspecialty=None)):
        refused = await client.post("/api/v1/requests", json=payload, headers=gp)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "specialty"
        assert "n'est plus proposée" in refused.json()["detail"]
    # Retiring twice changes nothing more (and is audited once).
    twice = await client.patch(f"{API}/cardiologie", json={"retired": True}, headers=coordinator)
    assert twice.status_code == 200
    back = await client.patch(f"{API}/cardiologie", json={"retired": False}, headers=coordinator)
    assert back.json()["retired"] is False
    assert (
        await client.post("/api/v1/requests", json=request_payload(), headers=gp)
    ).status_code == 201
    assert [detail.get("retired") for _, detail in await audit_actions(ess)] == [True, False]


async def test_specialists_keep_a_retired_subspecialty_but_nobody_new_gets_it(
    client, ess: Ess
) -> None:
    coordinator = ess.auth(ess.coordinator)
    await client.patch(
        f"{API}/cardiologie/subspecialties/hta", json={"retired": True}, headers=coordinator
    )
    holder = ess.specialists[1]  # rythmologie and hta
    kept = await client.patch(
        f"/api/v1/users/{holder.id}",
        json={"subspecialties": ["rythmologie", "hta"], "capacity": 4},
        headers=coordinator,
    )
    assert kept.status_code == 200, kept.text
    assert kept.json()["subspecialties"] == ["hta", "rythmologie"]

    newcomer = ess.specialists[0]  # rythmologie only
    refused = await client.patch(
        f"/api/v1/users/{newcomer.id}",
        json={"subspecialties": ["rythmologie", "hta"]},
        headers=coordinator,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "subspecialties"
    assert "retirée" in refused.json()["detail"]
    created = await client.post(
        "/api/v1/users",
        json={
            "role": "specialist",
            "email": "nouvelle@ess-test.fr",
            "name": "Dr Nouvelle",
            "specialty": "cardiologie",
            "subspecialties": ["hta"],
            "password": "Un mot de passe assez long 42",
        },
        headers=coordinator,
    )
    assert created.status_code == 422, created.text
    assert created.json()["errors"][0]["field"] == "subspecialties"

    # The roster import refuses it too, by line, for anybody who does not hold it.
    roster = (
        "email;name;specialty;subspecialties\n"
        f"{holder.email};{holder.name};cardiologie;rythmologie|hta\n"
        f"{newcomer.email};{newcomer.name};cardiologie;rythmologie|hta\n"
    )
    checked = await upload(client, ess, roster)
    assert checked.status_code == 200, checked.text
    errors = checked.json()["errors"]
    assert [e["line"] for e in errors] == [3]
    assert "retirée" in errors[0]["reason"] and "hta" in errors[0]["reason"]
    assert (await upload(client, ess, roster, confirm=True)).status_code == 422

    await client.patch(f"{API}/cardiologie", json={"retired": True}, headers=coordinator)
    moved = await client.post(
        "/api/v1/users",
        json={
            "role": "specialist",
            "email": "autre@ess-test.fr",
            "name": "Dr Autre",
            "specialty": "cardiologie",
            "password": "Un mot de passe assez long 42",
        },
        headers=coordinator,
    )
    assert moved.status_code == 422, moved.text
    assert moved.json()["errors"][0]["field"] == "specialty"


async def test_unknown_duplicate_and_malformed_changes_are_refused(client, ess: Ess) -> None:
    coordinator = ess.auth(ess.coordinator)
    cases = [
        ("patch", f"{API}/inconnue", {"name": "X"}, 404, "Spécialité introuvable"),
        ("patch", f"{API}/cardiologie/subspecialties/inconnue", {"name": "X"}, 404, "introuvable"),
        ("post", f"{API}/inconnue/subspecialties", {"code": "x", "name": "X"}, 404, "introuvable"),
        (
            "post",
            f"{API}/cardiologie/subspecialties",
            {"code": "hta", "name": "Autre"},
            409,
            "existe déjà",
        ),
        (
            "post",
            f"{API}/cardiologie/subspecialties",
            {"code": "autre", "name": "rythmologie"},
            409,
            "s'appelle déjà",
        ),
        ("post", API, {"code": "cardiologie", "name": "Autre"}, 409, "existe déjà"),
        ("post", API, {"code": "cardio2", "name": "CARDIOLOGIE"}, 409, "s'appelle déjà"),
        ("patch", f"{API}/cardiologie", {"name": "   "}, 422, "vide"),
        ("patch", f"{API}/cardiologie", {"name": None}, 422, "vide"),
        ("patch", f"{API}/cardiologie", {"code": "cardio"}, 400, None),
        ("patch", f"{API}/cardiologie", {"retired": "peut-être"}, 400, None),
        (
            "post",
            f"{API}/cardiologie/subspecialties",
            {"code": "Pas Un Code", "name": "X"},
            400,
            None,
        ),
    ]
    for method, url, body, status, words in cases:
        response = await getattr(client, method)(url, json=body, headers=coordinator)
        assert response.status_code == status, (url, body, response.text)
        if words:
            assert words in response.json()["detail"], response.text
    listing = find((await client.get(API, headers=coordinator)).json(), "cardiologie")
    assert listing["name"] == "Cardiologie"
    assert len(listing["subspecialties"]) == 2
    assert await audit_actions(ess) == []


async def test_only_the_coordinator_changes_specialties(client, ess: Ess) -> None:
    for user in (ess.requesters[0], ess.specialists[0]):
        headers = ess.auth(user)
        for method, url, body in [
            ("post", API, {"code": "neuro", "name": "Neurologie"}),
            ("patch", f"{API}/cardiologie", {"retired": True}),
            ("post", f"{API}/cardiologie/subspecialties", {"code": "x", "name": "X"}),
            ("patch", f"{API}/cardiologie/subspecialties/hta", {"name": "X"}),
        ]:
            response = await getattr(client, method)(url, json=body, headers=headers)
            assert response.status_code == 403, (user.role, url, response.text)
    assert (await client.patch(f"{API}/cardiologie", json={"name": "X"})).status_code == 401
    assert ess.specialists[0].role == Role.SPECIALIST
