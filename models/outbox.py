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
    NEW_ATTACHMENT = "new_attachment"  # to the other participant
    PENDING = "pending"  # to the coordinator: nobody eligible
    SLA_WARNING = "sla_warning"  # to the assignee
    SLA_BREACH = "sla_breach"  # to the coordinator
    ACK_MISSED = "ack_missed"  # to the coordinator: re-dispatched for lack of acknowledgement
    # To the coordinator: requests nobody can take while the ESS is closed, gathered
    # into one e-mail (``params["items"]``) until it is sent.
    WAITING_DIGEST = "waiting_digest"
    INVITATION = "invitation"  # to a new account: choose a password
    PASSWORD_RESET = "password_reset"  # to an account: choose a new password
    EMAIL_CONFIRMATION = "email_confirmation"  # to a new address: confirm it


# Their e-mail carries a single-use link (``params["token_id"]``), sent to
# ``params["address"]`` when given (a new address to confirm) instead of the account's.
ACCOUNT_KINDS = frozenset(
    {
        NotificationKind.INVITATION,
        NotificationKind.PASSWORD_RESET,
        NotificationKind.EMAIL_CONFIRMATION,
    }
)


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
    # Not sent before this instant: the first attempt's is the notification's
    # "not before" (e.g. the ESS's opening), each retry's comes from the backoff.
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
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Add a notification to the outbox, in the caller's transaction.

    ``not_before`` defers it (work that can only start when the ESS opens is not
    announced at 03:00); the maximum age of its sending effort counts from then.
    """
    due = now if not_before is None else max(now, not_before)
    message = OutboxMessage(
        idempotency_key=f"{kind.value}.{uuid.uuid4().hex}",
        kind=kind,
        recipient_id=recipient_id,
        request_id=request_id,
        params=params or {},
        next_attempt_at=due,
        created_at=now,
        queued_at=due,
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


async def add_to_coordinators_digest(
    session: AsyncSession, *, item: dict[str, Any], now: datetime, not_before: datetime
) -> None:
    """Put ``item`` in every active coordinator's unsent digest, or start one due at ``not_before``.

    A digest is joined while the sender has never tried it (``attempts`` 0; the
    sender's claim counts an attempt in the transaction that leases the row): the
    row is locked first, and one the sender holds is skipped, so an item never lands
    in an e-mail already on its way. Joining brings the digest forward to
    ``not_before`` if that is sooner.
    """
    coordinators = (
        await session.execute(
            select(User.id).where(User.role == Role.COORDINATOR, User.active.is_(True))
        )
    ).scalars()
    for coordinator_id in list(coordinators):
        digest = (
            await session.execute(
                select(OutboxMessage)
                .where(
                    OutboxMessage.kind == NotificationKind.WAITING_DIGEST,
                    OutboxMessage.recipient_id == coordinator_id,
                    OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.HELD]),
                    OutboxMessage.attempts == 0,
                )
                .order_by(OutboxMessage.created_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        ).scalar_one_or_none()
        if digest is None:
            enqueue(
                session,
                NotificationKind.WAITING_DIGEST,
                recipient_id=coordinator_id,
                request_id=None,
                now=now,
                params={"items": [item]},
                not_before=not_before,
            )
            continue
        # A new dict: the JSON column is not mutation-tracked.
        digest.params = {**digest.params, "items": [*digest.params.get("items", []), item]}
        due = max(now, not_before)
        if due < digest.next_attempt_at:
            digest.next_attempt_at = digest.queued_at = due
