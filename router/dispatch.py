"""The transactional shell around the dispatcher's pure choice.

One dispatch = one transaction: lock the pool, read the candidates, decide, write
the assignment (or ``pending``) and the event that explains it.
"""

import uuid
from dataclasses import replace
from datetime import datetime

from sqlalchemy import and_, exists, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    OPEN_STATUSES,
    EventKind,
    Request,
    RequestDecline,
    Role,
    Status,
    User,
    UserSubspecialty,
)
from models.history import record
from router.decision import Candidate, Decision, decide, excluded_detail, explain


async def lock_pool(session: AsyncSession, specialty_code: str) -> None:
    """Serialise dispatches of one specialty (PostgreSQL; SQLite writers are already serial)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:pool))"),
            {"pool": f"dispatch:{specialty_code}"},
        )


async def load_candidates(session: AsyncSession, request: Request) -> list[Candidate]:
    """Read every specialist of the request's specialty with what the rules need."""
    open_count = (
        select(func.count())
        .where(Request.assignee_id == User.id, Request.status.in_(list(OPEN_STATUSES)))
        .scalar_subquery()
    )
    declined = exists().where(
        RequestDecline.request_id == request.id, RequestDecline.specialist_id == User.id
    )
    if request.subspecialty_code:
        covers = exists().where(
            and_(
                UserSubspecialty.user_id == User.id,
                UserSubspecialty.subspecialty_code == request.subspecialty_code,
            )
        )
    else:
        covers = True
    rows = await session.execute(
        select(
            User.id,
            User.name,
            User.active,
            func.coalesce(User.capacity, 0),
            User.last_assigned_at,
            covers if covers is not True else text("1"),
            open_count,
            declined,
        ).where(User.role == Role.SPECIALIST, User.specialty_code == request.specialty_code)
    )
    return [
        Candidate(
            id=row[0],
            name=row[1],
            active=row[2],
            capacity=row[3],
            last_assigned_at=row[4],
            in_pool=bool(row[5]),
            open_count=row[6],
            declined=bool(row[7]),
            is_requester=row[0] == request.requester_id,
        )
        for row in rows
    ]


async def dispatch(
    session: AsyncSession,
    request: Request,
    *,
    now: datetime,
    actor_id: uuid.UUID | None = None,
    fallback_to_specialty: bool = True,
) -> Decision:
    """Assign ``request`` to the next eligible specialist, or leave it ``pending``."""
    await lock_pool(session, request.specialty_code)
    candidates = await load_candidates(session, request)
    ladder: list[dict[str, object]] = []

    pool_label = (
        f"sur-spécialité {request.subspecialty_code}"
        if request.subspecialty_code
        else f"spécialité {request.specialty_code}"
    )
    decision = decide(candidates)
    ladder.append({"pool": pool_label, "eligible": decision.eligible_count})
    if decision.chosen is None and request.subspecialty_code and fallback_to_specialty:
        pool_label = f"repli sur la spécialité {request.specialty_code}"
        decision = decide(replace(c, in_pool=True) for c in candidates)
        ladder.append({"pool": pool_label, "eligible": decision.eligible_count})

    detail: dict[str, object] = {
        "reason": explain(decision, pool_label),
        "rule": "least_recently_assigned" if decision.chosen else "nobody_eligible",
        "eligible_count": decision.eligible_count,
        "ladder": ladder,
        "excluded": excluded_detail(decision.excluded),
    }
    if decision.chosen is None:
        request.assignee_id = None
        request.assigned_at = None
        record(
            session,
            request,
            EventKind.PENDING,
            at=now,
            actor_id=actor_id,
            to_status=Status.PENDING,
            detail=detail,
        )
    else:
        await assign(
            session, request, decision.chosen.id, now=now, actor_id=actor_id, detail=detail
        )
    return decision


async def assign(
    session: AsyncSession,
    request: Request,
    specialist_id: uuid.UUID,
    *,
    now: datetime,
    actor_id: uuid.UUID | None,
    detail: dict[str, object],
) -> None:
    """Give ``request`` to ``specialist_id`` and take their turn in the rotation."""
    request.assignee_id = specialist_id
    request.assigned_at = now
    request.accepted_at = None
    record(
        session,
        request,
        EventKind.ASSIGNED,
        at=now,
        actor_id=actor_id,
        to_status=Status.ASSIGNED,
        detail={"assignee_id": str(specialist_id), **detail},
    )
    await session.execute(update(User).where(User.id == specialist_id).values(last_assigned_at=now))
