"""A request as each viewer sees it: the people it names, never clinical content for the
coordinator, and every clinical read in the audit trail."""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.services import people as people_service
from app.services.people import People
from app.services.requests import get_visible, list_visible, shows_clinical_content
from models import PatientIdentity, Request, RequestPage, RequestRead, Status, Unreadable, User
from models.audit import note
from security.vault import Vault


async def read_page(
    session: AsyncSession,
    viewer: User,
    *,
    status: Status | None,
    limit: int,
    offset: int,
    now: datetime,
    vault: Vault,
) -> RequestPage:
    """One page of the viewer's requests; each clinical read goes into the audit trail."""
    items, total = await list_visible(session, viewer, status=status, limit=limit, offset=offset)
    if shows_clinical_content(viewer):
        for request in items:
            note(session, at=now, actor_id=viewer.id, action="request.read", request_id=request.id)
    # The people of the whole page in one query, whatever its size.
    people = await people_service.of_requests(session, items)
    return RequestPage(items=[to_read(r, viewer, vault, people) for r in items], total=total)


async def read_one(
    session: AsyncSession, viewer: User, request_id: uuid.UUID, *, now: datetime, vault: Vault
) -> RequestRead:
    """Return one request as the viewer may see it, and note the read in the audit trail."""
    request = await get_visible(session, viewer, request_id)
    if shows_clinical_content(viewer):
        note(session, at=now, actor_id=viewer.id, action="request.read", request_id=request.id)
    return await present(session, request, viewer, vault)


async def present(
    session: AsyncSession, request: Request, viewer: User, vault: Vault
) -> RequestRead:
    """The view of a request the caller has just read or changed."""
    return to_read(request, viewer, vault, await people_service.of_requests(session, [request]))


def to_read(request: Request, viewer: User, vault: Vault, people: People) -> RequestRead:
    """The API view; the coordinator manages the flow and never sees clinical content."""
    clinical = shows_clinical_content(viewer)

    unreadable: list[str] = []

    def decrypted(field: str, blob: bytes | None) -> str | None:
        if not clinical:
            return None
        return vault.decrypt_or_note("request", request.id, field, blob, unreadable)

    patient = decrypted("patient", request.patient)
    return RequestRead(
        id=request.id,
        reference=request.reference,
        status=request.status,
        priority=request.priority,
        specialty=request.specialty_code,
        subspecialty=request.subspecialty_code,
        requester_id=request.requester_id,
        assignee_id=request.assignee_id,
        requester=people.requester(request),
        assignee=people.assignee(request),
        question=decrypted("question", request.question),
        patient=PatientIdentity.model_validate_json(patient) if patient else None,
        answer=decrypted("answer", request.answer),
        outcome=request.outcome,
        appointment_at=request.appointment_at,
        submitted_at=request.submitted_at,
        assigned_at=request.assigned_at,
        accepted_at=request.accepted_at,
        answered_at=request.answered_at,
        closed_at=request.closed_at,
        cancelled_at=request.cancelled_at,
        acknowledge_due_at=request.acknowledge_due_at,
        answer_due_at=request.answer_due_at,
        waiting_until=request.waiting_until,
        sla_state=request.sla_state,
        usefulness=request.usefulness,
        referral_avoided=request.referral_avoided,
        unreadable=Unreadable.of(unreadable),
    )
