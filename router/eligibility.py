"""The dispatcher's rules evaluated by the database: one query filters a pool of any size.

Each rule is written once here as the SQL condition under which a specialist
*fails* it, in the dispatcher's fixed order. The eligible are those who fail none
(ordered by rotation for the choice); the first failing rule, as a ``CASE``, is the
reason recorded for everyone else. ``router.decision`` is the same rules as a pure
model; tests check the two agree.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, time
from functools import cache
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    Time,
    Uuid,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel.sql.sqltypes import UTCDateTime

from models import (
    OPEN_STATUSES,
    Absence,
    Request,
    RequestDecline,
    Role,
    ScheduleSlot,
    User,
    UserSubspecialty,
)
from router.decision import Choice, Decision, Excluded, Exclusion

# Longest list of excluded specialists kept in an event; beyond it only counts.
EXPLAIN_LIMIT = 200


class OpenCalendar(Protocol):
    def is_open(self, instant: datetime) -> bool: ...


@dataclass(frozen=True, slots=True)
class Moment:
    """The facts about "now" every rule needs, computed once per dispatch."""

    now: datetime
    weekday: int
    local_time: time
    calendar_open: bool

    @classmethod
    def at(cls, now: datetime, calendar: OpenCalendar, zone: ZoneInfo) -> "Moment":
        local = now.astimezone(zone)
        return cls(
            now=now,
            weekday=local.weekday(),
            local_time=local.time().replace(tzinfo=None),
            calendar_open=calendar.is_open(now),
        )


def failing_rules(*, use_subspecialty: bool) -> list[tuple[Exclusion, ColumnElement[bool]]]:
    """Return, in the fixed order, each rule with the condition under which it fails.

    The conditions use bound parameters (see ``parameters``), so each statement is
    built and compiled once and only its values change from one dispatch to the next.
    """
    if use_subspecialty:
        not_in_pool: ColumnElement[bool] = ~exists().where(
            UserSubspecialty.user_id == User.id,
            UserSubspecialty.subspecialty_code == bindparam("subspecialty"),
        )
    else:
        not_in_pool = false()
    local_time = bindparam("local_time", type_=Time())
    has_schedule = exists().where(ScheduleSlot.user_id == User.id)
    on_slot_now = exists().where(
        ScheduleSlot.user_id == User.id,
        ScheduleSlot.weekday == bindparam("weekday"),
        ScheduleSlot.start <= local_time,
        or_(ScheduleSlot.end > local_time, ScheduleSlot.end == time(0)),
    )
    # No schedule means "whenever the calendar is open".
    off_schedule = or_(
        and_(has_schedule, ~on_slot_now),
        and_(~has_schedule, bindparam("calendar_closed", type_=Boolean()) == true()),
    )
    now = bindparam("now", type_=UTCDateTime())
    absent = exists().where(
        Absence.user_id == User.id, Absence.start_at <= now, Absence.end_at > now
    )
    open_count = (
        select(func.count())
        .where(Request.assignee_id == User.id, Request.status.in_(list(OPEN_STATUSES)))
        .scalar_subquery()
    )
    declined = exists().where(
        RequestDecline.request_id == bindparam("request_id", type_=Uuid()),
        RequestDecline.specialist_id == User.id,
    )
    return [
        (Exclusion.INACTIVE, User.active == false()),
        (Exclusion.NOT_IN_POOL, not_in_pool),
        (Exclusion.OFF_SCHEDULE, off_schedule),
        (Exclusion.ABSENT, absent),
        (Exclusion.AT_CAPACITY, open_count >= func.coalesce(User.capacity, 0)),
        (Exclusion.IS_REQUESTER, User.id == bindparam("requester_id", type_=Uuid())),
        (Exclusion.DECLINED, declined),
    ]


def parameters(request: Request, moment: Moment) -> dict[str, object]:
    return {
        "specialty": request.specialty_code,
        "subspecialty": request.subspecialty_code,
        "weekday": moment.weekday,
        "local_time": moment.local_time,
        "calendar_closed": not moment.calendar_open,
        "now": moment.now,
        "request_id": request.id,
        "requester_id": request.requester_id,
    }


@dataclass(frozen=True)
class Statements:
    best: Select[tuple[uuid.UUID, str, int]]
    excluded: Select[tuple[uuid.UUID, str, str]]
    counts: Select[tuple[str, int]]


@cache
def statements(use_subspecialty: bool) -> Statements:
    """Build the three queries of a decision once per pool kind."""
    rules = failing_rules(use_subspecialty=use_subspecialty)
    pool = and_(User.role == Role.SPECIALIST, User.specialty_code == bindparam("specialty"))
    eligible = not_(or_(*(condition for _, condition in rules)))
    reason = case(*((condition, literal(rule.value)) for rule, condition in rules))
    return Statements(
        best=select(User.id, User.name, func.count().over())
        .where(pool, eligible)
        .order_by(User.rotation, User.id)
        .limit(1),
        excluded=select(User.id, User.name, reason)
        .where(pool, ~eligible)
        .order_by(User.name, User.id)
        .limit(EXPLAIN_LIMIT + 1),
        counts=select(reason, func.count()).where(pool, ~eligible).group_by(reason),
    )


async def decide_in_database(
    session: AsyncSession, request: Request, moment: Moment, *, use_subspecialty: bool
) -> Decision:
    """Apply the rules to the request's specialty pool and choose, all in SQL."""
    queries = statements(use_subspecialty and request.subspecialty_code is not None)
    values = parameters(request, moment)
    best = (await session.execute(queries.best, values)).first()
    rows = (await session.execute(queries.excluded, values)).all()
    excluded = [Excluded(uid, name, Exclusion(r)) for uid, name, r in rows[:EXPLAIN_LIMIT]]
    if len(rows) > EXPLAIN_LIMIT:
        counts = {Exclusion(r): n for r, n in await session.execute(queries.counts, values)}
    else:
        counts = {}
        for item in excluded:
            counts[item.reason] = counts.get(item.reason, 0) + 1
    return Decision(
        chosen=Choice(best[0], best[1]) if best else None,
        eligible_count=best[2] if best else 0,
        excluded=tuple(excluded),
        excluded_counts=counts,
    )
