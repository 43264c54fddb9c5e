"""The coordinator's view of notifications, and retrying the ones that failed."""

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from models import NotificationKind, OutboxMessage, OutboxStatus
from models.errors import ConflictError, NotFoundError


class NotificationRead(SQLModel):
    id: uuid.UUID
    kind: NotificationKind
    recipient_id: uuid.UUID
    request_id: uuid.UUID | None
    reference: str | None
    status: OutboxStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None


def reference_of(row: OutboxMessage) -> str | None:
    """The request's reference; a digest's are listed, comma-separated."""
    if row.kind == NotificationKind.WAITING_DIGEST:
        return ", ".join(str(item.get("reference")) for item in row.params.get("items", []))
    return row.params.get("reference")


def to_read(row: OutboxMessage) -> NotificationRead:
    return NotificationRead(
        id=row.id,
        kind=row.kind,
        recipient_id=row.recipient_id,
        request_id=row.request_id,
        reference=reference_of(row),
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
    )


async def list_notifications(
    session: AsyncSession, status: OutboxStatus | None, limit: int = 200
) -> list[NotificationRead]:
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return [to_read(row) for row in (await session.execute(query)).scalars()]


async def retry(session: AsyncSession, notification_id: uuid.UUID | None, *, now: datetime) -> int:
    """Put one notification (or every failed one) back in the queue; return how many."""
    if notification_id is not None:
        row = await session.get(OutboxMessage, notification_id)
        if row is None:
            raise NotFoundError("Notification introuvable.")
        if row.status == OutboxStatus.SENT:
            raise ConflictError("Cette notification a déjà été envoyée.")
        condition = OutboxMessage.id == notification_id
    else:
        condition = OutboxMessage.status == OutboxStatus.FAILED
    result = await session.execute(
        update(OutboxMessage)
        .where(condition)
        .values(status=OutboxStatus.PENDING, next_attempt_at=now, lease_until=None, created_at=now)
    )
    return result.rowcount or 0
