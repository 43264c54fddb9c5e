"""``/coordination/equipe/comptes/{id}``: one account as the coordinator keeps it.

The account's fields that make sense for its role (changed through ``users.update_user``,
as ``PATCH /api/v1/users/{id}``); for a specialist, their open load and open requests
(reference, status, priority, deadline: never clinical content), their weekly schedule
and their absences, changed on their behalf with the forms of their own page
(``app.web.availability_forms``).
"""

import uuid
from datetime import datetime
from functools import partial
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import requires
from app.context import AppContext
from app.dependencies import CurrentUser, DbSession, Now, Policy
from app.services import availability, workspace
from app.services import users as user_service
from app.services.specialties import list_specialties
from app.web.availability_forms import save_absence, save_schedule, schedule_and_absences
from app.web.forms import (
    FormRejected,
    domain_errors,
    domain_status,
    nest,
    text_fields,
    validate,
)
from app.web.team import ROLE_NAMES
from app.web.templating import flash_cookie, page
from config import Settings
from models import Role, Status, User, UserRead, UserUpdate
from models.errors import DomainError

UserId = FromPath[uuid.UUID]
TEMPLATE = "coordination/account.html"
# The fields the form shows for each role; the checkboxes among them.
FIELDS = {
    Role.SPECIALIST: (
        "name",
        "email",
        "rpps",
        "specialty",
        "capacity",
        "member_since",
        "member_until",
    ),
    Role.REQUESTER: ("name", "email", "rpps"),
    Role.COORDINATOR: ("name", "email"),
}
CHECKBOXES = {
    Role.SPECIALIST: ("advanced_consultations",),
    Role.REQUESTER: ("treating_physician",),
    Role.COORDINATOR: (),
}
# Left empty, these are removed (null), as the API's PATCH takes them.
CLEARABLE = ("rpps", "member_since", "member_until")


def form_values(account: UserRead) -> dict[str, str]:
    """The account as the form shows it before any change."""
    return {
        "name": account.name,
        "email": account.email,
        "rpps": account.rpps or "",
        "specialty": account.specialty or "",
        "capacity": "" if account.capacity is None else str(account.capacity),
        "member_since": account.member_since.isoformat() if account.member_since else "",
        "member_until": account.member_until.isoformat() if account.member_until else "",
        "advanced_consultations": "on" if account.advanced_consultations else "",
        "treating_physician": "on" if account.treating_physician else "",
        "active": "on" if account.active else "",
    }


def update_data(account: User, viewer: User, form: FormMultiDict) -> dict[str, Any]:
    """The form as ``UserUpdate``'s JSON: only the role's fields, every one of them set."""
    values = text_fields(form)
    checkboxes = list(CHECKBOXES[account.role])
    if account.id != viewer.id:  # nobody deactivates their own account from here
        checkboxes.append("active")
    data = nest(values, checkboxes=checkboxes, names=FIELDS[account.role])
    for name in CLEARABLE:
        if name in data and not data[name].strip():
            data[name] = None
    if account.role == Role.SPECIALIST:
        data["subspecialties"] = chosen_subspecialties(form)
    return data


def chosen_subspecialties(form: FormMultiDict) -> list[str]:
    return [code for code in form.getall("subspecialties", []) if isinstance(code, str) and code]


async def open_requests(session: AsyncSession, specialist: User, now: datetime) -> list[Any]:
    """The specialist's open requests, most urgent first: their flow, never their content."""
    items, _ = await workspace.queue(session, specialist, workspace.Tab.OPEN)
    return [
        {
            "id": item.request.id,
            "reference": item.request.reference,
            "status": item.request.status,
            "priority": item.request.priority,
            "sla_state": item.request.sla_state,
            "due": item.due,
            "paused": item.request.status == Status.AWAITING_INFO,
        }
        for item in items
    ]


async def account_context(
    session: AsyncSession,
    account: User,
    viewer: User,
    *,
    settings: Settings,
    now: datetime,
    zone: Any,
) -> dict[str, Any]:
    """What the account page shows, without the form's values."""
    read = (await user_service.to_read(session, [account]))[0]
    context: dict[str, Any] = {
        "section": "coordination",
        "tab": "team",
        "account": read,
        "role_names": ROLE_NAMES,
        "own_account": account.id == viewer.id,
        "now": now,
        "specialties": await list_specialties(session),
        "chosen": read.subspecialties,
    }
    if account.role == Role.SPECIALIST:
        context.update(
            await schedule_and_absences(session, account, settings, now, zone),
            own_page=False,
            availability_action=f"/coordination/equipe/comptes/{account.id}",
            open_count=account.open_count,
            open_requests=await open_requests(session, account, now),
        )
    return context


