"""The téléexpertise flow: submit, accept, decline, answer, close, cancel, assign."""

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, func, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    Action,
    AnswerCreate,
    CloseCreate,
    DeclineCreate,
    EventKind,
    NotificationKind,
    Outcome,
    Request,
    RequestCreate,
    RequestDecline,
    Role,
    Specialty,
    Status,
    Subspecialty,
    User,
    check_transition,
    enqueue,
)
from models.errors import ConflictError, InvalidInputError, NotFoundError
from models.history import record
from models.request import DECLINE_LABELS
from router import DispatchPolicy, assign, dispatch, drain_pending, lock_pool
from security.vault import Vault
from sla.deadlines import resume_answer_clock, start_answer_clock

NOT_FOUND = "Demande introuvable."


def visible_to(viewer: User) -> ColumnElement[bool]:
    """The one rule of who sees which request: own, assigned, or all for the coordinator."""
    if viewer.role == Role.COORDINATOR:
        return true()
    if viewer.role == Role.SPECIALIST:
        return Request.assignee_id == viewer.id
    return Request.requester_id == viewer.id


async def get_visible(session: AsyncSession, viewer: User, request_id: uuid.UUID) -> Request:
    request = (
        await session.execute(select(Request).where(Request.id == request_id, visible_to(viewer)))
    ).scalar_one_or_none()
    if request is None:
        raise NotFoundError(NOT_FOUND)
    return request


async def list_visible(
    session: AsyncSession, viewer: User, *, status: Status | None, limit: int, offset: int
) -> tuple[list[Request], int]:
    condition = visible_to(viewer)
    if status is not None:
        condition = condition & (Request.status == status)
    total = (
        await session.execute(select(func.count()).select_from(Request).where(condition))
    ).scalar_one()
    items = (
        await session.execute(
            select(Request)
            .where(condition)
            .order_by(Request.submitted_at.desc(), Request.reference.desc())
            .limit(limit)
            .offset(offset)
        )
    ).scalars()
    return list(items), total


async def next_reference(session: AsyncSession, year: int) -> str:
    """Hand out the next ``TE-<year>-NNNNNN`` (the upsert's row lock serialises submitters)."""
    number = (
        await session.execute(
            text(
                "INSERT INTO reference_counter (year, last) VALUES (:y, 1) "
                "ON CONFLICT (year) DO UPDATE SET last = reference_counter.last + 1 "
                "RETURNING last"
            ),
            {"y": year},
        )
    ).scalar_one()
    return f"TE-{year}-{number:06d}"


# The specialty and, when asked, its sub-specialty (NULL when unknown), with their names
# and retirement dates; built once.
FIND_SPECIALTY = (
    select(
        Specialty.code,
        Subspecialty.code,
        Specialty.name,
        Specialty.retired_at,
        Subspecialty.name,
        Subspecialty.retired_at,
    )
    .outerjoin(
        Subspecialty,
        (Subspecialty.specialty_code == Specialty.code)
        & (Subspecialty.code == bindparam("subspecialty")),
    )
    .where(Specialty.code == bindparam("specialty"))
)


