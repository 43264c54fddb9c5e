"""What the coordinator watches and where they step in: the stuck requests and the choice
of a specialist by hand, with what the dispatcher itself would do.

Never clinical content: requests are read for their flow (reference, priority,
specialty, deadlines, people), never decrypted.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.requests import get_visible
from models import (
    Action,
    EventKind,
    Request,
    RequestDecline,
    RequestEvent,
    Role,
    Status,
    Subspecialty,
    User,
    UserSubspecialty,
)
from models.lifecycle import ALLOWED_FROM
from router import DispatchPolicy
from router.decision import EXCLUSION_LABELS, Exclusion, explain
from router.dispatch import judge
from router.eligibility import Moment, decide_in_database

PENDING_SHOWN = 200


@dataclass
class PendingRequest:
    request: Request
    reason: str | None  # the dispatcher's explanation, from the latest « pending » event
    waiting_until: datetime | None
    reason_at: datetime | None = None  # when that explanation was given


async def pending_count(session: AsyncSession) -> int:
    return (
        await session.execute(
            select(func.count()).select_from(Request).where(Request.status == Status.PENDING)
        )
    ).scalar_one()


async def pending_requests(
    session: AsyncSession, limit: int = PENDING_SHOWN
) -> list[PendingRequest]:
    """The requests nobody holds, oldest first, each with why the dispatcher found nobody."""
    requests = list(
        (
            await session.execute(
                select(Request)
                .where(Request.status == Status.PENDING)
                .order_by(Request.submitted_at, Request.reference)
                .limit(limit)
            )
        ).scalars()
    )
    reasons: dict[uuid.UUID, tuple[str | None, datetime]] = {}
    if requests:
        events = await session.execute(
            select(RequestEvent.request_id, RequestEvent.detail, RequestEvent.at)
            .where(
                RequestEvent.request_id.in_([r.id for r in requests]),
                RequestEvent.kind == EventKind.PENDING,
            )
            .order_by(RequestEvent.seq)
        )
        for request_id, detail, at in events:
            reasons[request_id] = ((detail or {}).get("reason"), at)
    shown = []
    for r in requests:
        reason, at = reasons.get(r.id, (None, None))
        shown.append(PendingRequest(r, reason, r.waiting_until, at))
    return shown


@dataclass
class AssignmentOption:
    """One specialist of the request's specialty, as the coordinator chooses among them."""

    id: uuid.UUID
    name: str
    active: bool
    open_count: int
    capacity: int
    subspecialties: list[str]
    covers_subspecialty: bool
    declined: bool
    # The first dispatcher rule they fail now (None: the dispatcher could choose them).
    exclusion: Exclusion | None
    exclusion_label: str | None = None
    chosen_by_dispatcher: bool = False


@dataclass
class AssignmentChoice:
    request: Request
    can_assign: bool
    options: list[AssignmentOption] = field(default_factory=list)
    dispatcher: str = ""  # what the dispatcher would do now, in French


async def assignment_choice(
    session: AsyncSession,
    coordinator: User,
    request_id: uuid.UUID,
    *,
    now: datetime,
    policy: DispatchPolicy,
) -> AssignmentChoice:
    """The specialists of the request's specialty with their load, availability and
    declines, and the dispatcher's own choice at this moment (nothing is changed)."""
    request = await get_visible(session, coordinator, request_id)
    choice = AssignmentChoice(request, Status(request.status) in ALLOWED_FROM[Action.ASSIGN])
    if not choice.can_assign:
        return choice
    moment = Moment.at(now, policy.calendar, policy.zone)
    judgement = await judge(session, request, moment, policy)
    # Over the whole specialty: each specialist's first failing rule (availability, load…).
    everyone = await decide_in_database(session, request, moment, use_subspecialty=False)
    rules = {excluded.id: excluded.reason for excluded in everyone.excluded}
    chosen = judgement.decision.chosen
    if chosen is not None:
        choice.dispatcher = (
            f"Le répartiteur l'attribuerait maintenant à {chosen.name} — "
            + explain(judgement.decision, judgement.pool_label)
            + "."
        )
    else:
        choice.dispatcher = (
            "Le répartiteur ne trouverait personne maintenant ("
            + explain(judgement.decision, judgement.pool_label)
            + ") : la demande resterait en attente."
        )
    declined = set(
        (
            await session.execute(
                select(RequestDecline.specialist_id).where(RequestDecline.request_id == request.id)
            )
        ).scalars()
    )
    specialists = (
        await session.execute(
            select(User)
            .where(User.role == Role.SPECIALIST, User.specialty_code == request.specialty_code)
            .order_by(User.name, User.id)
        )
    ).scalars()
    covers: dict[uuid.UUID, list[str]] = {}
    names = dict(
        (
            await session.execute(
                select(Subspecialty.code, Subspecialty.name).where(
                    Subspecialty.specialty_code == request.specialty_code
                )
            )
        ).all()
    )
    for user_id, code in await session.execute(
        select(UserSubspecialty.user_id, UserSubspecialty.subspecialty_code).where(
            UserSubspecialty.specialty_code == request.specialty_code
        )
    ):
        covers.setdefault(user_id, []).append(code)
    for user in specialists:
        codes = sorted(covers.get(user.id, []))
        rule = rules.get(user.id)
        if rule is None and user.id in declined:
            rule = Exclusion.DECLINED
        choice.options.append(
            AssignmentOption(
                id=user.id,
                name=user.name,
                active=user.active,
                open_count=user.open_count,
                capacity=user.capacity or 0,
                subspecialties=[names.get(code, code) for code in codes],
                covers_subspecialty=request.subspecialty_code is None
                or request.subspecialty_code in codes,
                declined=user.id in declined,
                exclusion=rule,
                exclusion_label=EXCLUSION_LABELS[rule] if rule else None,
                chosen_by_dispatcher=chosen is not None and chosen.id == user.id,
            )
        )
    return choice
