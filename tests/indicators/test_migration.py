"""Migration 0002 fills the stored delays of the rows already there as ``record`` would."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from migrations import downgrade_database, upgrade_database
from models import Request
from tests.conftest import Ess
from tests.factories import insert, paris

DELAYS = ("response_hours", "acknowledge_hours", "appointment_days", "answered_in_time")
AT = paris(2026, 3, 10, 9, 0)


async def stored(ess: Ess) -> dict[str, tuple]:
    async with ess.context.db.reading() as session:
        rows = await session.execute(
            select(Request.id, *(getattr(Request, name) for name in DELAYS))
        )
        return {request_id: tuple(values) for request_id, *values in rows}


async def test_upgrade_fills_existing_rows(ess: Ess, database_url: str) -> None:
    hour = timedelta(hours=1)
    rows = [
        # answered in time, a consultation with its appointment 10 days later
        dict(
            status="closed",
            accepted_at=AT + 0.25 * hour,
            answered_at=AT + 6 * hour,
            answer_due_at=AT + 24 * hour,
            outcome="consultation",
            appointment_at=AT + 6 * hour + timedelta(days=10),
        ),
        # answered late (the deadline itself is in time: <=), advice with a date: no delay
        dict(
            status="answered",
            accepted_at=AT + hour,
            answered_at=AT + 30 * hour,
            answer_due_at=AT + 24 * hour,
            outcome="advice",
            appointment_at=AT + 40 * hour,
        ),
        dict(
            status="answered",
            accepted_at=AT,
            answered_at=AT + 24 * hour,
            answer_due_at=AT + 24 * hour,
            outcome="advanced_consultation",
            appointment_at=AT + 36 * hour,
        ),
        # answered without a deadline
        dict(status="answered", accepted_at=AT, answered_at=AT + 2 * hour, outcome="advice"),
        # taken on, then cancelled: in no delay
        dict(status="cancelled", accepted_at=AT + hour, cancelled_at=AT + 2 * hour),
        dict(status="awaiting_info", accepted_at=AT + 1.5 * hour, answer_due_at=AT + 24 * hour),
        dict(status="assigned"),
        dict(status="pending"),
    ]
    ids = [await insert(ess, submitted_at=AT, **values) for values in rows]
    expected = await stored(ess)
    assert expected[ids[0]] == (6.0, 0.25, 10.0, True)

    await ess.context.db.dispose()
    await downgrade_database(database_url, "0001")  # undoes 0003, then 0002
    await upgrade_database(database_url)

    found = await stored(ess)
    assert found.keys() == expected.keys()
    for request_id, values in expected.items():
        # SQLite's julianday() counts milliseconds: the same delays to 1e-6 hour.
        assert found[request_id] == pytest.approx(values, abs=1e-6), request_id
