"""``/modeles``: a specialist's reusable answer fragments (created, listed, deleted)."""

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.auth import requires
from app.dependencies import CurrentUser, DbSession, Keys, Now
from app.services import answer_drafts
from app.web.forms import FormRejected, domain_errors, domain_status, nest, text_fields, validate
from app.web.templating import flash_cookie, page
from models import Role, TemplateCreate
from models.errors import DomainError
from models.request import TEXT_MAX_LENGTH


class AnswerTemplatesController(Controller):
    path = "/modeles"
    guards = [requires(Role.SPECIALIST)]

    @get("/", name="web_templates")
    async def list_templates(
        self,
        request: Request[Any, Any, Any],
        read_session: DbSession,
        vault: Keys,
        current_user: CurrentUser,
    ) -> Template:
        """The specialist's templates and the form to add one."""
        templates = await answer_drafts.list_templates(read_session, current_user, vault=vault)
        return page(
            request,
            "specialist/templates.html",
            section="templates",
            templates=templates,
            max_length=TEXT_MAX_LENGTH,
        )

    @post("/", name="web_create_template")
    async def create(
        self,
        request: Request[Any, Any, Any],
        session: DbSession,
        now: Now,
        vault: Keys,
        current_user: CurrentUser,
    ) -> Redirect:
        """Keep a new template."""
        values = text_fields(await request.form())
        data, errors = validate(TemplateCreate, nest(values, names=["title", "body"]))
        try:
            if data is None:
                raise FormRejected("specialist/templates.html", {}, values, errors)
            await answer_drafts.create_template(session, current_user, data, now=now, vault=vault)
        except (DomainError, FormRejected) as exc:
            if isinstance(exc, FormRejected):
                found, status = exc.errors, 422
            else:
                found, status = domain_errors(exc), domain_status(exc)
            templates = await answer_drafts.list_templates(session, current_user, vault=vault)
            raise FormRejected(
                "specialist/templates.html",
                {"section": "templates", "templates": templates, "max_length": TEXT_MAX_LENGTH},
                values,
                found,
                status_code=status,
            ) from exc
        return Redirect("/modeles", status_code=303, cookies=[flash_cookie("template_created")])

    @post("/{template_id:uuid}/suppression", name="web_delete_template")
    async def delete(
        self, template_id: FromPath[uuid.UUID], session: DbSession, current_user: CurrentUser
    ) -> Redirect:
        """Delete one of one's templates."""
        await answer_drafts.delete_template(session, current_user, template_id)
        return Redirect("/modeles", status_code=303, cookies=[flash_cookie("template_deleted")])
