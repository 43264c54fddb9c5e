"""The transactional outbox: notifications are rows written with the change that causes them."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from models.user import Role, User


class NotificationKind(StrEnum):
    ASSIGNED = "assigned"  # to the specialist
    ANSWERED = "answered"  # to the requester
    INFO_REQUESTED = "info_requested"  # to the requester
    NEW_MESSAGE = "new_message"  # to the other participant
    PENDING = "pending"  # to the coordinator: nobody eligible
    SLA_WARNING = "sla_warning"  # to the assignee
    SLA_BREACH = "sla_breach"  # to the coordinator
    ACK_MISSED = "ack_missed"  # to the coordinator: re-dispatched for lack of acknowledgement


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for the sender
    HELD = "held"  # no SMTP server configured: kept, visible, never dropped
    SENT = "sent"
    FAILED = "failed"  # gave up after the maximum age; shown to the coordinator


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_status_due", "status", "next_attempt_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # Also the e-mail's Message-ID, so a retry after a crash is recognisable.
    idempotency_key: str = Field(max_length=100, unique=True)
    kind: NotificationKind = Field(sa_type=String(30))
    recipient_id: uuid.UUID = Field(foreign_key="user.id")
    request_id: uuid.UUID | None = Field(default=None, foreign_key="request.id")
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_type=String(20))
    attempts: int = 0
    next_attempt_at: datetime
    lease_until: datetime | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime
    # Start of the current sending effort: the maximum age counts from here, and a
    # manual retry starts a new one.
    queued_at: datetime
    sent_at: datetime | None = None


def enqueue(
    session: AsyncSession,
    kind: NotificationKind,
    *,
    recipient_id: uuid.UUID,
    request_id: uuid.UUID | None,
    now: datetime,
    params: dict[str, Any] | None = None,
) -> OutboxMessage:
    """Add a notification to the outbox, in the caller's transaction."""
    message = OutboxMessage(
        idempotency_key=f"{kind.value}.{uuid.uuid4().hex}",
        kind=kind,
        recipient_id=recipient_id,
        request_id=request_id,
        params=params or {},
        next_attempt_at=now,
        created_at=now,
        queued_at=now,
    )
    session.add(message)
    return message


async def notify_coordinators(
    session: AsyncSession,
    kind: NotificationKind,
    *,
    request_id: uuid.UUID,
    now: datetime,
    params: dict[str, Any],
) -> None:
    """Add a notification for every active coordinator, in the caller's transaction."""
    coordinators = await session.execute(
        select(User.id).where(User.role == Role.COORDINATOR, User.active.is_(True))
    )
    for (coordinator_id,) in coordinators:
        enqueue(
            session,
            kind,
            recipient_id=coordinator_id,
            request_id=request_id,
            now=now,
            params=params,
        )