async def submit(
    session: AsyncSession,
    requester: User,
    data: RequestCreate,
    *,
    now: datetime,
    policy: DispatchPolicy,
    vault: Vault,
) -> Request:
    """Record a new request and dispatch it at once."""
    found = (
        await session.execute(
            FIND_SPECIALTY, {"specialty": data.specialty, "subspecialty": data.subspecialty}
        )
    ).first()
    if found is None:
        raise InvalidInputError(f"Spécialité inconnue : « {data.specialty} ».", field="specialty")
    if data.subspecialty is not None and found[1] is None:
        raise InvalidInputError(
            f"Sur-spécialité inconnue pour « {data.specialty} » : « {data.subspecialty} ».",
            field="subspecialty",
        )
    # Retired: no new request; those already made keep it and carry on.
    if found[3] is not None:
        raise InvalidInputError(
            f"La spécialité « {found[2]} » n'est plus proposée par l'ESS : "
            "choisissez-en une autre.",
            field="specialty",
        )
    if found[5] is not None:
        raise InvalidInputError(
            f"La sur-spécialité « {found[4]} » n'est plus proposée par l'ESS : choisissez-en "
            "une autre, ou aucune.",
            field="subspecialty",
        )
    request_id = uuid.uuid4()
    patient = data.patient
    request = Request(
        id=request_id,
        status=Status.PENDING,
        priority=data.priority,
        specialty_code=data.specialty,
        subspecialty_code=data.subspecialty,
        requester_id=requester.id,
        question=vault.encrypt("request", request_id, "question", data.question),
        patient=vault.encrypt("request", request_id, "patient", patient.model_dump_json()),
        patient_key=vault.patient_key(
            ins=patient.ins,
            last_name=patient.last_name,
            first_name=patient.first_name,
            birth_date=patient.birth_date.isoformat(),
        ),
        consent=data.consent,
        submitted_at=now,
    )
    # From here on, submissions of one specialty take turns; what comes before (the
    # checks, the encryption) runs side by side. The specialty's pool lock first
    # (PostgreSQL), then the reference counter's row: the lock queues submitters in
    # arrival order, so the counter row, which every specialty shares, is only ever
    # held for one dispatch and never by a submission still waiting for its turn.
    # (Waiters on a row are all woken at once and race: with 16 concurrent submitters
    # that spread latencies from 15 to 600 ms, against 115 to 145 ms in turn.)
    await lock_pool(session, data.specialty)
    request.reference = await next_reference(session, now.astimezone(policy.zone).year)
    # Nothing is flushed until the dispatcher has decided: the row is then inserted
    # once, already assigned (one INSERT instead of an INSERT and two UPDATEs), and
    # its events and notification follow in one more flush.
    with session.no_autoflush:
        session.add(request)
        start_answer_clock(request, now, policy.sla)
        record(
            session,
            request,
            EventKind.SUBMITTED,
            at=now,
            actor_id=requester.id,
            detail={"priority": request.priority},
        )
        await dispatch(session, request, now=now, policy=policy)
    # The request first: the events and the outbox row refer to it, and the unit of
    # work knows no relationship that would order them after it.
    dependents = [row for row in session.new if row is not request]
    for row in dependents:
        session.expunge(row)
    await session.flush()
    session.add_all(dependents)
    await session.flush()
    return request


async def accept(
    session: AsyncSession, viewer: User, request_id: uuid.UUID, *, now: datetime
) -> Request:
    request = await get_visible(session, viewer, request_id)
    check_transition(Action.ACCEPT, request.status)
    request.accepted_at = now
    record(
        session, request, EventKind.ACCEPTED, at=now, actor_id=viewer.id, to_status=Status.ACCEPTED
    )
    await session.flush()
    return request


async def decline(
    session: AsyncSession,
    viewer: User,
    request_id: uuid.UUID,
    data: DeclineCreate,
    *,
    now: datetime,
    policy: DispatchPolicy,
    vault: Vault,
) -> Request:
    """Hand the request back; it goes to the next eligible specialist, never back here.

    The category goes into the history for everyone who follows the flow; the comment
    is clinical content, encrypted, for the requester and the specialists who follow.
    """
    already = await session.get(RequestDecline, (request_id, viewer.id))
    if already is not None:
        raise ConflictError("Vous avez déjà décliné cette demande.")
    request = await get_visible(session, viewer, request_id)
    check_transition(Action.DECLINE, request.status)
    await lock_pool(session, request.specialty_code)
    decline_id = uuid.uuid4()
    session.add(
        RequestDecline(
            id=decline_id,
            request_id=request.id,
            specialist_id=viewer.id,
            reason=data.reason,
            comment=vault.encrypt_optional("request_decline", decline_id, "comment", data.comment),
            declined_at=now,
        )
    )
    record(
        session,
        request,
        EventKind.DECLINED,
        at=now,
        actor_id=viewer.id,
        detail={"reason": data.reason, "label": DECLINE_LABELS[data.reason]},
    )
    await session.flush()
    await dispatch(session, request, now=now, policy=policy)
    # The decliner's capacity is free again: maybe for a request that was waiting.
    await drain_pending(session, request.specialty_code, now=now, policy=policy)
    return request


async def answer(
    session: AsyncSession,
    viewer: User,
    request_id: uuid.UUID,
    data: AnswerCreate,
    *,
    now: datetime,
    policy: DispatchPolicy,
    vault: Vault,
) -> Request:
    request = await get_visible(session, viewer, request_id)
    check_transition(Action.ANSWER, request.status)
    if data.appointment_at is not None and data.outcome in (Outcome.ADVICE,):
        raise InvalidInputError(
            "Une date de rendez-vous n'a de sens que si l'avis conduit à une consultation "
            "ou une orientation.",
            field="appointment_at",
        )
    await lock_pool(session, request.specialty_code)
    if request.status == Status.AWAITING_INFO:
        # Answering without waiting for the reply: the deadline is what was left of it.
        resume_answer_clock(request, now, policy.sla)
    request.answer = vault.encrypt("request", request.id, "answer", data.answer)
    request.outcome = data.outcome
    request.appointment_at = data.appointment_at
    request.answered_at = now
    if request.accepted_at is None:
        request.accepted_at = now
    record(
        session,
        request,
        EventKind.ANSWERED,
        at=now,
        actor_id=viewer.id,
        to_status=Status.ANSWERED,
        detail={"outcome": data.outcome},
    )
    enqueue(
        session,
        NotificationKind.ANSWERED,
        recipient_id=request.requester_id,
        request_id=request.id,
        now=now,
        params={"reference": request.reference},
    )
    await session.flush()
    # The answer frees a place in the specialist's queue.
    await drain_pending(session, request.specialty_code, now=now, policy=policy)
    return request


