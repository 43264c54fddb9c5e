"""The transactional shell around the dispatcher's choice.

One dispatch happens inside the caller's transaction: lock the pool, evaluate the
rules, write the assignment (or ``pending``), the event that explains it and the
notification, all or nothing.

Lock order, to rule out deadlocks between processes on PostgreSQL: a transaction
that will dispatch takes the pool's advisory lock *before* it writes any request
row, and the pending backlog is read with ``SKIP LOCKED`` so it never waits on a row.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Uuid, bindparam, case, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    EventKind,
    NotificationKind,
    Priority,
    Request,
    Specialty,
    Status,
    Subspecialty,
    User,
    add_to_coordinators_digest,
    enqueue,
    notify_coordinators,
)
from models.history import record
from models.storage import Database
from router.decision import (
    Alarm,
    Decision,
    Rule,
    excluded_detail,
    explain,
    explain_closed,
    local_label,
    pending_alarm,
)
from router.eligibility import BusinessHours, Moment, decide_in_database
from sla.deadlines import SlaPolicy, start_acknowledge_clock


@dataclass(frozen=True)
class DispatchPolicy:
    """What the dispatcher needs from the settings."""

    calendar: BusinessHours
    zone: ZoneInfo
    sla: SlaPolicy
    fallback_to_specialty: bool = True
    # How long the coordinators' digest gathers alarms before it is sent.
    alarm_delay: timedelta = timedelta(minutes=5)


# session.info key: (the transaction, the pools it has locked).
_LOCKED_POOLS = "locked_pools"


async def lock_pool(session: AsyncSession, specialty_code: str) -> None:
    """Serialise the dispatches of one specialty (PostgreSQL; SQLite writers are serial).

    The lock lasts until the transaction ends, so only the first call of a
    transaction goes to the database: the services lock before they change a
    pool, then call ``dispatch`` or ``drain_pending``, which lock again.
    """
    if session.bind.dialect.name != "postgresql":
        return
    held = session.info.get(_LOCKED_POOLS)
    current = session.sync_session.get_transaction()
    if (
        current is not None
        and held is not None
        and held[0] is current
        and specialty_code in held[1]
    ):
        return
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:pool))"),
        {"pool": f"dispatch:{specialty_code}"},
    )
    current = session.sync_session.get_transaction()
    if held is None or held[0] is not current:
        held = (current, set())
        session.info[_LOCKED_POOLS] = held
    held[1].add(specialty_code)


@dataclass(frozen=True, slots=True)
class Judgement:
    """The rules applied to a request's pool at one moment, with the fallback."""

    decision: Decision
    pool_label: str
    ladder: list[dict[str, object]]


async def judge(
    session: AsyncSession, request: Request, moment: Moment, policy: DispatchPolicy
) -> Judgement:
    """Apply the rules to the sub-specialty's pool, then (if nobody) the specialty's.

    The pools are named as the coordinator reads them (« sur-spécialité Rythmologie »),
    with their names at the time of the decision.
    """
    use_sub = request.subspecialty_code is not None
    specialty = await session.get(Specialty, request.specialty_code)
    specialty_name = specialty.name if specialty else request.specialty_code
    if use_sub:
        sub = await session.get(Subspecialty, (request.specialty_code, request.subspecialty_code))
        pool_label = f"sur-spécialité {sub.name if sub else request.subspecialty_code}"
    else:
        pool_label = f"spécialité {specialty_name}"
    decision = await decide_in_database(session, request, moment, use_subspecialty=use_sub)
    ladder: list[dict[str, object]] = [{"pool": pool_label, "eligible": decision.eligible_count}]
    if decision.chosen is None and use_sub and policy.fallback_to_specialty:
        pool_label = f"repli sur la spécialité {specialty_name}"
        decision = await decide_in_database(session, request, moment, use_subspecialty=False)
        ladder.append({"pool": pool_label, "eligible": decision.eligible_count})
    return Judgement(decision, pool_label, ladder)


