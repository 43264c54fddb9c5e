"""``/compte/disponibilites``: a specialist's weekly schedule, absences, capacity and
sub-specialties, and what the dispatcher does with them.

The schedule is shown and edited as French lines, « lundi 08:00–12:00 », one a slot
(``app.web.availability_forms``, shared with the coordinator's account page); the
API's schema checks them and ``app.services.availability`` applies them (waiting
requests are dispatched again at once, as after the API's ``PUT``).
"""

import uuid
from datetime import datetime
from functools import partial
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import requires
from app.dependencies import CurrentUser, DbSession, Now, Policy
from app.services import availability
from app.services.people import load
from app.services.specialties import list_specialties
from app.web.availability_forms import save_absence, save_schedule, schedule_and_absences
from app.web.forms import FormRejected, text_fields
from app.web.templating import flash_cookie, page
from config import Settings
from models import Role, User


async def availability_context(
    session: AsyncSession, user: User, settings: Settings, now: datetime, zone: Any
) -> dict[str, Any]:
    specialties = {s.code: s for s in await list_specialties(session)}
    specialty = specialties.get(user.specialty_code or "")
    sub_names = {sub.code: sub.name for sub in (specialty.subspecialties if specialty else [])}
    codes = await subspecialties_of(session, user)
    covered = [sub_names.get(code, code) for code in codes]
    return {
        "section": "account",
        "own_page": True,
        "availability_action": "/compte/disponibilites",
        **await schedule_and_absences(session, user, settings, now, zone),
        "specialty_name": specialty.name if specialty else user.specialty_code,
        "covered": covered,
        "capacity": user.capacity,
        "open_count": user.open_count,
        "fallback": settings.dispatch.fallback_to_specialty,
    }


async def subspecialties_of(session: AsyncSession, user: User) -> list[str]:
    people = await load(session, [user.id])
    person = people.by_id.get(user.id)
    return person.subspecialties if person else []


class AvailabilityController(Controller):
    path = "/compte/disponibilites"
    guards = [requires(Role.SPECIALIST)]

    async def _rejected(
        self,
        session: AsyncSession,
        user: User,
        settings: Settings,
        now: datetime,
        zone: Any,
        values: dict[str, str],
        errors: dict[str, str],
        status: int = 422,
    ) -> FormRejected:
        context = await availability_context(session, user, settings, now, zone)
        return FormRejected(
            "specialist/availability.html", context, values, errors, status_code=status
        )

    @get("/", name="web_availability")
    async def show(
        self,
        request: Request[Any, Any, Any],
        session: DbSession,
        now: Now,
        policy: Policy,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> Template:
        """The schedule, the absences, the capacity and the sub-specialties."""
        user = await availability.specialist_for(session, current_user, current_user.id)
        context = await availability_context(session, user, settings, now, policy.zone)
        return page(request, "specialist/availability.html", **context)

    @post("/planning", name="web_schedule")
    async def schedule(
        self,
        request: Request[Any, Any, Any],
        session: DbSession,
        now: Now,
        policy: Policy,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> Redirect:
        """Replace the weekly schedule (empty: whenever the ESS is open)."""
        values = text_fields(await request.form())
        user = await availability.specialist_for(session, current_user, current_user.id)
        rejected = partial(self._rejected, session, user, settings, now, policy.zone, values)
        await save_schedule(session, user, values, now=now, policy=policy, rejected=rejected)
        return Redirect(
            "/compte/disponibilites", status_code=303, cookies=[flash_cookie("schedule_saved")]
        )

    @post("/absences", name="web_add_absence")
    async def add_absence(
        self,
        request: Request[Any, Any, Any],
        session: DbSession,
        now: Now,
        policy: Policy,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> Redirect:
        """Declare an absence: no request is assigned to you during it."""
        values = text_fields(await request.form())
        user = await availability.specialist_for(session, current_user, current_user.id)
        rejected = partial(self._rejected, session, user, settings, now, policy.zone, values)
        await save_absence(session, user, values, now=now, zone=policy.zone, rejected=rejected)
        return Redirect(
            "/compte/disponibilites", status_code=303, cookies=[flash_cookie("absence_added")]
        )

    @post("/absences/{absence_id:uuid}/annulation", name="web_remove_absence")
    async def remove_absence(
        self,
        absence_id: FromPath[uuid.UUID],
        session: DbSession,
        now: Now,
        policy: Policy,
        current_user: CurrentUser,
    ) -> Redirect:
        """Cancel an absence (waiting requests may come to you at once)."""
        user = await availability.specialist_for(session, current_user, current_user.id)
        await availability.remove_absence(session, user, absence_id, now=now, policy=policy)
        return Redirect(
            "/compte/disponibilites", status_code=303, cookies=[flash_cookie("absence_removed")]
        )