class TeamAccountController(Controller):
    path = "/coordination/equipe/comptes/{user_id:uuid}"
    guards = [requires(Role.COORDINATOR)]

    async def _rejected(
        self,
        context: AppContext,
        user_id: uuid.UUID,
        viewer: User,
        settings: Settings,
        now: datetime,
        zone: Any,
        values: dict[str, str],
        errors: dict[str, str],
        status: int = 422,
        chosen: list[str] | None = None,
    ) -> FormRejected:
        """The page again, read afresh: the failed form's changes are rolled back."""
        async with context.db.reading() as read_session:
            account = await user_service.get_user(read_session, user_id)
            shown = await account_context(
                read_session, account, viewer, settings=settings, now=now, zone=zone
            )
        if chosen is not None:
            shown["chosen"] = chosen
        return FormRejected(TEMPLATE, shown, values, errors, status_code=status)

    @get("/", name="web_team_account")
    async def show(
        self,
        request: Request[Any, Any, Any],
        user_id: UserId,
        read_session: DbSession,
        now: Now,
        policy: Policy,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> Template:
        """The account's fields, and a specialist's load, requests, schedule and absences."""
        account = await user_service.get_user(read_session, user_id)
        context = await account_context(
            read_session, account, current_user, settings=settings, now=now, zone=policy.zone
        )
        return page(request, TEMPLATE, values=form_values(context["account"]), **context)

    @post("/", name="web_team_account_update")
    async def update(
        self,
        request: Request[Any, Any, Any],
        user_id: UserId,
        session: DbSession,
        context: NamedDependency[AppContext],
        now: Now,
        policy: Policy,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> Redirect:
        """Change the account; a new address is used once the link sent to it is followed."""
        form = await request.form()
        values = text_fields(form)
        account = await user_service.get_user(session, user_id)
        data, errors = validate(UserUpdate, update_data(account, current_user, form))
        try:
            if data is None:
                raise FormRejected(TEMPLATE, {}, values, errors)
            new_email = data.email is not None and data.email != account.email
            invited = account.password_hash is None
            await user_service.update_user(
                session, account, data, now=now, policy=policy, settings=settings,
                actor=current_user,
            )  # fmt: skip
        except (DomainError, FormRejected) as exc:
            status = 422
            if isinstance(exc, DomainError):
                errors, status = domain_errors(exc), domain_status(exc)
            raise await self._rejected(
                context, user_id, current_user, settings, now, policy.zone, values, errors,
                status, chosen_subspecialties(form),
            ) from exc  # fmt: skip
        key = "account_saved"
        if new_email:
            key = "account_saved_reinvited" if invited else "account_saved_email_pending"
        return Redirect(
            f"/coordination/equipe/comptes/{user_id}", status_code=303, cookies=[flash_cookie(key)]
        )

    @post("/planning", name="web_team_schedule")
    async def schedule(
        self,
        request: Request[Any, Any, Any],
        user_id: UserId,
        session: DbSession,
        context: NamedDependency[AppContext],
        now: Now,
        policy: Policy,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> Redirect:
        """Replace the specialist's weekly schedule (empty: whenever the ESS is open)."""
        values = text_fields(await request.form())
        user = await availability.specialist_for(session, current_user, user_id)
        rejected = partial(
            self._rejected, context, user_id, current_user, settings, now, policy.zone, values
        )
        await save_schedule(session, user, values, now=now, policy=policy, rejected=rejected)
        return Redirect(
            f"/coordination/equipe/comptes/{user_id}#planning",
            status_code=303,
            cookies=[flash_cookie("their_schedule_saved")],
        )

    @post("/absences", name="web_team_add_absence")
    async def add_absence(
        self,
        request: Request[Any, Any, Any],
        user_id: UserId,
        session: DbSession,
        context: NamedDependency[AppContext],
        now: Now,
        policy: Policy,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> Redirect:
        """Declare an absence on the specialist's behalf: nothing is assigned to them during it."""
        values = text_fields(await request.form())
        user = await availability.specialist_for(session, current_user, user_id)
        rejected = partial(
            self._rejected, context, user_id, current_user, settings, now, policy.zone, values
        )
        await save_absence(session, user, values, now=now, zone=policy.zone, rejected=rejected)
        return Redirect(
            f"/coordination/equipe/comptes/{user_id}#absences",
            status_code=303,
            cookies=[flash_cookie("absence_added")],
        )

    @post("/absences/{absence_id:uuid}/annulation", name="web_team_remove_absence")
    async def remove_absence(
        self,
        user_id: UserId,
        absence_id: FromPath[uuid.UUID],
        session: DbSession,
        now: Now,
        policy: Policy,
        current_user: CurrentUser,
    ) -> Redirect:
        """Cancel one of the specialist's absences (waiting requests may go to them at once)."""
        user = await availability.specialist_for(session, current_user, user_id)
        await availability.remove_absence(session, user, absence_id, now=now, policy=policy)
        return Redirect(
            f"/coordination/equipe/comptes/{user_id}#absences",
            status_code=303,
            cookies=[flash_cookie("absence_removed")],
        )
