"""A specialist's queue: their requests by urgency, what is unread, what changed since.

The queue uses the same visibility rule as everything else (``requests.visible_to``):
a specialist sees the requests assigned to them.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.requests import visible_to
from models import (
    WITH_SPECIALIST,
    Attachment,
    Message,
    Priority,
    Request,
    RequestEvent,
    RequestSeen,
    Status,
    User,
)

HISTORY_PAGE = 25
OPEN_LIMIT = 500


class Tab(StrEnum):
    """The queue's views: every open request, or one stage of the work."""

    OPEN = "en-cours"
    TO_ACCEPT = "a-accepter"
    ACCEPTED = "acceptees"
    AWAITING_INFO = "attente"
    ANSWERED = "repondues"


TAB_STATUSES: dict[Tab, tuple[Status, ...]] = {
    Tab.OPEN: tuple(WITH_SPECIALIST),
    Tab.TO_ACCEPT: (Status.ASSIGNED,),
    Tab.ACCEPTED: (Status.ACCEPTED,),
    Tab.AWAITING_INFO: (Status.AWAITING_INFO,),
    Tab.ANSWERED: (Status.ANSWERED, Status.CLOSED),
}


@dataclass
class QueueItem:
    request: Request
    due: datetime | None
    seen_at: datetime | None
    other_side_at: datetime | None

    @property
    def new(self) -> bool:
        """Never opened since it was assigned."""
        return self.seen_at is None

    @property
    def unread(self) -> bool:
        """The requester wrote or added a file since the specialist last opened it."""
        return (
            self.seen_at is not None
            and self.other_side_at is not None
            and self.other_side_at > self.seen_at
        )


def due_of(request: Request) -> datetime | None:
    """The deadline the request runs against now (none while the answer clock is paused)."""
    if request.status == Status.ASSIGNED and request.acknowledge_due_at is not None:
        return request.acknowledge_due_at
    if request.status in (Status.ASSIGNED, Status.ACCEPTED):
        return request.answer_due_at
    return None


def urgency(item: QueueItem) -> tuple[int, int, datetime | str]:
    """Urgent before standard, then the nearest deadline (paused ones last)."""
    urgent = 0 if item.request.priority == Priority.URGENT else 1
    if item.due is None:
        return (urgent, 1, item.request.submitted_at)
    return (urgent, 0, item.due)


async def queue(
    session: AsyncSession,
    viewer: User,
    tab: Tab,
    *,
    search: str | None = None,
    page: int = 1,
) -> tuple[list[QueueItem], int]:
    """The tab's requests: open ones by urgency; answered ones newest first, by reference."""
    condition = visible_to(viewer) & Request.status.in_(TAB_STATUSES[tab])
    if search:
        condition = condition & Request.reference.contains(search.strip().upper())
    total = (
        await session.execute(select(func.count()).select_from(Request).where(condition))
    ).scalar_one()
    query = select(Request).where(condition)
    if tab == Tab.ANSWERED:
        query = query.order_by(Request.answered_at.desc(), Request.reference.desc())
        query = query.limit(HISTORY_PAGE).offset((page - 1) * HISTORY_PAGE)
    else:
        query = query.limit(OPEN_LIMIT)
    requests = list((await session.execute(query)).scalars())
    items = await _with_marks(session, viewer, requests)
    if tab != Tab.ANSWERED:
        items.sort(key=urgency)
    return items, total


async def _with_marks(
    session: AsyncSession, viewer: User, requests: list[Request]
) -> list[QueueItem]:
    ids = [r.id for r in requests]
    if not ids:
        return []
    seen = dict(
        (
            await session.execute(
                select(RequestSeen.request_id, RequestSeen.seen_at).where(
                    RequestSeen.user_id == viewer.id, RequestSeen.request_id.in_(ids)
                )
            )
        ).all()
    )
    latest: dict[uuid.UUID, datetime] = {}
    for table in (Message, Attachment):
        rows = await session.execute(
            select(table.request_id, func.max(table.created_at))
            .join(Request, Request.id == table.request_id)
            .where(table.request_id.in_(ids), table.author_id == Request.requester_id)
            .group_by(table.request_id)
        )
        for request_id, at in rows:
            if at is not None and (request_id not in latest or at > latest[request_id]):
                latest[request_id] = at
    return [QueueItem(r, due_of(r), seen.get(r.id), latest.get(r.id)) for r in requests]


async def waiting_count(session: AsyncSession, viewer: User) -> int:
    """How many requests wait for the specialist to accept or decline them."""
    return (
        await session.execute(
            select(func.count())
            .select_from(Request)
            .where(visible_to(viewer), Request.status == Status.ASSIGNED)
        )
    ).scalar_one()


async def fingerprint(session: AsyncSession, viewer: User) -> str:
    """A short digest of the open queue's state, in one indexed query.

    It changes when a request is assigned to the specialist or leaves them, when any
    event happens on one (status change, SLA warning or breach, file added: the
    events' sequence is global, so its maximum only grows) and when a message is
    written. Read by the idle poll: equal digests, nothing to send.
    """
    per_request = (
        select(
            select(func.max(RequestEvent.seq))
            .where(RequestEvent.request_id == Request.id)
            .scalar_subquery()
            .label("event"),
            select(func.max(Message.created_at))
            .where(Message.request_id == Request.id)
            .scalar_subquery()
            .label("message"),
        )
        .where(Request.assignee_id == viewer.id, Request.status.in_(tuple(WITH_SPECIALIST)))
        .subquery()
    )
    count, event, message = (
        await session.execute(
            select(func.count(), func.max(per_request.c.event), func.max(per_request.c.message))
        )
    ).one()
    state = f"{count}|{event}|{message or ''}"
    return hashlib.sha256(state.encode()).hexdigest()[:16]


async def mark_seen(
    session: AsyncSession, viewer: User, request_id: uuid.UUID, *, now: datetime
) -> None:
    """Note that ``viewer`` has just opened the request (what came before is read)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(RequestSeen).values(request_id=request_id, user_id=viewer.id, seen_at=now)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["request_id", "user_id"], set_={"seen_at": now}
        )
    )
