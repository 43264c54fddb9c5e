"""Secure messages between requester and assignee, and asking for information."""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.people import shown_name
from app.services.requests import get_visible
from models import (
    FINAL,
    Action,
    EventKind,
    Message,
    MessageCreate,
    MessageRead,
    NotificationKind,
    Role,
    Status,
    Unreadable,
    User,
    check_transition,
    enqueue,
)
from models.audit import note
from models.errors import ConflictError, InvalidInputError
from models.history import record
from router import DispatchPolicy
from security.vault import Vault
from sla.deadlines import pause_answer_clock, resume_answer_clock


def _read(message: Message, author_name: str, vault: Vault) -> MessageRead:
    unreadable: list[str] = []
    return MessageRead(
        id=message.id,
        author_id=message.author_id,
        author_name=author_name,
        body=vault.decrypt_or_note("message", message.id, "body", message.body, unreadable),
        created_at=message.created_at,
        unreadable=Unreadable.of(unreadable),
    )


async def list_messages(
    session: AsyncSession, viewer: User, request_id: uuid.UUID, *, now: datetime, vault: Vault
) -> list[MessageRead]:
    request = await get_visible(session, viewer, request_id)
    note(session, at=now, actor_id=viewer.id, action="message.read", request_id=request_id)
    rows = await session.execute(
        select(Message, User.name, User.role)
        .join(User, User.id == Message.author_id)
        .where(Message.request_id == request_id)
        .order_by(Message.created_at, Message.id)
    )
    return [
        _read(message, shown_name(request, message.author_id, name, role), vault)
        for message, name, role in rows
    ]


async def post_message(
    session: AsyncSession,
    viewer: User,
    request_id: uuid.UUID,
    data: MessageCreate,
    *,
    now: datetime,
    policy: DispatchPolicy,
    vault: Vault,
) -> MessageRead:
    """Add a message; the assignee may ask for information, the requester's reply resumes."""
    request = await get_visible(session, viewer, request_id)
    if request.status in FINAL:
        raise ConflictError("La demande est close : la messagerie est fermée.")
    if viewer.role == Role.SPECIALIST:
        recipient = request.requester_id
        if data.request_info:
            check_transition(Action.ASK_INFO, request.status)
            if request.accepted_at is None:
                request.accepted_at = now  # asking about the case is taking it on
            record(
                session,
                request,
                EventKind.INFO_REQUESTED,
                at=now,
                actor_id=viewer.id,
                to_status=Status.AWAITING_INFO,
            )
            pause_answer_clock(request, now, policy.sla)
    else:
        if data.request_info:
            raise InvalidInputError(
                "Seul le spécialiste peut demander des informations.", field="request_info"
            )
        if request.assignee_id is None:
            raise ConflictError("La demande n'a pas encore de spécialiste à qui écrire.")
        recipient = request.assignee_id
        if request.status == Status.AWAITING_INFO:
            check_transition(Action.PROVIDE_INFO, request.status)
            record(
                session,
                request,
                EventKind.INFO_PROVIDED,
                at=now,
                actor_id=viewer.id,
                to_status=Status.ACCEPTED,
            )
            resume_answer_clock(request, now, policy.sla)
    message_id = uuid.uuid4()
    message = Message(
        id=message_id,
        request_id=request.id,
        author_id=viewer.id,
        body=vault.encrypt("message", message_id, "body", data.body),
        created_at=now,
    )
    session.add(message)
    note(
        session,
        at=now,
        actor_id=viewer.id,
        action="message.create",
        request_id=request.id,
        detail={"message_id": str(message_id)},
    )
    kind = NotificationKind.INFO_REQUESTED if data.request_info else NotificationKind.NEW_MESSAGE
    enqueue(
        session,
        kind,
        recipient_id=recipient,
        request_id=request.id,
        now=now,
        params={"reference": request.reference},
    )
    await session.flush()
    return MessageRead(
        id=message.id,
        author_id=message.author_id,
        author_name=viewer.name,
        body=data.body,
        created_at=message.created_at,
    )
