"""``/coordination/equipe``: the specialties, the accounts and their invitations, the load,
and the roster CSV import (upload, what would change line by line, confirm).

Every change goes through the services the API uses (``users``, ``accounts``, ``roster``).
"""

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import requires
from app.context import AppContext
from app.services import accounts as account_service
from app.services import users as user_service
from app.services.roster import import_roster
from app.services.specialties import list_specialties
from app.web.forms import (
    FormRejected,
    domain_errors,
    domain_status,
    files,
    nest,
    text_fields,
    validate,
)
from app.web.templating import flash_cookie, page
from config import Settings
from models import Role, User, UserCreate, UserUpdate
from models.errors import DomainError

UserId = FromPath[uuid.UUID]
INVITE_FIELDS = ("role", "email", "name", "rpps", "specialty", "subspecialties", "capacity")
ROLE_NAMES = {
    Role.SPECIALIST: "Spécialiste",
    Role.REQUESTER: "Demandeur",
    Role.COORDINATOR: "Coordination",
}


async def team_context(session: AsyncSession) -> dict[str, Any]:
    """The specialties, and every account with its load (open requests / capacity)."""
    specialties = await list_specialties(session)
    users = await user_service.list_users(session, None)
    reads = await user_service.to_read(session, users)
    load = {user.id: user.open_count for user in users}
    order = {Role.SPECIALIST: 0, Role.COORDINATOR: 1, Role.REQUESTER: 2}
    accounts = sorted(reads, key=lambda u: (order[u.role], u.name.casefold()))
    return {
        "section": "coordination",
        "tab": "team",
        "specialties": specialties,
        "accounts": accounts,
        "load": load,
        "role_names": ROLE_NAMES,
        "sub_names": {
            (s.code, sub.code): sub.name for s in specialties for sub in s.subspecialties
        },
    }


class TeamController(Controller):
    path = "/coordination/equipe"
    guards = [requires(Role.COORDINATOR)]

    @get("/", name="web_team")
    async def team(
        self, request: Request[Any, Any, Any], read_session: NamedDependency[AsyncSession]
    ) -> Template:
        """The team: specialties, accounts, invitations, load; the roster import."""
        return page(
            request,
            "coordination/team.html",
            values={"role": "specialist"},
            **await team_context(read_session),
        )

    @post("/invitation", name="web_invite")
    async def invite(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        context: NamedDependency[AppContext],
        now: NamedDependency[Any],
        policy: NamedDependency[Any],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        """Create an account without a password: its owner is e-mailed an invitation."""
        form = await request.form()
        values = text_fields(form)
        data = nest(values, optional=["rpps", "specialty", "capacity"], names=INVITE_FIELDS)
        data.pop("subspecialties", None)
        subs = [
            code for code in form.getall("subspecialties", []) if isinstance(code, str) and code
        ]
        if subs:
            data["subspecialties"] = subs
        created, errors = validate(UserCreate, data)
        try:
            if created is None:
                raise FormRejected("coordination/team.html", {}, values, errors)
            user = await user_service.create_user(
                session, created, now=now, default_capacity=settings.default_capacity, policy=policy
            )
            await account_service.invite(session, user, now=now, settings=settings)
        except (DomainError, FormRejected) as exc:
            if isinstance(exc, DomainError):
                errors, status = domain_errors(exc), domain_status(exc)
            else:
                status = 422
            async with context.db.reading() as read_session:
                shown = await team_context(read_session)
            raise FormRejected("coordination/team.html", shown, values, errors, status) from exc
        return Redirect(
            "/coordination/equipe#comptes", status_code=303, cookies=[flash_cookie("invited")]
        )

    @post("/comptes/{user_id:uuid}/invitation", name="web_resend_invitation")
    async def resend(
        self,
        user_id: UserId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[Any],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        """E-mail the invitation again (the link sent before stops working)."""
        user = await user_service.get_user(session, user_id)
        await account_service.invite(session, user, now=now, settings=settings)
        return Redirect(
            "/coordination/equipe#comptes", status_code=303, cookies=[flash_cookie("invited")]
        )

    @post("/comptes/{user_id:uuid}/activation", name="web_activation")
    async def activation(
        self,
        request: Request[Any, Any, Any],
        user_id: UserId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[Any],
        policy: NamedDependency[Any],
        settings: NamedDependency[Settings],
        current_user: NamedDependency[User],
    ) -> Redirect:
        """Deactivate an account (its sessions end, it receives nothing more), or reactivate it."""
        values = text_fields(await request.form())
        active = values.get("active") == "true"
        user = await user_service.get_user(session, user_id)
        await user_service.update_user(
            session, user, UserUpdate(active=active), now=now, policy=policy, settings=settings
        )
        key = "reactivated" if active else "deactivated"
        return Redirect(
            "/coordination/equipe#comptes", status_code=303, cookies=[flash_cookie(key)]
        )

    @post("/tableau", name="web_roster_preview")
    async def roster_preview(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[Any],
        policy: NamedDependency[Any],
        settings: NamedDependency[Settings],
    ) -> Template:
        """What the roster file would change, line by line (nothing is written yet)."""
        form = await request.form()
        chosen = files(form)
        if chosen:
            try:
                content = await chosen[0].read()
            finally:
                for upload in chosen:
                    await upload.close()
        else:
            content = str(form.get("content") or "").encode()
        report = await import_roster(
            session, content, apply=False, now=now, policy=policy, settings=settings
        )
        return page(
            request,
            "coordination/roster.html",
            section="coordination",
            tab="team",
            report=report,
            content=content.decode("utf-8-sig", errors="replace"),
            status_code=200 if not report.errors else 422,
        )

    @post("/tableau/confirmation", name="web_roster_apply")
    async def roster_apply(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[Any],
        policy: NamedDependency[Any],
        settings: NamedDependency[Settings],
    ) -> Template | Redirect:
        """Import the roster checked on the previous page (all lines, or none)."""
        content = str((await request.form()).get("content") or "").encode()
        report = await import_roster(
            session, content, apply=True, now=now, policy=policy, settings=settings
        )
        if report.errors:
            return page(
                request,
                "coordination/roster.html",
                section="coordination",
                tab="team",
                report=report,
                content=content.decode(),
                status_code=422,
            )
        return Redirect(
            "/coordination/equipe#comptes",
            status_code=303,
            cookies=[flash_cookie("roster_imported")],
        )
