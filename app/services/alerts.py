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
    requests = (
        (
            await session.execute(
                select(Request)
                .where(Request.status.in_(AWAITING_ANSWER), Request.sla_state.in_(states))
                .order_by(Request.answer_due_at.is_(None), Request.answer_due_at, Request.reference)
            )
        )
        .scalars()
        .all()
    )
    latest: dict[uuid.UUID, RequestEvent] = {}
    if requests:
        events = await session.execute(
            select(RequestEvent)
            .where(
                RequestEvent.request_id.in_([r.id for r in requests]),
                RequestEvent.kind.in_([EventKind.SLA_WARNING, EventKind.SLA_BREACH]),
            )
            .order_by(RequestEvent.seq)
        )
        for event in events.scalars():
            latest[event.request_id] = event
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
            deadline=latest[r.id].sla_deadline if r.id in latest else None,
            level=latest[r.id].sla_level if r.id in latest else None,
            fired_at=latest[r.id].at if r.id in latest else None,
        )
        for r in requests
    ]
