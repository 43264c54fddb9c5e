"""The specialist's actions on ``/demandes/{id}``: accept, decline, answer, keep a draft.

Each calls the API's service; a refused form comes back with what was typed.
"""

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Stream
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import requires
from app.dependencies import CurrentUser, DbSession, Keys, Now, Policy
from app.services import answer_drafts, attachments
from app.services import requests as service
from app.web.forms import FormRejected, domain_errors, domain_status, nest, text_fields, validate
from app.web.request_page import request_context
from app.web.templating import flash_cookie
from config import Settings
from models import AnswerCreate, DeclineCreate, Role, User
from models.errors import DomainError
from security.vault import Vault

RequestId = FromPath[uuid.UUID]
ANSWER_FIELDS = ("answer", "outcome", "appointment_at")


async def rejected(
    session: AsyncSession,
    viewer: User,
    request_id: uuid.UUID,
    *,
    now: datetime,
    vault: Vault,
    values: dict[str, str],
    errors: dict[str, str],
    status: int,
) -> FormRejected:
    """The request page again, with the form's values and its errors."""
    context = await request_context(session, viewer, request_id, now=now, vault=vault)
    return FormRejected("requests/detail.html", context, values, errors, status_code=status)


def with_zone(values: dict[str, str], zone: Any) -> dict[str, str]:
    """A ``datetime-local`` value is Paris time: give it its offset for the API's schema."""
    typed = values.get("appointment_at", "").strip()
    if not typed:
        return {k: v for k, v in values.items() if k != "appointment_at"}
    try:
        moment = datetime.fromisoformat(typed)
    except ValueError:
        return values
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return {**values, "appointment_at": moment.isoformat()}


class SpecialistActionsController(Controller):
    path = "/demandes/{request_id:uuid}"
    guards = [requires(Role.SPECIALIST)]

    @post("/accepter", name="web_accept")
    async def accept(
        self, request_id: RequestId, session: DbSession, now: Now, current_user: CurrentUser
    ) -> Redirect:
        """Take the request on (the acknowledgement deadline is met)."""
        await service.accept(session, current_user, request_id, now=now)
        return Redirect(
            f"/demandes/{request_id}", status_code=303, cookies=[flash_cookie("accepted")]
        )

    @post("/decliner", name="web_decline")
    async def decline(
        self,
        request: Request[Any, Any, Any],
        request_id: RequestId,
        session: DbSession,
        now: Now,
        policy: Policy,
        vault: Keys,
        current_user: CurrentUser,
    ) -> Redirect:
        """Hand the request back with a category (and a comment for the requester)."""
        values = text_fields(await request.form())
        data, errors = validate(
            DeclineCreate, nest(values, optional=["comment"], names=["reason", "comment"])
        )
        try:
            if data is None:
                if "reason" in errors:
                    errors["reason"] = "Choisissez le motif."
                raise await rejected(
                    session, current_user, request_id, now=now, vault=vault,
                    values=values, errors=errors, status=422,
                )  # fmt: skip
            await service.decline(
                session, current_user, request_id, data, now=now, policy=policy, vault=vault
            )
            await answer_drafts.discard_draft(session, current_user, request_id)
        except DomainError as exc:
            raise await rejected(
                session, current_user, request_id, now=now, vault=vault,
                values=values, errors=domain_errors(exc), status=domain_status(exc),
            ) from exc  # fmt: skip
        return Redirect("/demandes", status_code=303, cookies=[flash_cookie("declined")])

    @post("/reponse", name="web_answer")
    async def answer(
        self,
        request: Request[Any, Any, Any],
        request_id: RequestId,
        session: DbSession,
        now: Now,
        policy: Policy,
        vault: Keys,
        current_user: CurrentUser,
    ) -> Redirect:
        """Send the answer with its outcome (and the appointment for a consultation)."""
        values = text_fields(await request.form())
        data, errors = validate(
            AnswerCreate, nest(with_zone(values, policy.zone), names=ANSWER_FIELDS)
        )
        try:
            if data is None:
                if "outcome" in errors:
                    errors["outcome"] = "Choisissez la suite donnée."
                raise await rejected(
                    session, current_user, request_id, now=now, vault=vault,
                    values=values, errors=errors, status=422,
                )  # fmt: skip
            await service.answer(
                session, current_user, request_id, data, now=now, policy=policy, vault=vault
            )
            await answer_drafts.discard_draft(session, current_user, request_id)
        except DomainError as exc:
            raise await rejected(
                session, current_user, request_id, now=now, vault=vault,
                values=values, errors=domain_errors(exc), status=domain_status(exc),
            ) from exc  # fmt: skip
        return Redirect(
            f"/demandes/{request_id}", status_code=303, cookies=[flash_cookie("answered")]
        )

    @post("/brouillon", name="web_save_draft")
    async def save_draft(
        self,
        request: Request[Any, Any, Any],
        request_id: RequestId,
        session: DbSession,
        now: Now,
        vault: Keys,
        current_user: CurrentUser,
    ) -> Redirect:
        """Keep the answer as typed; with a template chosen, add its text first."""
        values = text_fields(await request.form())
        flash = "draft_saved"
        try:
            template_id = values.get("template_id", "").strip()
            if "insert_template" in values:
                if not template_id:
                    raise await rejected(
                        session, current_user, request_id, now=now, vault=vault, values=values,
                        errors={"template_id": "Choisissez le modèle à insérer."}, status=422,
                    )  # fmt: skip
                try:
                    chosen = uuid.UUID(template_id)
                except ValueError:
                    chosen = uuid.UUID(int=0)
                template = await answer_drafts.get_template(
                    session, current_user, chosen, vault=vault
                )
                typed = values.get("answer", "").rstrip()
                values["answer"] = f"{typed}\n\n{template.body}" if typed else template.body
                flash = "template_inserted"
            await answer_drafts.save_draft(
                session, current_user, request_id, values, now=now, vault=vault
            )
        except DomainError as exc:
            raise await rejected(
                session, current_user, request_id, now=now, vault=vault,
                values=values, errors=domain_errors(exc), status=domain_status(exc),
            ) from exc  # fmt: skip
        return Redirect(
            f"/demandes/{request_id}#repondre", status_code=303, cookies=[flash_cookie(flash)]
        )


class AttachmentViewController(Controller):
    path = "/demandes/{request_id:uuid}/pieces-jointes/{attachment_id:uuid}"
    guards = [requires(Role.REQUESTER, Role.SPECIALIST)]

    @get("/", name="web_attachment")
    async def view(
        self,
        request_id: RequestId,
        attachment_id: FromPath[uuid.UUID],
        session: DbSession,
        now: Now,
        vault: Keys,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> Stream:
        """Show the file in the browser (an image in the page, a PDF in a tab)."""
        description, content = await attachments.open_for_download(
            session,
            current_user,
            request_id,
            attachment_id,
            now=now,
            vault=vault,
            directory=settings.attachments_dir(),
        )
        name = quote(description.filename or "piece-jointe")
        return Stream(
            content,
            media_type=description.content_type,
            headers={
                "Content-Disposition": f"inline; filename*=UTF-8''{name}",
                "Content-Length": str(description.size),
                "Cache-Control": "no-store",
            },
        )
