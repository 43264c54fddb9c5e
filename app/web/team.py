"""``/coordination/equipe``: the specialties, the accounts and their invitations, the load
(the roster CSV import is ``app.web.roster``).

Every change goes through the services the API uses (``users``, ``accounts``, ``roster``,
``specialties``).
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import requires
from app.context import AppContext
from app.services import accounts as account_service
from app.services import specialties as specialty_service
from app.services import users as user_service
from app.services.specialties import in_service, list_specialties
from app.web.forms import (
    FormRejected,
    domain_errors,
    domain_status,
    nest,
    text_fields,
    validate,
)
from app.web.team_list import Listing, PageShown, RoleShown, SearchText, accounts_context
from app.web.templating import flash_cookie, page
from config import Settings
from models import (
    Role,
    SpecialtyCreate,
    SpecialtyUpdate,
    SubspecialtyCreate,
    SubspecialtyUpdate,
    User,
    UserCreate,
    UserUpdate,
)
from models.errors import DomainError

UserId = FromPath[uuid.UUID]
Code = FromPath[str]
SPECIALTIES = "/coordination/equipe#specialites"
INVITE_FIELDS = ("role", "email", "name", "rpps", "specialty", "subspecialties", "capacity")
ROLE_NAMES = {
    Role.SPECIALIST: "Spécialiste",
    Role.REQUESTER: "Demandeur",
    Role.COORDINATOR: "Coordination",
}


async def team_context(session: AsyncSession, listing: Listing | None = None) -> dict[str, Any]:
    """The specialties, and one page of the accounts with their load (open requests /
    capacity): ``listing``'s, else the specialists'.

    ``catalogue`` holds every specialty, retired ones too (the section that manages
    them); ``specialties`` only those that may be given to someone new (the invitation).
    """
    catalogue = await list_specialties(session)
    specialties = in_service(catalogue)
    return {
        "section": "coordination",
        "tab": "team",
        "specialties": specialties,
        "catalogue": catalogue,
        "role_names": ROLE_NAMES,
        "sub_names": {(s.code, sub.code): sub.name for s in catalogue for sub in s.subspecialties},
        **await accounts_context(session, listing or Listing()),
    }


def invited(settings: Settings) -> Cookie:
    """The flash after an invitation: sent, or held while no SMTP server is configured."""
    return flash_cookie("invited" if settings.smtp.host else "invited_held")


class TeamController(Controller):
    path = "/coordination/equipe"
    guards = [requires(Role.COORDINATOR)]

    @get("/", name="web_team")
    async def team(
        self,
        request: Request[Any, Any, Any],
        read_session: NamedDependency[AsyncSession],
        role: RoleShown = Role.SPECIALIST,
        q: SearchText = "",
        page_number: PageShown = 1,
    ) -> Template:
        """The team: specialties, accounts (one role, searched, by page), invitations, load;
        the roster import."""
        listing = Listing(role=role, text=q, page=page_number)
        return page(
            request,
            "coordination/team.html",
            values={"role": str(role)},
            **await team_context(read_session, listing),
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
            shown_after = Listing(role=user.role, text=user.email).link()  # the new account
        except (DomainError, FormRejected) as exc:
            if isinstance(exc, DomainError):
                errors, status = domain_errors(exc), domain_status(exc)
            else:
                status = 422
            async with context.db.reading() as read_session:
                shown = await team_context(read_session)
            raise FormRejected("coordination/team.html", shown, values, errors, status) from exc
        return Redirect(shown_after, status_code=303, cookies=[invited(settings)])

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
            Listing(role=user.role).link(), status_code=303, cookies=[invited(settings)]
        )

    @post("/comptes/{user_id:uuid}/activation", name="web_activation")
    async def activation(
        self,
        request: Request[Any, Any, Any],
        user_id: UserId,
        session: NamedDependency[AsyncSession],
        context: NamedDependency[AppContext],
        now: NamedDependency[Any],
        policy: NamedDependency[Any],
        settings: NamedDependency[Settings],
        current_user: NamedDependency[User],
    ) -> Redirect:
        """Deactivate an account (its sessions end, it receives nothing more), or reactivate it.

        Refused, on the team page: one's own account, and a specialist who still holds
        open requests (they would wait for nobody)."""
        values = text_fields(await request.form())
        active = values.get("active") == "true"
        user = await user_service.get_user(session, user_id)
        try:
            await user_service.update_user(
                session, user, UserUpdate(active=active), now=now, policy=policy,
                settings=settings, actor=current_user,
            )  # fmt: skip
        except DomainError as exc:
            async with context.db.reading() as read_session:
                shown = await team_context(read_session, Listing(role=user.role))
            raise FormRejected(
                "coordination/team.html",
                shown,
                {"role": str(user.role)},
                {"_form": str(exc)},
                domain_status(exc),
            ) from exc
        key = "reactivated" if active else "deactivated"
        return Redirect(
            Listing(role=user.role).link(), status_code=303, cookies=[flash_cookie(key)]
        )


def _field_errors(exc: DomainError, prefix: str) -> dict[str, str]:
    """A service's refusal beside the form's field (``prefix.name``), else above the form."""
    return {
        (f"{prefix}.{name}" if name != "_form" else name): message
        for name, message in domain_errors(exc).items()
    }


class SpecialtyFormController(Controller):
    """The Spécialités section: add, rename, retire and put back in service.

    Several small forms share the page, each posting the API's field names (``code``,
    ``name``, ``retired``); what comes back on an error is keyed by the form (``prefix``),
    so each message lands beside its own field and no other form shows the typed values.
    """

    path = "/coordination/equipe"
    guards = [requires(Role.COORDINATOR)]

    @staticmethod
    async def _rejected(
        context: AppContext,
        values: dict[str, str],
        errors: dict[str, str],
        status: int,
    ) -> FormRejected:
        async with context.db.reading() as read_session:
            shown = await team_context(read_session)
        return FormRejected("coordination/team.html", shown, values, errors, status)

    async def _rename(
        self,
        context: AppContext,
        key: str,
        name: str,
        change: Callable[[str], Awaitable[None]],
        flash: str,
    ) -> Redirect:
        """Rename through ``change`` (its field named ``key``); a refusal shows the team page
        with the message beside that row's field and the name typed."""
        try:
            await change(key)
        except FormRejected as exc:
            raise await self._rejected(context, {key: name}, exc.errors, 422) from exc
        except DomainError as exc:
            raise await self._rejected(
                context, {key: name}, {key: str(exc)}, domain_status(exc)
            ) from exc
        return Redirect(SPECIALTIES, status_code=303, cookies=[flash_cookie(flash)])

    @post("/specialites", name="web_specialty_create")
    async def create_specialty(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        context: NamedDependency[AppContext],
        now: NamedDependency[Any],
        current_user: NamedDependency[User],
    ) -> Redirect:
        """Add a specialty (its sub-specialties are added one by one after)."""
        typed = text_fields(await request.form())
        prefix = "new-specialty"
        values = {f"{prefix}.{name}": typed.get(name, "") for name in ("code", "name")}
        data = {name: typed.get(name, "").strip() for name in ("code", "name")}
        created, errors = validate(SpecialtyCreate, data)
        if created is None:
            errors = {f"{prefix}.{name}": message for name, message in errors.items()}
            raise await self._rejected(context, values, errors, 422)
        try:
            await specialty_service.create_specialty(
                session, created, now=now, actor_id=current_user.id
            )
        except DomainError as exc:
            raise await self._rejected(
                context, values, _field_errors(exc, prefix), domain_status(exc)
            ) from exc
        return Redirect(SPECIALTIES, status_code=303, cookies=[flash_cookie("specialty_created")])

    @post("/sous-specialites", name="web_subspecialty_create")
    async def create_subspecialty(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        context: NamedDependency[AppContext],
        now: NamedDependency[Any],
        current_user: NamedDependency[User],
    ) -> Redirect:
        """Add a sub-specialty to the specialty chosen in the form."""
        typed = text_fields(await request.form())
        prefix = "new-subspecialty"
        names = ("specialty", "code", "name")
        values = {f"{prefix}.{name}": typed.get(name, "") for name in names}
        specialty = typed.get("specialty", "").strip()
        created, errors = validate(
            SubspecialtyCreate, {name: typed.get(name, "").strip() for name in ("code", "name")}
        )
        errors = {f"{prefix}.{name}": message for name, message in errors.items()}
        if not specialty:
            errors[f"{prefix}.specialty"] = "Choisissez la spécialité."
        if created is None or errors:
            raise await self._rejected(context, values, errors, 422)
        try:
            await specialty_service.add_subspecialty(
                session, specialty, created, now=now, actor_id=current_user.id
            )
        except DomainError as exc:
            errors = _field_errors(exc, prefix)
            if domain_status(exc) == 404:
                errors = {f"{prefix}.specialty": str(exc)}
            raise await self._rejected(context, values, errors, domain_status(exc)) from exc
        return Redirect(
            SPECIALTIES, status_code=303, cookies=[flash_cookie("subspecialty_created")]
        )

    @post("/specialites/{code:str}", name="web_specialty_rename")
    async def rename_specialty(
        self,
        request: Request[Any, Any, Any],
        code: Code,
        session: NamedDependency[AsyncSession],
        context: NamedDependency[AppContext],
        now: NamedDependency[Any],
        current_user: NamedDependency[User],
    ) -> Redirect:
        """Give a specialty another name (its code stays)."""
        name = text_fields(await request.form()).get("name", "")

        async def change(key: str) -> None:
            await specialty_service.update_specialty(
                session,
                code,
                _name_update(SpecialtyUpdate, name, key),
                now=now,
                actor_id=current_user.id,
            )

        return await self._rename(
            context, f"specialty-name.{code}", name, change, "specialty_renamed"
        )

    @post("/specialites/{code:str}/etat", name="web_specialty_state")
    async def specialty_state(
        self,
        request: Request[Any, Any, Any],
        code: Code,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[Any],
        current_user: NamedDependency[User],
    ) -> Redirect | Template:
        """Retire a specialty (``retired=true``; once confirmed, after a page saying what it
        changes) or put it back in service."""
        values = text_fields(await request.form())
        retired = values.get("retired") == "true"
        if retired and values.get("confirm") != "oui":
            impact = await specialty_service.retirement_impact(session, code)
            return page(
                request, "coordination/retire.html", section="coordination", tab="team", **impact
            )
        await specialty_service.update_specialty(
            session, code, SpecialtyUpdate(retired=retired), now=now, actor_id=current_user.id
        )
        key = "specialty_retired" if retired else "specialty_restored"
        return Redirect(SPECIALTIES, status_code=303, cookies=[flash_cookie(key)])

    @post("/specialites/{code:str}/sous-specialites/{sub:str}", name="web_subspecialty_rename")
    async def rename_subspecialty(
        self,
        request: Request[Any, Any, Any],
        code: Code,
        sub: Code,
        session: NamedDependency[AsyncSession],
        context: NamedDependency[AppContext],
        now: NamedDependency[Any],
        current_user: NamedDependency[User],
    ) -> Redirect:
        """Give a sub-specialty another name (its code stays)."""
        name = text_fields(await request.form()).get("name", "")

        async def change(key: str) -> None:
            await specialty_service.update_subspecialty(
                session,
                code,
                sub,
                _name_update(SubspecialtyUpdate, name, key),
                now=now,
                actor_id=current_user.id,
            )

        return await self._rename(
            context, f"subspecialty-name.{code}.{sub}", name, change, "subspecialty_renamed"
        )

    @post("/specialites/{code:str}/sous-specialites/{sub:str}/etat", name="web_subspecialty_state")
    async def subspecialty_state(
        self,
        request: Request[Any, Any, Any],
        code: Code,
        sub: Code,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[Any],
        current_user: NamedDependency[User],
    ) -> Redirect:
        """Retire a sub-specialty (``retired=true``) or put it back in service."""
        retired = text_fields(await request.form()).get("retired") == "true"
        await specialty_service.update_subspecialty(
            session,
            code,
            sub,
            SubspecialtyUpdate(retired=retired),
            now=now,
            actor_id=current_user.id,
        )
        key = "subspecialty_retired" if retired else "subspecialty_restored"
        return Redirect(SPECIALTIES, status_code=303, cookies=[flash_cookie(key)])


Update = TypeVar("Update", SpecialtyUpdate, SubspecialtyUpdate)


def _name_update(model: type[Update], name: str, key: str) -> Update:
    """The rename form's ``name``, checked by the API's schema; its error under ``key``."""
    update, errors = validate(model, {"name": name.strip()})
    if update is None:
        message = next(iter(errors.values())) if name.strip() else "Le nom ne peut pas être vide."
        raise FormRejected("coordination/team.html", {}, {key: name}, {key: message})
    return update
