"""The tests' shared helpers: submit and act on requests through the API (in-process or on a
real server), or insert rows directly (with their ``patient_key``) for exact instants."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from models import Request
from models.history import measure
from tests.conftest import PARIS, Ess, request_payload


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


async def indicators(client, ess: Ess, first: str, last: str) -> dict[str, Any]:
    response = await client.get(
        "/api/v1/indicators",
        params={"from": first, "to": last},
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def submit(
    client, ess: Ess, requester: int = 0, *, server: str = "", **overrides: Any
) -> dict[str, Any]:
    """Submit ``request_payload(**overrides)`` as a requester; ``server`` is a real one's URL."""
    response = await client.post(
        f"{server}/api/v1/requests",
        json=request_payload(**overrides),
        headers=ess.auth(ess.requesters[requester]),
    )
    assert response.status_code == 201, response.text
    return response.json()


def holder(ess: Ess, request: dict[str, Any]):
    return next(s for s in ess.specialists if str(s.id) == request["assignee_id"])


async def act(client, ess: Ess, request: dict[str, Any], action: str, **body: Any) -> dict:
    """POST /requests/{id}/{action} as whoever may: the assignee, else the requester."""
    user = (
        holder(ess, request)
        if action in ("accept", "answer", "decline")
        else next(r for r in ess.requesters if str(r.id) == request["requester_id"])
    )
    response = await client.post(
        f"/api/v1/requests/{request['id']}/{action}",
        json=body or None,
        headers=ess.auth(user),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def message(client, ess: Ess, request: dict[str, Any], *, from_specialist: bool) -> None:
    user = (
        holder(ess, request)
        if from_specialist
        else next(r for r in ess.requesters if str(r.id) == request["requester_id"])
    )
    body: dict[str, Any] = {"body": "Pouvez-vous joindre l'ECG ?" if from_specialist else "Joint."}
    if from_specialist:
        body["request_info"] = True
    response = await client.post(
        f"/api/v1/requests/{request['id']}/messages", json=body, headers=ess.auth(user)
    )
    assert response.status_code == 201, response.text


async def patient_keys(ess: Ess) -> list[str | None]:
    async with ess.context.db.reading() as session:
        return list((await session.execute(select(Request.patient_key))).scalars())


_counter = iter(range(1, 10**6))


def _blank(column: str) -> Any:
    """A placeholder of the column's type for clinical fields (not read by indicators)."""
    kind = Request.__table__.c[column].type.python_type  # type: ignore[attr-defined]
    return b"-" if kind is bytes else "-"


async def insert(ess: Ess, *, submitted_at: datetime, **values: Any) -> uuid.UUID:
    """Insert one request row as it would stand after its life (no service involved),
    with the delays ``models.history.record`` derives."""
    request = Request(
        reference=f"TE-T-{next(_counter):06d}",
        status=values.pop("status", "closed"),
        priority=values.pop("priority", "standard"),
        specialty_code="cardiologie",
        subspecialty_code=values.pop("subspecialty_code", "rythmologie"),
        requester_id=values.pop("requester_id", ess.requesters[0].id),
        question=_blank("question"),
        patient=_blank("patient"),
        consent=True,
        submitted_at=submitted_at,
        patient_key=values.pop("patient_key", uuid.uuid4().hex * 2),
        **values,
    )
    measure(request)  # what models.history.record would have stored along its life
    async with ess.context.db.transaction() as session:
        session.add(request)
    return request.id
