"""``/compte/disponibilites``: a specialist's weekly schedule, absences, capacity and
sub-specialties, and what the dispatcher does with them.

The schedule is shown and edited as French lines, « lundi 08:00–12:00 », one a slot;
the API's schema checks them and ``app.services.availability`` applies them (waiting
requests are dispatched again at once, as after the API's ``PUT``).
"""

import re
import uuid
from datetime import datetime, time
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
from app.web.display import WEEKDAYS, french_datetime
from app.web.forms import FormRejected, domain_errors, domain_status, nest, text_fields, validate
from app.web.templating import flash_cookie, page
from config import Settings
from models import AbsenceCreate, Role, ScheduleUpdate, SlotIn, User
from models.errors import DomainError

DEFAULT_OPENING = {day: [(time(8), time(18))] for day in range(5)}
LINE = re.compile(
    r"^\s*(?P<day>[a-zé]+)\.?\s+(?P<h1>\d{1,2})\s*[:h]\s*(?P<m1>\d{2})?\s*"
    r"(?:-|–|—|à|a)\s*(?P<h2>\d{1,2})\s*[:h]\s*(?P<m2>\d{2})?\s*$",
    re.IGNORECASE,
)
DAY_NAMES = {name: index for index, name in enumerate(WEEKDAYS)}
DAY_NAMES.update({name[:3]: index for index, name in enumerate(WEEKDAYS)})


def slot_line(slot: SlotIn) -> str:
    """« lundi 08:00–12:00 » (24:00 for a slot that runs to midnight)."""
    end = "24:00" if slot.end == time(0) else f"{slot.end:%H:%M}"
    return f"{WEEKDAYS[slot.weekday]} {slot.start:%H:%M}–{end}"


def parse_schedule(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The slots written one a line, or what is wrong with which line."""
    slots: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        found = LINE.match(line.strip().lower())
        day = DAY_NAMES.get(found["day"].lower()) if found else None
        if found is None or day is None:
            problems.append(
                f"ligne {number} (« {line.strip()[:40]} ») : écrivez le jour puis les heures, "
                "par exemple « lundi 08:00–12:00 »"
            )
            continue
        end = f"{int(found['h2']):02d}:{found['m2'] or '00'}"
        slots.append(
            {
                "weekday": day,
                "start": f"{int(found['h1']):02d}:{found['m1'] or '00'}",
                "end": "00:00" if end == "24:00" else end,
            }
        )
    return slots, problems


def on_call(slot: SlotIn, settings: Settings) -> bool:
    """Outside the ESS's opening hours (night, weekend): the specialist is on call."""
    if settings.sla.calendar != "business":
        return False
    opening = settings.sla.opening_slots() or DEFAULT_OPENING
    end = slot.end if slot.end != time(0) else time(23, 59, 59)
    return not any(
        opens <= slot.start and (closes == time(0) or end <= closes)
        for opens, closes in opening.get(slot.weekday, [])
    )


async def availability_context(
    session: AsyncSession, user: User, settings: Settings, now: datetime, zone: Any
) -> dict[str, Any]:
    schedule = await availability.read_schedule(session, user)
    absences = [a for a in await availability.list_absences(session, user) if a.end > now]
    specialties = {s.code: s for s in await list_specialties(session)}
    specialty = specialties.get(user.specialty_code or "")
    sub_names = {sub.code: sub.name for sub in (specialty.subspecialties if specialty else [])}
    codes = await _subspecialties(session, user)
    covered = [sub_names.get(code, code) for code in codes]
    return {
        "section": "account",
        "slots": [{"line": slot_line(s), "on_call": on_call(s, settings)} for s in schedule.slots],
        "schedule_text": "\n".join(slot_line(s) for s in schedule.slots),
        "absences": [
            {
                "id": a.id,
                "start": french_datetime(a.start, zone),
                "end": french_datetime(a.end, zone),
                "reason": a.reason,
                "current": a.start <= now,
            }
            for a in absences
        ],
        "specialty_name": specialty.name if specialty else user.specialty_code,
        "covered": covered,
        "capacity": user.capacity,
        "open_count": user.open_count,
        "business": settings.sla.calendar == "business",
        "fallback": settings.dispatch.fallback_to_specialty,
        "now_local": now.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
    }


async def _subspecialties(session: AsyncSession, user: User) -> list[str]:
    people = await load(session, [user.id])
    person = people.by_id.get(user.id)
    return person.subspecialties if person else []


def local_moment(value: str, zone: Any) -> str:
    """A ``datetime-local`` value as Paris time with its offset (the API's schema wants one)."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


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
        slots, problems = parse_schedule(values.get("slots", ""))
        data, errors = validate(ScheduleUpdate, {"slots": slots})
        if problems or data is None:
            message = " ; ".join(problems) if problems else _first(errors)
            raise await self._rejected(
                session, user, settings, now, policy.zone, values, {"slots": message}
            )
        try:
            await availability.replace_schedule(session, user, data, now=now, policy=policy)
        except DomainError as exc:
            raise await self._rejected(
                session, user, settings, now, policy.zone, values,
                domain_errors(exc), domain_status(exc),
            ) from exc  # fmt: skip
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
        shown = {
            **values,
            "start": local_moment(values.get("start", ""), policy.zone),
            "end": local_moment(values.get("end", ""), policy.zone),
        }
        data, errors = validate(
            AbsenceCreate,
            nest(shown, optional=["reason", "start", "end"], names=["start", "end", "reason"]),
        )
        if data is None:
            for name in ("start", "end"):
                if not values.get(name, "").strip():
                    errors[name] = "Champ obligatoire."
            raise await self._rejected(session, user, settings, now, policy.zone, values, errors)
        await availability.add_absence(session, user, data, now=now)
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


def _first(errors: dict[str, str]) -> str:
    return next(iter(errors.values()), "Planning invalide.")
