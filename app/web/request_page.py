"""``/demandes/{id}``: one request as its viewer may see it, and the requester's actions."""

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import requires
from app.dependencies import CurrentUser, DbSession, Keys, Now, Policy
from app.services import attachments, messages, request_history, request_view
from app.services import people as people_service
from app.services import requests as service
from app.services.specialties import list_specialties
from app.web import display
from app.web.forms import FormRejected, domain_errors, domain_status, files, nest, text_fields
from app.web.forms import validate as check
from app.web.specialist_context import specialist_context
from app.web.templating import flash_cookie, page
from config import Settings
from models import FINAL, CloseCreate, MessageCreate, Role, Status, User
from models.errors import DomainError
from models.request import TEXT_MAX_LENGTH
from security.vault import Vault

RequestId = FromPath[uuid.UUID]
ATTACH_HANDLER = "web_add_attachment"
EVENT_LABELS = {
    "submitted": "Demande envoyée",
    "assigned": "Demande attribuée",
    "pending": "En attente d'un spécialiste disponible",
    "accepted": "Demande prise en charge par le spécialiste",
    "declined": "Demande déclinée",
    "info_requested": "Le spécialiste demande des informations",
    "info_provided": "Informations apportées",
    "answered": "Réponse du spécialiste",
    "closed": "Demande clôturée",
    "cancelled": "Demande annulée",
    "attachment_added": "Pièce jointe ajoutée",
    "sla_warning": "Délai bientôt atteint",
    "sla_breach": "Délai dépassé",
    "message": "Message",
}
CANCELLABLE = frozenset({Status.PENDING, Status.ASSIGNED, Status.ACCEPTED, Status.AWAITING_INFO})


async def request_context(
    session: AsyncSession, viewer: User, request_id: uuid.UUID, *, now: Any, vault: Vault
) -> dict[str, Any]:
    """Everything the request page shows to this viewer (clinical content: participants only)."""
    read = await request_view.read_one(session, viewer, request_id, now=now, vault=vault)
    history = await request_history.history(session, viewer, request_id, now=now, vault=vault)
    participant = service.shows_clinical_content(viewer)
    thread = (
        await messages.list_messages(session, viewer, request_id, now=now, vault=vault)
        if participant
        else []
    )
    files_ = (
        await attachments.list_attachments(session, viewer, request_id, now=now, vault=vault)
        if participant
        else []
    )
    people = await people_service.load(session, [e.actor_id for e in history])
    names = {person_id: person.name for person_id, person in people.by_id.items()}
    specialties = {s.code: s for s in await list_specialties(session)}
    specialty = specialties.get(read.specialty)
    subs = {sub.code: sub.name for sub in (specialty.subspecialties if specialty else [])}
    subspecialty = subs.get(read.subspecialty or "", read.subspecialty)
    label, due = display.deadline(read, now)
    is_requester = viewer.id == read.requester_id
    context = {
        "section": "requests",
        "r": read,
        "now": now,
        "names": names,
        "specialty_name": specialty.name if specialty else read.specialty,
        "subspecialty_name": subspecialty,
        "history": history,
        "event_labels": EVENT_LABELS,
        "thread": thread,
        "attachments": files_,
        "participant": participant,
        "is_requester": is_requester,
        "deadline_label": label,
        "due": due,
        "can_write": participant and read.status not in FINAL and read.assignee_id is not None,
        "can_attach": participant and read.status not in FINAL,
        "can_close": is_requester and read.status == Status.ANSWERED,
        "can_cancel": is_requester and read.status in CANCELLABLE,
        "max_length": TEXT_MAX_LENGTH,
    }
    context.update(await specialist_context(session, viewer, read, now=now, vault=vault))
    return context


