"""Writing a request's history: every change of state is an event row in the same transaction."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import note
from models.lifecycle import Status
from models.request import EventKind, Request, RequestEvent
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
