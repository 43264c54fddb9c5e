"""The request's history as each viewer may see it: the coordinator, or a participant."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.requests import get_visible, shows_clinical_content
from models import Attachment, EventKind, EventRead, RequestDecline, RequestEvent, User
from models.audit import note
from router.decision import participant_reason
from security.vault import Vault


async def history(
    session: AsyncSession, viewer: User, request_id: uuid.UUID, *, now: datetime, vault: Vault
) -> list[EventRead]:
    """The request's history as the viewer may see it.

    The coordinator gets the dispatcher's full explanation (who was left out and why)
    and never a decline's comment. A participant (the requester, the assignee) gets
    no other specialist's name, id or reason for being left out (absences are
    personal), and the decline comments and attachments' file names, which are clinical
    content: reading them is noted in the audit trail.
    """
    request = await get_visible(session, viewer, request_id)
    events = (
        await session.execute(
            select(RequestEvent)
            .where(RequestEvent.request_id == request_id)
            .order_by(RequestEvent.seq)
        )
    ).scalars()
    if not shows_clinical_content(viewer):
        return [EventRead.model_validate(e, from_attributes=True) for e in events]
    assignee = await session.get(User, request.assignee_id) if request.assignee_id else None
    comments = {
        d.specialist_id: vault.decrypt_optional("request_decline", d.id, "comment", d.comment)
        for d in (
            await session.execute(
                select(RequestDecline).where(
                    RequestDecline.request_id == request_id, RequestDecline.comment.is_not(None)
                )
            )
        ).scalars()
    }
    if comments:
        note(
            session,
            at=now,
            actor_id=viewer.id,
            action="request.decline.read",
            request_id=request_id,
        )
    filenames = {
        str(a.id): vault.decrypt_or_note("attachment", a.id, "filename", a.filename, [])
        for a in (
            await session.execute(select(Attachment).where(Attachment.request_id == request_id))
        ).scalars()
    }
    if filenames:
        note(session, at=now, actor_id=viewer.id, action="attachment.list", request_id=request_id)
    # The people a participant deals with; any other specialist stays anonymous.
    known = {viewer.id, request.requester_id, request.assignee_id}
    return [_participant_event(e, known, assignee, comments, filenames) for e in events]


def _participant_event(
    event: RequestEvent,
    known: set[uuid.UUID | None],
    assignee: User | None,
    comments: dict[uuid.UUID, str | None],
    filenames: dict[str, str | None],
) -> EventRead:
    """One event of the history as the requester or the assignee sees it."""
    detail: dict[str, Any] = dict(event.detail)
    if event.kind == EventKind.ASSIGNED:
        to_them = assignee is not None and event.assignee_id == assignee.id
        detail = {
            "reason": f"Demande attribuée à {assignee.name}"
            if to_them and assignee is not None
            else "Demande attribuée à un spécialiste de l'ESS"
        }
    elif event.kind == EventKind.PENDING:
        detail = {"reason": participant_reason(detail)}
    elif event.kind == EventKind.DECLINED:
        detail = {"reason": detail.get("reason"), "label": detail.get("label")}
        comment = comments.get(event.actor_id) if event.actor_id else None
        if comment is not None:
            detail["comment"] = comment
    elif event.kind == EventKind.ATTACHMENT_ADDED:
        # Stored without it (the history is in clear): read from the attachment itself.
        detail["filename"] = filenames.get(detail.get("attachment_id", ""))
    return EventRead(
        id=event.id,
        kind=event.kind,
        at=event.at,
        actor_id=event.actor_id if event.actor_id in known else None,
        from_status=event.from_status,
        to_status=event.to_status,
        assignee_id=event.assignee_id if event.assignee_id in known else None,
        detail=detail,
    )
