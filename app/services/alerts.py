"""Current SLA alerts: requests awaiting an answer whose deadline is near or passed."""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from models import AWAITING_ANSWER, EventKind, Priority, Request, RequestEvent, SlaState, Status
from models.errors import InvalidInputError


class AlertRead(SQLModel):
    request_id: uuid.UUID
    reference: str
    status: Status
    priority: Priority
    sla_state: SlaState
    assignee_id: uuid.UUID | None
    acknowledge_due_at: datetime | None
    answer_due_at: datetime | None
    deadline: str | None
    level: str | None
    fired_at: datetime | None


async def current_alerts(session: AsyncSession, state: SlaState | None) -> list[AlertRead]:
    if state == SlaState.OK:
        raise InvalidInputError("Le filtre « state » vaut warning ou breached.", field="state")
    states = [state] if state else [SlaState.WARNING, SlaState.BREACHED]
    # The columns shown, not the rows: no clinical field is read, nor decoded.
    requests = (
        await session.execute(
            select(
                Request.id,
                Request.reference,
                Request.status,
                Request.priority,
                Request.sla_state,
                Request.assignee_id,
                Request.acknowledge_due_at,
                Request.answer_due_at,
            )
            .where(Request.status.in_(AWAITING_ANSWER), Request.sla_state.in_(states))
            .order_by(Request.answer_due_at.is_(None), Request.answer_due_at, Request.reference)
        )
    ).all()
    latest: dict[uuid.UUID, tuple[str | None, str | None, datetime]] = {}
    if requests:
        events = await session.execute(
            select(
                RequestEvent.request_id,
                RequestEvent.sla_deadline,
                RequestEvent.sla_level,
                RequestEvent.at,
            )
            .where(
                RequestEvent.request_id.in_([r.id for r in requests]),
                RequestEvent.kind.in_([EventKind.SLA_WARNING, EventKind.SLA_BREACH]),
            )
            .order_by(RequestEvent.seq)
        )
        for request_id, deadline, level, at in events:
            latest[request_id] = (deadline, level, at)
    return [
        AlertRead(
            request_id=r.id,
            reference=r.reference,
            status=r.status,
            priority=r.priority,
            sla_state=r.sla_state,
            assignee_id=r.assignee_id,
            acknowledge_due_at=r.acknowledge_due_at,
            answer_due_at=r.answer_due_at,
            deadline=latest[r.id][0] if r.id in latest else None,
            level=latest[r.id][1] if r.id in latest else None,
            fired_at=latest[r.id][2] if r.id in latest else None,
        )
        for r in requests
    ]
