"""Acting on due deadlines: warnings, escalation, re-dispatch, each exactly once.

The database is the source of truth: a scan of ``sla_next_at <= now`` (one index)
finds the requests with something due, and each firing is inserted as an event
under a UNIQUE constraint (request, deadline, level, cycle) with ``ON CONFLICT DO
NOTHING``: if another process, a retry or a restart already fired it, nothing is
inserted and nothing is sent.
"""

import logging
import uuid
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    EventKind,
    NotificationKind,
    Request,
    RequestDecline,
    RequestEvent,
    enqueue,
    notify_coordinators,
)
from models.history import record
from models.request import DECLINE_LABELS, NO_ACKNOWLEDGEMENT
from models.storage import Database
from router import DispatchPolicy, dispatch, lock_pool
from sla.deadlines import BREACHED, WARNED, Deadline, Level, due, refresh

logger = logging.getLogger("ess_router.sla")

FIRINGS = Counter(
    "ess_sla_firings",
    "SLA firings committed: warnings and breaches, by deadline.",
    ["deadline", "level"],
)

LABELS = {
    (Deadline.ACKNOWLEDGE, Level.WARNING): "délai d'accusé de réception bientôt dépassé",
    (Deadline.ACKNOWLEDGE, Level.BREACH): "délai d'accusé de réception dépassé",
    (Deadline.ANSWER, Level.WARNING): "délai de réponse bientôt dépassé",
    (Deadline.ANSWER, Level.BREACH): "délai de réponse dépassé",
}


async def insert_firing(
    session: AsyncSession,
    request: Request,
    deadline: Deadline,
    level: Level,
    *,
    now: datetime,
    detail: dict[str, Any],
) -> bool:
    """Insert the firing's event unless it exists; return whether this call fired it."""
    cycle = request.assignment_cycle if deadline == Deadline.ACKNOWLEDGE else 0
    values = {
        "id": uuid.uuid4(),
        "request_id": request.id,
        "at": now,
        "kind": EventKind.SLA_BREACH if level == Level.BREACH else EventKind.SLA_WARNING,
        "from_status": request.status,
        "assignee_id": request.assignee_id,
        "detail": detail,
        "sla_deadline": deadline.value,
        "sla_level": level.value,
        "sla_cycle": cycle,
    }
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(RequestEvent)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["request_id", "sla_deadline", "sla_level", "sla_cycle"]
        )
        .returning(RequestEvent.seq)
    )
    return (await session.execute(statement)).first() is not None


async def fire(
    session: AsyncSession,
    request: Request,
    deadline: Deadline,
    level: Level,
    *,
    now: datetime,
    policy: DispatchPolicy,
) -> bool:
    due_at = (
        request.acknowledge_due_at if deadline == Deadline.ACKNOWLEDGE else request.answer_due_at
    )
    detail = {
        "deadline": deadline.value,
        "level": level.value,
        "due_at": due_at.isoformat() if due_at else None,
        "label": LABELS[(deadline, level)],
    }
    fired = await insert_firing(session, request, deadline, level, now=now, detail=detail)
    # Whether or not this process fired it, the request must not be scanned for it again.
    if deadline == Deadline.ACKNOWLEDGE:
        request.acknowledge_level = BREACHED if level == Level.BREACH else WARNED
    else:
        request.answer_level = BREACHED if level == Level.BREACH else WARNED
    if not fired:
        return False
    params = {
        "reference": request.reference,
        "deadline": deadline.value,
        "due_at": detail["due_at"],
    }
    if level == Level.WARNING:
        if request.assignee_id is not None:
            enqueue(
                session,
                NotificationKind.SLA_WARNING,
                recipient_id=request.assignee_id,
                request_id=request.id,
                now=now,
                params=params,
            )
    elif deadline == Deadline.ANSWER:
        await notify_coordinators(
            session, NotificationKind.SLA_BREACH, request_id=request.id, now=now, params=params
        )
    else:
        await escalate_acknowledgement(session, request, now=now, policy=policy, params=params)
    return True


async def escalate_acknowledgement(
    session: AsyncSession,
    request: Request,
    *,
    now: datetime,
    policy: DispatchPolicy,
    params: dict[str, Any],
) -> None:
    """Re-dispatch a request nobody acknowledged, as if its assignee had declined it."""
    silent = request.assignee_id
    assert silent is not None
    session.add(
        RequestDecline(
            request_id=request.id, specialist_id=silent, reason=NO_ACKNOWLEDGEMENT, declined_at=now
        )
    )
    record(
        session,
        request,
        EventKind.DECLINED,
        at=now,
        detail={
            "reason": NO_ACKNOWLEDGEMENT,
            "label": DECLINE_LABELS[NO_ACKNOWLEDGEMENT],
            "automatic": True,
            "specialist_id": str(silent),
        },
    )
    await session.flush()
    await notify_coordinators(
        session, NotificationKind.ACK_MISSED, request_id=request.id, now=now, params=params
    )
    await dispatch(session, request, now=now, policy=policy)


async def fire_due(db: Database, *, now: datetime, policy: DispatchPolicy, batch: int = 500) -> int:
    """Fire everything due at ``now``; one transaction per request, failures isolated."""
    async with db.reading() as session:
        rows = (
            await session.execute(
                select(Request.id, Request.specialty_code)
                .where(Request.sla_next_at <= now)
                .order_by(Request.sla_next_at)
                .limit(batch)
            )
        ).all()
    fired = 0
    for request_id, specialty_code in rows:
        firings: list[tuple[Deadline, Level]] = []
        try:
            async with db.transaction() as session:
                # Pool first, then the row: the same lock order as every dispatch.
                await lock_pool(session, specialty_code)
                request = (
                    await session.execute(
                        select(Request)
                        .where(Request.id == request_id, Request.sla_next_at <= now)
                        .with_for_update(skip_locked=True)
                    )
                ).scalar_one_or_none()
                if request is None:
                    continue  # handled meanwhile, or being handled by another process
                for deadline, level in due(request, now):
                    if await fire(session, request, deadline, level, now=now, policy=policy):
                        firings.append((deadline, level))
                refresh(request)
            # Counted once committed: a rolled-back firing did not happen.
            fired += len(firings)
            for deadline, level in firings:
                FIRINGS.labels(deadline=deadline.value, level=level.value).inc()
        except Exception:
            logger.exception("SLA firing failed for one request; the next tick retries it")
    return fired
