"""Migration 0006: old free-text decline reasons become categories, and their text is gone."""

import json
import uuid

import sqlalchemy as sa

from migrations import downgrade_database, upgrade_database
from models import RequestDecline, RequestEvent
from tests.api.test_bad_input import snapshot
from tests.conftest import Ess, request_payload

FREE_TEXT = "Patiente de ma belle-sœur, suivie pour une cardiomyopathie dilatée"
OLD_AUTOMATIC = "pas d'accusé de réception dans le délai"

old_declines = sa.table(
    "request_decline",
    sa.column("request_id", sa.Uuid()),
    sa.column("specialist_id", sa.Uuid()),
    sa.column("reason", sa.Text()),
    sa.column("declined_at", RequestDecline.__table__.c.declined_at.type),
)


async def test_upgrade_turns_free_text_into_categories(client, ess: Ess, database_url: str) -> None:
    gp = ess.requesters[0]
    request = (
        await client.post("/api/v1/requests", json=request_payload(), headers=ess.auth(gp))
    ).json()
    rid = uuid.UUID(request["id"])
    by_id = {s.id: s for s in ess.specialists}
    decliner = by_id[uuid.UUID(request["assignee_id"])]
    response = await client.post(
        f"/api/v1/requests/{rid}/decline",
        json={"reason": "other"},
        headers=ess.auth(decliner),
    )
    assert response.status_code == 200, response.text
    holder = by_id[uuid.UUID(response.json()["assignee_id"])]
    silent = next(s for s in ess.specialists if s not in (decliner, holder))

    # Back to the schema before 0006, with what the service wrote then: a specialist's
    # free text, and the scheduler's automatic decline of a silent assignee.
    await ess.context.db.dispose()
    await downgrade_database(database_url, "0005")
    async with ess.context.db.transaction() as session:
        await session.execute(sa.update(old_declines).values(reason=FREE_TEXT))
        await session.execute(
            sa.update(RequestEvent)
            .where(RequestEvent.kind == "declined")
            .values(detail={"reason": FREE_TEXT})
        )
        at = ess.context.clock.now()
        await session.execute(
            sa.insert(old_declines).values(
                request_id=rid, specialist_id=silent.id, reason=OLD_AUTOMATIC, declined_at=at
            )
        )
        session.add(
            RequestEvent(
                request_id=rid,
                at=at,
                kind="declined",
                detail={
                    "reason": OLD_AUTOMATIC,
                    "automatic": True,
                    "specialist_id": str(silent.id),
                },
            )
        )
    assert FREE_TEXT in json.dumps(await snapshot(ess), ensure_ascii=False)

    await ess.context.db.dispose()
    await upgrade_database(database_url)

    assert "belle-sœur" not in json.dumps(await snapshot(ess), ensure_ascii=False)
    async with ess.context.db.reading() as session:
        rows = (
            await session.execute(
                sa.text("SELECT specialist_id, reason, id, comment FROM request_decline")
            )
        ).all()
    reasons = {str(uuid.UUID(str(r[0]))): r[1] for r in rows}
    assert reasons == {str(decliner.id): "other", str(silent.id): "no_acknowledgement"}
    assert len({r[2] for r in rows}) == 2 and all(r[2] is not None for r in rows)
    assert all(r[3] is None for r in rows)

    events = (
        await client.get(f"/api/v1/requests/{rid}/events", headers=ess.auth(ess.coordinator))
    ).json()
    assert [e["detail"] for e in events if e["kind"] == "declined"] == [
        {"reason": "other", "label": "autre motif"},
        {
            "reason": "no_acknowledgement",
            "label": "pas d'accusé de réception dans le délai",
            "automatic": True,
            "specialist_id": str(silent.id),
        },
    ]
    # The migrated rows live beside new ones: the current assignee declines with a comment.
    response = await client.post(
        f"/api/v1/requests/{rid}/decline",
        json={"reason": "unavailable", "comment": "Voir avec le rythmologue."},
        headers=ess.auth(holder),
    )
    assert response.status_code == 200, response.text
