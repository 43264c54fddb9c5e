"""A specialist's schedule and absences as the pages show and take them, for the
specialist's own page (``/compte/disponibilites``) and the coordinator's account page.

The schedule is written as French lines, « lundi 08:00–12:00 », one a slot; the API's
schemas check what the forms send and ``app.services.availability`` applies it. A form
that fails is shown again by the page that sent it: each handler passes a ``rejected``
callback that builds that page's ``FormRejected`` from the errors and the status.
"""

import re
from collections.abc import Awaitable, Callable
from datetime import datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.services import availability
from app.web.display import WEEKDAYS, french_datetime
from app.web.forms import FormRejected, domain_errors, domain_status, nest, validate
from config import Settings
from models import AbsenceCreate, ScheduleUpdate, SlotIn, User
from models.errors import DomainError
from router import DispatchPolicy

# The errors found (field -> message) and the HTTP status -> the page to show again.
Rejected = Callable[[dict[str, str], int], Awaitable[FormRejected]]

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


def local_moment(value: str, zone: Any) -> str:
    """A ``datetime-local`` value as Paris time with its offset (the API's schema wants one)."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


async def schedule_and_absences(
    session: AsyncSession, user: User, settings: Settings, now: datetime, zone: Any
) -> dict[str, Any]:
    """What the schedule and absences sections show: the slots, the text to edit, the
    current and coming absences (with their reason), the earliest moment to choose."""
    schedule = await availability.read_schedule(session, user)
    absences = [a for a in await availability.list_absences(session, user) if a.end > now]
    return {
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
        "business": settings.sla.calendar == "business",
        "now_local": now.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
    }


async def save_schedule(
    session: AsyncSession,
    user: User,
    values: dict[str, str],
    *,
    now: datetime,
    policy: DispatchPolicy,
    rejected: Rejected,
) -> None:
    """Replace the weekly schedule with the text area's lines (empty: whenever open)."""
    slots, problems = parse_schedule(values.get("slots", ""))
    data, errors = validate(ScheduleUpdate, {"slots": slots})
    if problems or data is None:
        message = " ; ".join(problems) if problems else _first(errors)
        raise await rejected({"slots": message}, 422)
    try:
        await availability.replace_schedule(session, user, data, now=now, policy=policy)
    except DomainError as exc:
        raise await rejected(domain_errors(exc), domain_status(exc)) from exc


async def save_absence(
    session: AsyncSession,
    user: User,
    values: dict[str, str],
    *,
    now: datetime,
    zone: Any,
    rejected: Rejected,
) -> None:
    """Record the absence the form describes: no request is assigned during it."""
    shown = {
        **values,
        "start": local_moment(values.get("start", ""), zone),
        "end": local_moment(values.get("end", ""), zone),
    }
    data, errors = validate(
        AbsenceCreate,
        nest(shown, optional=["reason", "start", "end"], names=["start", "end", "reason"]),
    )
    if data is None:
        for name in ("start", "end"):
            if not values.get(name, "").strip():
                errors[name] = "Champ obligatoire."
        raise await rejected(errors, 422)
    await availability.add_absence(session, user, data, now=now)


def _first(errors: dict[str, str]) -> str:
    return next(iter(errors.values()), "Planning invalide.")