async def dispatch(
    session: AsyncSession,
    request: Request,
    *,
    now: datetime,
    policy: DispatchPolicy,
    actor_id: uuid.UUID | None = None,
    retry: bool = False,
) -> Decision:
    """Assign ``request`` to the next eligible specialist, or leave it ``pending``.

    While the calendar is closed and nobody is on call, the rules are applied once
    more at the next opening: if someone will be eligible then, the request waits
    for it quietly (``waiting_until``) and the first tick from then assigns it; the
    coordinators are alarmed as ``pending_alarm`` says. ``retry`` marks a new
    attempt for a request already waiting: finding nobody again is not news, so it
    writes an event only if the waiting changed and alarms only if a promised
    opening will find nobody.
    """
    await lock_pool(session, request.specialty_code)
    moment = Moment.at(now, policy.calendar, policy.zone)
    current = await judge(session, request, moment, policy)
    decision = current.decision
    detail: dict[str, object] = {
        "reason": explain(decision, current.pool_label),
        "rule": Rule.ROTATION if decision.chosen else Rule.NOBODY,
        "eligible_count": decision.eligible_count,
        "ladder": current.ladder,
        "excluded": excluded_detail(decision),
        "excluded_counts": {k.value: v for k, v in decision.excluded_counts.items()},
    }
    if decision.chosen is not None:
        await assign(
            session,
            request,
            decision.chosen.id,
            now=now,
            policy=policy,
            actor_id=actor_id,
            detail=detail,
        )
        return decision

    closed = not moment.business_time
    waiting_until: datetime | None = None
    if closed:
        opening = policy.calendar.next_opening(now)
        then = Moment.at(opening, policy.calendar, policy.zone)
        later = await judge(session, request, then, policy)
        label = local_label(opening, policy.zone)
        if later.decision.chosen is not None:
            waiting_until = opening
            detail["rule"] = Rule.WAITING
            detail["waiting_until"] = opening.isoformat()
        detail["reason"] = explain_closed(later.decision, current.pool_label, label)
        detail["opening"] = label
        detail["at_opening"] = {
            "eligible_count": later.decision.eligible_count,
            "ladder": later.ladder,
        }
    was_waiting = request.waiting_until
    if retry and was_waiting == waiting_until:
        return decision
    request.waiting_until = waiting_until
    request.assignee_id = None
    request.assigned_at = None
    request.acknowledge_due_at = request.acknowledge_warn_at = None
    record(
        session,
        request,
        EventKind.PENDING,
        at=now,
        actor_id=actor_id,
        to_status=Status.PENDING,
        detail=detail,
    )
    alarm = pending_alarm(
        closed=closed,
        waiting=waiting_until is not None,
        urgent=request.priority == Priority.URGENT,
        was_waiting=was_waiting is not None,
        retry=retry,
    )
    if alarm == Alarm.NOW:
        await notify_coordinators(
            session,
            NotificationKind.PENDING,
            request_id=request.id,
            now=now,
            params={"reference": request.reference},
        )
    elif alarm != Alarm.NONE:
        send_at = (
            policy.calendar.next_opening(now)
            if alarm == Alarm.DIGEST_AT_OPENING
            else now + policy.alarm_delay
        )
        await add_to_coordinators_digest(
            session,
            item={
                "reference": request.reference,
                "request_id": str(request.id),
                "priority": request.priority,
                "waiting_until": detail.get("waiting_until"),
            },
            now=now,
            not_before=send_at,
        )
    return decision


# The assignee goes to the back of the rotation: the pool's highest turn + 1.
TAKE_TURN = (
    update(User)
    .where(User.id == bindparam("specialist", type_=Uuid()))
    .values(
        rotation=select(func.coalesce(func.max(User.rotation), 0) + 1)
        .where(User.specialty_code == bindparam("specialty"))
        .scalar_subquery(),
    )
)


async def assign(
    session: AsyncSession,
    request: Request,
    specialist_id: uuid.UUID,
    *,
    now: datetime,
    policy: DispatchPolicy,
    actor_id: uuid.UUID | None,
    detail: dict[str, object],
) -> None:
    """Give ``request`` to ``specialist_id``, take their turn in the rotation, tell them."""
    request.assignee_id = specialist_id
    request.assigned_at = now
    request.waiting_until = None
    request.accepted_at = None
    start_acknowledge_clock(request, now, policy.sla)
    record(
        session,
        request,
        EventKind.ASSIGNED,
        at=now,
        actor_id=actor_id,
        to_status=Status.ASSIGNED,
        detail={"assignee_id": str(specialist_id), **detail},
    )
    # The request row is written by the ORM with its version check: if another
    # transaction changed it since it was read, this one fails instead of
    # assigning twice (the "conditional update" claim).
    # Through the connection (Core): no ORM objects to synchronise with this update.
    connection = await session.connection()
    await connection.execute(
        TAKE_TURN,
        {"specialist": specialist_id, "specialty": request.specialty_code},
    )
    enqueue(
        session,
        NotificationKind.ASSIGNED,
        recipient_id=specialist_id,
        request_id=request.id,
        now=now,
        params={"reference": request.reference, "priority": request.priority},
    )


async def drain_pending(
    session: AsyncSession,
    specialty_code: str,
    *,
    now: datetime,
    policy: DispatchPolicy,
    limit: int = 100,
) -> int:
    """Dispatch again the specialty's pending requests, most urgent and oldest first."""
    await lock_pool(session, specialty_code)
    query = (
        select(Request)
        .where(Request.status == Status.PENDING, Request.specialty_code == specialty_code)
        .order_by(
            case((Request.priority == Priority.URGENT, 0), else_=1),
            Request.submitted_at,
            Request.id,
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    assigned = 0
    for request in (await session.execute(query)).scalars().all():
        decision = await dispatch(session, request, now=now, policy=policy, retry=True)
        if decision.chosen is not None:
            assigned += 1
    await session.flush()
    return assigned


async def sweep_pending(db: Database, *, now: datetime, policy: DispatchPolicy) -> int:
    """Retry every specialty's backlog, one transaction per specialty (periodic job)."""
    async with db.reading() as session:
        specialties = (
            (
                await session.execute(
                    select(Request.specialty_code)
                    .where(Request.status == Status.PENDING)
                    .distinct()
                )
            )
            .scalars()
            .all()
        )
    assigned = 0
    for code in specialties:
        async with db.transaction() as session:
            assigned += await drain_pending(session, code, now=now, policy=policy)
    return assigned