class RequestPageController(Controller):
    path = "/demandes/{request_id:uuid}"

    @get("/", name="web_request")
    async def show(
        self,
        request: Request[Any, Any, Any],
        request_id: RequestId,
        session: DbSession,
        now: Now,
        vault: Keys,
        current_user: CurrentUser,
    ) -> Template:
        """The request: status, deadlines, people, history, messages, files, actions."""
        context = await request_context(session, current_user, request_id, now=now, vault=vault)
        return page(request, "requests/detail.html", **context)

    async def _rejected(
        self,
        session: AsyncSession,
        viewer: User,
        request_id: uuid.UUID,
        *,
        now: Any,
        vault: Vault,
        values: dict[str, str],
        errors: dict[str, str],
        status: int,
    ) -> FormRejected:
        context = await request_context(session, viewer, request_id, now=now, vault=vault)
        return FormRejected("requests/detail.html", context, values, errors, status_code=status)

    @post("/messages", name="web_post_message", guards=[requires(Role.REQUESTER, Role.SPECIALIST)])
    async def post_message(
        self,
        request: Request[Any, Any, Any],
        request_id: RequestId,
        session: DbSession,
        now: Now,
        policy: Policy,
        vault: Keys,
        current_user: CurrentUser,
    ) -> Redirect:
        """Write to the other side of the request."""
        values = text_fields(await request.form())
        data, errors = check(
            MessageCreate, nest(values, checkboxes=["request_info"], names=["body"])
        )
        try:
            if data is None:
                raise await self._rejected(
                    session,
                    current_user,
                    request_id,
                    now=now,
                    vault=vault,
                    values=values,
                    errors=errors,
                    status=422,
                )
            await messages.post_message(
                session, current_user, request_id, data, now=now, policy=policy, vault=vault
            )
        except DomainError as exc:
            raise await self._rejected(
                session,
                current_user,
                request_id,
                now=now,
                vault=vault,
                values=values,
                errors=domain_errors(exc),
                status=domain_status(exc),
            ) from exc
        return Redirect(
            f"/demandes/{request_id}#messages",
            status_code=303,
            cookies=[flash_cookie("info_requested" if data.request_info else "message_sent")],
        )

    @post(
        "/pieces-jointes",
        name=ATTACH_HANDLER,
        guards=[requires(Role.REQUESTER, Role.SPECIALIST)],
    )
    async def add_attachment(
        self,
        request: Request[Any, Any, Any],
        request_id: RequestId,
        session: DbSession,
        now: Now,
        vault: Keys,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> Redirect:
        """Add photographs or documents to the request."""
        chosen = files(await request.form())
        try:
            if not chosen:
                raise await self._rejected(
                    session,
                    current_user,
                    request_id,
                    now=now,
                    vault=vault,
                    values={},
                    errors={"file": "Choisissez au moins un fichier."},
                    status=422,
                )
            for upload in chosen:
                await attachments.upload(
                    session,
                    current_user,
                    request_id,
                    filename=upload.filename,
                    source=upload.file,
                    now=now,
                    vault=vault,
                    directory=settings.attachments_dir(),
                    limit=settings.attachment_max_bytes,
                )
        except DomainError as exc:
            raise await self._rejected(
                session,
                current_user,
                request_id,
                now=now,
                vault=vault,
                values={},
                errors=domain_errors(exc, file_field="file"),
                status=domain_status(exc),
            ) from exc
        finally:
            for upload in chosen:
                await upload.close()
        return Redirect(
            f"/demandes/{request_id}#pieces-jointes",
            status_code=303,
            cookies=[flash_cookie("file_added")],
        )

    @post("/cloture", name="web_close", guards=[requires(Role.REQUESTER)])
    async def close(
        self,
        request: Request[Any, Any, Any],
        request_id: RequestId,
        session: DbSession,
        now: Now,
        vault: Keys,
        current_user: CurrentUser,
    ) -> Redirect:
        """Close the answered request with the close-out feedback."""
        values = text_fields(await request.form())
        data, errors = check(
            CloseCreate,
            nest(values, optional=["comment"], names=["usefulness", "referral_avoided", "comment"]),
        )
        try:
            if data is None:
                raise await self._rejected(
                    session,
                    current_user,
                    request_id,
                    now=now,
                    vault=vault,
                    values=values,
                    errors=errors,
                    status=422,
                )
            await service.close(session, current_user, request_id, data, now=now, vault=vault)
        except DomainError as exc:
            raise await self._rejected(
                session,
                current_user,
                request_id,
                now=now,
                vault=vault,
                values=values,
                errors=domain_errors(exc),
                status=domain_status(exc),
            ) from exc
        return Redirect(
            f"/demandes/{request_id}", status_code=303, cookies=[flash_cookie("closed")]
        )

    @get("/annulation", name="web_cancel_confirm", guards=[requires(Role.REQUESTER)])
    async def confirm_cancel(
        self,
        request: Request[Any, Any, Any],
        request_id: RequestId,
        session: DbSession,
        now: Now,
        vault: Keys,
        current_user: CurrentUser,
    ) -> Template:
        """Ask before cancelling: the specialist stops working on it."""
        read = await request_view.read_one(session, current_user, request_id, now=now, vault=vault)
        return page(request, "requests/cancel.html", section="requests", r=read)

    @post("/annulation", name="web_cancel", guards=[requires(Role.REQUESTER)])
    async def cancel(
        self,
        request_id: RequestId,
        session: DbSession,
        now: Now,
        policy: Policy,
        current_user: CurrentUser,
    ) -> Redirect:
        """Cancel the request (before an answer)."""
        await service.cancel(session, current_user, request_id, now=now, policy=policy)
        return Redirect(
            f"/demandes/{request_id}", status_code=303, cookies=[flash_cookie("cancelled")]
        )