async def close(
    session: AsyncSession,
    viewer: User,
    request_id: uuid.UUID,
    data: CloseCreate,
    *,
    now: datetime,
    vault: Vault,
) -> Request:
    request = await get_visible(session, viewer, request_id)
    check_transition(Action.CLOSE, request.status)
    request.usefulness = data.usefulness
    request.referral_avoided = data.referral_avoided
    request.close_comment = vault.encrypt_optional(
        "request", request.id, "close_comment", data.comment
    )
    request.closed_at = now
    record(
        session,
        request,
        EventKind.CLOSED,
        at=now,
        actor_id=viewer.id,
        to_status=Status.CLOSED,
        detail={"usefulness": data.usefulness, "referral_avoided": data.referral_avoided},
    )
    await session.flush()
    return request


async def cancel(
    session: AsyncSession,
    viewer: User,
    request_id: uuid.UUID,
    *,
    now: datetime,
    policy: DispatchPolicy,
) -> Request:
    request = await get_visible(session, viewer, request_id)
    check_transition(Action.CANCEL, request.status)
    await lock_pool(session, request.specialty_code)
    held_by = request.assignee_id
    request.cancelled_at = now
    record(
        session,
        request,
        EventKind.CANCELLED,
        at=now,
        actor_id=viewer.id,
        to_status=Status.CANCELLED,
    )
    await session.flush()
    if held_by is not None:
        await drain_pending(session, request.specialty_code, now=now, policy=policy)
    return request


async def assign_manually(
    session: AsyncSession,
    coordinator: User,
    request_id: uuid.UUID,
    assignee_id: uuid.UUID,
    *,
    now: datetime,
    policy: DispatchPolicy,
) -> Request:
    """Let the coordinator choose; capacity may be exceeded, the other rules may not."""
    request = await get_visible(session, coordinator, request_id)
    check_transition(Action.ASSIGN, request.status)
    await lock_pool(session, request.specialty_code)
    previous = request.assignee_id
    target = await session.get(User, assignee_id)
    if target is None or target.role != Role.SPECIALIST:
        raise InvalidInputError(
            "Le destinataire doit être un spécialiste de l'ESS.", field="assignee_id"
        )
    if not target.active:
        raise InvalidInputError(f"Le compte de {target.name} est désactivé.", field="assignee_id")
    if target.specialty_code != request.specialty_code:
        raise InvalidInputError(
            f"{target.name} n'exerce pas la spécialité « {request.specialty_code} ».",
            field="assignee_id",
        )
    if target.id == request.requester_id:
        raise InvalidInputError(
            "L'auteur de la demande ne peut pas en être l'expert.", field="assignee_id"
        )
    if await session.get(RequestDecline, (request.id, target.id)) is not None:
        raise InvalidInputError(f"{target.name} a déjà décliné cette demande.", field="assignee_id")
    if request.assignee_id == target.id:
        raise ConflictError(f"La demande est déjà attribuée à {target.name}.")
    # Loaded just above in this transaction: the count the triggers keep (migration 0003).
    open_count = target.open_count
    over = open_count >= (target.capacity or 0)
    reason = f"attribution manuelle par {coordinator.name}"
    if over:
        reason += f" (au-delà de la capacité : {open_count}/{target.capacity or 0})"
    await assign(
        session,
        request,
        target.id,
        now=now,
        policy=policy,
        actor_id=coordinator.id,
        detail={"reason": reason, "rule": "manual", "over_capacity": over},
    )
    await session.flush()
    if previous is not None:
        await drain_pending(session, request.specialty_code, now=now, policy=policy)
    return request


def shows_clinical_content(viewer: User) -> bool:
    """The coordinator manages the flow; clinical content is for the two doctors only."""
    return viewer.role != Role.COORDINATOR
