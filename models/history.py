"""Writing a request's history: every change of state is an event row in the same transaction."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import note
from models.lifecycle import Status
from models.request import EventKind, Outcome, Request, RequestEvent
from models.sla_state import refresh


def record(
    session: AsyncSession,
    request: Request,
    kind: EventKind,
    *,
    at: datetime,
    actor_id: uuid.UUID | None = None,
    to_status: Status | None = None,
    detail: dict[str, Any] | None = None,
) -> RequestEvent:
    """Move ``request`` to ``to_status`` (if given) and append the event that says so."""
    from_status = Status(request.status) if request.status else None
    if to_status is not None:
        request.status = to_status
        refresh(request)
    measure(request)
    event = RequestEvent(
        request_id=request.id,
        at=at,
        kind=kind,
        actor_id=actor_id,
        from_status=from_status,
        to_status=to_status,
        assignee_id=request.assignee_id,
        detail=detail or {},
    )
    session.add(event)
    note(
        session,
        at=at,
        actor_id=actor_id,
        action=f"request.{kind.value}",
        request_id=request.id,
        detail={"from": from_status, "to": to_status} if to_status else {},
    )
    return event


def measure(request: Request) -> None:
    """Derive the delays the indicators count (``Request.response_hours`` …) from the
    request's own columns: a cancelled request counts in none, an appointment only
    after an answer that leads to a consultation."""
    hour = timedelta(hours=1)
    live = request.status != Status.CANCELLED
    answered = request.answered_at if live else None
    accepted = request.accepted_at if live else None
    appointment = request.appointment_at if answered is not None else None
    if request.outcome not in (Outcome.CONSULTATION, Outcome.ADVANCED_CONSULTATION):
        appointment = None
    due = request.answer_due_at if answered is not None else None
    request.response_hours = (answered - request.submitted_at) / hour if answered else None
    request.acknowledge_hours = (accepted - request.submitted_at) / hour if accepted else None
    request.appointment_days = (appointment - answered) / (24 * hour) if appointment else None
    request.answered_in_time = answered <= due if answered and due else None
