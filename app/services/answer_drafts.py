"""Answers being written (drafts) and a specialist's answer templates, encrypted at rest."""

import json
import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.requests import get_visible
from models import (
    WITH_SPECIALIST,
    AnswerDraft,
    AnswerTemplate,
    Role,
    TemplateCreate,
    TemplateRead,
    User,
)
from models.audit import note
from models.errors import ConflictError, NotFoundError, PermissionDeniedError
from security.vault import Vault

DRAFT_FIELDS = ("answer", "outcome", "appointment_at")
MAX_TEMPLATES = 200


def _specialist(viewer: User) -> None:
    if viewer.role != Role.SPECIALIST:
        raise PermissionDeniedError("Réservé aux spécialistes.")


async def load_draft(
    session: AsyncSession, viewer: User, request_id: uuid.UUID, *, vault: Vault
) -> tuple[dict[str, str], datetime] | None:
    """The values saved by ``viewer`` for this request's answer, and when; or None."""
    row = (
        await session.execute(
            select(AnswerDraft).where(
                AnswerDraft.request_id == request_id, AnswerDraft.author_id == viewer.id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    unreadable: list[str] = []
    text = vault.decrypt_or_note("answer_draft", row.id, "content", row.content, unreadable)
    values = json.loads(text) if text else {}
    return {k: str(v) for k, v in values.items() if k in DRAFT_FIELDS}, row.updated_at


async def save_draft(
    session: AsyncSession,
    viewer: User,
    request_id: uuid.UUID,
    values: dict[str, str],
    *,
    now: datetime,
    vault: Vault,
) -> None:
    """Keep the answer form's values as typed, to finish later (assignee, open request)."""
    _specialist(viewer)
    request = await get_visible(session, viewer, request_id)
    if request.status not in WITH_SPECIALIST:
        raise ConflictError("La demande n'attend plus de réponse : le brouillon n'est pas gardé.")
    kept = {k: values.get(k, "") for k in DRAFT_FIELDS}
    row = (
        await session.execute(
            select(AnswerDraft).where(
                AnswerDraft.request_id == request_id, AnswerDraft.author_id == viewer.id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        row = AnswerDraft(id=uuid.uuid4(), request_id=request_id, author_id=viewer.id)
        session.add(row)
    row.content = vault.encrypt("answer_draft", row.id, "content", json.dumps(kept))
    row.updated_at = now
    note(session, at=now, actor_id=viewer.id, action="answer_draft.save", request_id=request_id)
    await session.flush()


async def discard_draft(session: AsyncSession, viewer: User, request_id: uuid.UUID) -> None:
    await session.execute(
        delete(AnswerDraft).where(
            AnswerDraft.request_id == request_id, AnswerDraft.author_id == viewer.id
        )
    )


def _template(row: AnswerTemplate, vault: Vault) -> TemplateRead | None:
    unreadable: list[str] = []
    title = vault.decrypt_or_note("answer_template", row.id, "title", row.title, unreadable)
    body = vault.decrypt_or_note("answer_template", row.id, "body", row.body, unreadable)
    if title is None or body is None:
        return None
    return TemplateRead(id=row.id, title=title, body=body, created_at=row.created_at)


async def list_templates(
    session: AsyncSession, viewer: User, *, vault: Vault
) -> list[TemplateRead]:
    """The specialist's own templates, by title."""
    rows = (
        await session.execute(select(AnswerTemplate).where(AnswerTemplate.owner_id == viewer.id))
    ).scalars()
    found = [t for t in (_template(row, vault) for row in rows) if t is not None]
    return sorted(found, key=lambda t: t.title.casefold())


async def get_template(
    session: AsyncSession, viewer: User, template_id: uuid.UUID, *, vault: Vault
) -> TemplateRead:
    row = await session.get(AnswerTemplate, template_id)
    template = _template(row, vault) if row is not None and row.owner_id == viewer.id else None
    if template is None:
        raise NotFoundError("Modèle introuvable.")
    return template


async def create_template(
    session: AsyncSession, viewer: User, data: TemplateCreate, *, now: datetime, vault: Vault
) -> TemplateRead:
    _specialist(viewer)
    count = len(
        (
            await session.execute(
                select(AnswerTemplate.id).where(AnswerTemplate.owner_id == viewer.id)
            )
        ).all()
    )
    if count >= MAX_TEMPLATES:
        raise ConflictError(f"{MAX_TEMPLATES} modèles au plus : supprimez-en un d'abord.")
    template_id = uuid.uuid4()
    session.add(
        AnswerTemplate(
            id=template_id,
            owner_id=viewer.id,
            title=vault.encrypt("answer_template", template_id, "title", data.title),
            body=vault.encrypt("answer_template", template_id, "body", data.body),
            created_at=now,
        )
    )
    await session.flush()
    return TemplateRead(id=template_id, title=data.title, body=data.body, created_at=now)


async def delete_template(session: AsyncSession, viewer: User, template_id: uuid.UUID) -> None:
    row = await session.get(AnswerTemplate, template_id)
    if row is None or row.owner_id != viewer.id:
        raise NotFoundError("Modèle introuvable.")
    await session.delete(row)
    await session.flush()
