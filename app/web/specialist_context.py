"""What the request page adds for the specialist who holds it: actions, draft, templates."""

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.services import answer_drafts, workspace
from app.services.requests import get_visible
from app.web import display
from models import WITH_SPECIALIST, DeclineReason, Outcome, RequestRead, Role, Status, User
from models.request import DECLINE_LABELS
from security.vault import Vault

DECLINE_CHOICES = {reason: DECLINE_LABELS[reason] for reason in DeclineReason}
OUTCOME_CHOICES = {
    Outcome.ADVICE: "Avis : pas de consultation nécessaire",
    Outcome.CONSULTATION: "Consultation",
    Outcome.ADVANCED_CONSULTATION: "Consultation avancée",
    Outcome.HOSPITAL_REFERRAL: "Orientation vers l'hôpital",
}


def age(birth: date, today: date) -> int:
    """Full years on ``today``."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


async def specialist_context(
    session: AsyncSession, viewer: User, read: RequestRead, *, now: datetime, vault: Vault
) -> dict[str, Any]:
    """The specialist's part of the request page (empty for anyone else)."""
    if viewer.role != Role.SPECIALIST or read.assignee_id != viewer.id:
        return {"is_assignee": False}
    request = await get_visible(session, viewer, read.id)
    await workspace.mark_seen(session, viewer, read.id, now=now)
    draft = await answer_drafts.load_draft(session, viewer, read.id, vault=vault)
    open_ = read.status in WITH_SPECIALIST
    context: dict[str, Any] = {
        "is_assignee": True,
        "can_accept": read.status == Status.ASSIGNED,
        "can_decline": read.status in (Status.ASSIGNED, Status.ACCEPTED),
        "can_ask_info": read.status in (Status.ASSIGNED, Status.ACCEPTED),
        "can_answer": open_,
        "decline_choices": DECLINE_CHOICES,
        "outcome_choices": OUTCOME_CHOICES,
        "draft": draft[0] if draft else {},
        "draft_saved_at": draft[1] if draft else None,
        "templates": await answer_drafts.list_templates(session, viewer, vault=vault)
        if open_
        else [],
        "patient_age": age(read.patient.birth_date, now.date()) if read.patient else None,
        "paused_left": None,
    }
    if read.status == Status.AWAITING_INFO:
        context["deadline_label"] = (
            "Délai suspendu : vous attendez les informations du médecin demandeur"
        )
        if request.answer_paused_seconds is not None:
            context["paused_left"] = display.duration(
                timedelta(seconds=request.answer_paused_seconds)
            )
    return context
