"""The requests a viewer may see (``/``, ``/demandes``) and the form (``/demandes/nouvelle``)."""

import math
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from app.auth import requires
from app.dependencies import CurrentUser, DbSession, Keys, Now, Policy
from app.services import attachments
from app.services import people as people_service
from app.services import requests as service
from app.services.specialties import list_specialties, offered_specialties
from app.web import display
from app.web.forms import (
    FormRejected,
    domain_errors,
    domain_status,
    files,
    nest,
    text_fields,
    validate,
)
from app.web.queue import queue_page
from app.web.templating import flash_cookie, page
from config import Settings
from models import RequestCreate, Role, Status
from models.errors import DomainError
from models.lifecycle import STATUS_LABELS
from models.request import TEXT_MAX_LENGTH

PAGE_SIZE = 20
MAX_PAGE = 100_000
# The fields of the request form, named as the API's JSON.
REQUEST_FIELDS = (
    "specialty",
    "subspecialty",
    "priority",
    "question",
    "patient.first_name",
    "patient.last_name",
    "patient.birth_date",
    "patient.sex",
    "patient.ins",
)
SUBMIT_HANDLER = "web_submit_request"
MAX_FILES = 10


async def list_page(
    request: Request[Any, Any, Any],
    read_session: Any,
    viewer: Any,
    now: Any,
    status: Status | None,
    page_number: int,
) -> Template:
    items, total = await service.list_visible(
        read_session,
        viewer,
        status=status,
        limit=PAGE_SIZE,
        offset=(page_number - 1) * PAGE_SIZE,
    )
    people = await people_service.load(read_session, [r.assignee_id for r in items])
    specialties = await list_specialties(read_session)
    rows = []
    for item in items:
        label, due = display.deadline(item, now)
        rows.append(
            {
                "request": item,
                "assignee": people.assignee(item),
                "deadline_label": label,
                "due": due,
            }
        )
    return page(
        request,
        "requests/list.html",
        section="requests",
        rows=rows,
        total=total,
        status=status,
        statuses=STATUS_LABELS,
        page_number=page_number,
        pages=max(1, math.ceil(total / PAGE_SIZE)),
        now=now,
        specialty_names=display.specialty_names(specialties),
    )


StatusFilter = Annotated[Status | None, QueryParameter(name="status", required=False)]
PageNumber = Annotated[int, QueryParameter(name="page", ge=1, le=MAX_PAGE)]


class RequestListController(Controller):
    path = "/"

    @get("/", name="web_home")
    async def home(
        self,
        request: Request[Any, Any, Any],
        read_session: DbSession,
        now: Now,
        current_user: CurrentUser,
    ) -> Template | Redirect:
        """The home of the role: the coordinator's dashboard, a specialist's queue, else the
        requests, newest first."""
        if current_user.role == Role.COORDINATOR:
            return Redirect("/coordination", status_code=303)
        if current_user.role == Role.SPECIALIST:
            return await queue_page(request, read_session, current_user, now)
        return await list_page(request, read_session, current_user, now, None, 1)

    @get("/demandes", name="web_requests")
    async def requests(
        self,
        request: Request[Any, Any, Any],
        read_session: DbSession,
        now: Now,
        current_user: CurrentUser,
        status: StatusFilter = None,
        page_number: PageNumber = 1,
    ) -> Template:
        """The requests the viewer may see, newest first, by status, page by page."""
        if current_user.role == Role.SPECIALIST:
            return await queue_page(request, read_session, current_user, now)
        return await list_page(request, read_session, current_user, now, status, page_number)


def form_context(specialties: list[Any], settings: Settings, chosen: str | None) -> dict[str, Any]:
    """What the request form shows besides the values: lists and the ESS's commitments."""
    sla = settings.sla
    business = sla.calendar == "business"
    return {
        "section": "new",
        "specialties": specialties,
        "chosen": chosen,
        "max_length": TEXT_MAX_LENGTH,
        "max_files": MAX_FILES,
        "max_mb": settings.attachment_max_bytes // (1024 * 1024),
        "hours": " ouvrées" if business else "",
        "urgent_ack": display.commitment(sla.urgent.acknowledge_within),
        "urgent_answer": display.commitment(sla.urgent.answer_within),
        "standard_ack": display.commitment(sla.standard.acknowledge_within),
        "standard_answer": display.commitment(sla.standard.answer_within),
    }


class RequestFormController(Controller):
    path = "/demandes/nouvelle"
    guards = [requires(Role.REQUESTER)]

    @get("/", name="web_request_form")
    async def form(
        self,
        request: Request[Any, Any, Any],
        read_session: DbSession,
        settings: NamedDependency[Settings],
        specialty: Annotated[str | None, QueryParameter(name="specialty", required=False)] = None,
    ) -> Template:
        """The request form (the specialty in the address preselects it)."""
        specialties = await offered_specialties(read_session)
        if specialty is None and len(specialties) == 1:
            specialty = specialties[0].code
        values = {"specialty": specialty or "", "priority": "standard"}
        return page(
            request,
            "requests/new.html",
            values=values,
            **form_context(specialties, settings, specialty),
        )

    @get("/sous-specialites", name="web_subspecialties")
    async def subspecialties(
        self,
        request: Request[Any, Any, Any],
        read_session: DbSession,
        specialty: Annotated[str | None, QueryParameter(name="specialty", required=False)] = None,
    ) -> Template:
        """The sub-specialty field for a specialty (HTMX swaps it in as the specialty changes)."""
        specialties = await offered_specialties(read_session)
        return page(
            request,
            "requests/_subspecialty.html",
            specialties=specialties,
            chosen=specialty,
            values={"specialty": specialty or ""},
        )

    @post("/", name=SUBMIT_HANDLER)
    async def submit(
        self,
        request: Request[Any, Any, Any],
        session: DbSession,
        now: Now,
        policy: Policy,
        vault: Keys,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> Redirect:
        """Send the request with its attachments, in one transaction; then show it."""
        form = await request.form()
        values = text_fields(form)
        chosen_files = files(form)
        data = nest(
            values,
            checkboxes=["consent"],
            optional=["subspecialty", "patient.ins"],
            names=REQUEST_FIELDS,
        )
        created, errors = validate(RequestCreate, data)
        if len(chosen_files) > MAX_FILES:
            errors["file"] = f"{MAX_FILES} pièces jointes au plus par envoi."

        async def rejected(errors: dict[str, str], status: int) -> FormRejected:
            specialties = await offered_specialties(session)
            if chosen_files and "file" not in errors:
                errors["file"] = (
                    "Choisissez de nouveau vos pièces jointes (elles n'ont pas été gardées)."
                )
            shown = dict(values)
            if "consent" in values:
                shown["consent"] = "on"
            return FormRejected(
                "requests/new.html",
                form_context(specialties, settings, values.get("specialty")),
                shown,
                errors,
                status_code=status,
            )

        if created is None or errors:
            raise await rejected(errors, 422)
        try:
            submitted = await service.submit(
                session, current_user, created, now=now, policy=policy, vault=vault
            )
            for upload in chosen_files:
                await attachments.upload(
                    session,
                    current_user,
                    submitted.id,
                    filename=upload.filename,
                    source=upload.file,
                    now=now,
                    vault=vault,
                    directory=settings.attachments_dir(),
                    limit=settings.attachment_max_bytes,
                )
        except DomainError as exc:
            raise await rejected(domain_errors(exc, file_field="file"), domain_status(exc)) from exc
        finally:
            for upload in chosen_files:
                await upload.close()
        return Redirect(
            f"/demandes/{submitted.id}", status_code=303, cookies=[flash_cookie("submitted")]
        )
