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
    CompoundSelect,
    String,
    Time,
    Uuid,
    bindparam,
    case,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel.sql.sqltypes import UTCDateTime

from models import (
    Absence,
    Request,
    RequestDecline,
    Role,
    ScheduleSlot,
    User,
    UserSubspecialty,
)
from router.decision import Choice, Decision, Excluded, Exclusion
from router.metrics import DECISION_SECONDS, timed

# Longest list of excluded specialists kept in an event; beyond it only counts.
EXPLAIN_LIMIT = 200


class BusinessHours(Protocol):
    def is_business_time(self, instant: datetime) -> bool: ...

    def next_opening(self, instant: datetime) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Moment:
    """The facts about "now" every rule needs, computed once per dispatch."""

    now: datetime
    weekday: int
    local_time: time
    business_time: bool

    @classmethod
    def at(cls, now: datetime, calendar: BusinessHours, zone: ZoneInfo) -> "Moment":
        local = now.astimezone(zone)
        return cls(
            now=now,
            weekday=local.weekday(),
            local_time=local.time().replace(tzinfo=None),
            business_time=calendar.is_business_time(now),
        )


def failing_rules(*, use_subspecialty: bool) -> list[tuple[Exclusion, ColumnElement[bool]]]:
    """Return, in the fixed order, each rule with the condition under which it fails.

    The conditions use bound parameters (see ``parameters``), so each statement is
    built and compiled once and only its values change from one dispatch to the next.
    The sets they test (sub-specialty members, schedules, absences, declines) are
    uncorrelated subqueries: the database builds each once per decision and then
    looks every member up in it, instead of probing the tables once per member.
    """
    if use_subspecialty:
        not_in_pool: ColumnElement[bool] = User.id.not_in(
            select(UserSubspecialty.user_id).where(
                UserSubspecialty.subspecialty_code == bindparam("subspecialty")
            )
        )
    else:
        not_in_pool = false()
    local_time = bindparam("local_time", type_=Time())
    has_schedule = User.id.in_(select(ScheduleSlot.user_id))
    on_slot_now = User.id.in_(
        select(ScheduleSlot.user_id).where(
            ScheduleSlot.weekday == bindparam("weekday"),
            ScheduleSlot.start <= local_time,
            or_(ScheduleSlot.end > local_time, ScheduleSlot.end == time(0)),
        )
    )
    # No schedule means "whenever the calendar is open" (a CASE, so that the
    # schedule table is looked up once per member, not once per branch).
    off_schedule = case(
        (has_schedule, ~on_slot_now),
        else_=bindparam("outside_business_time", type_=Boolean()),
    )
    now = bindparam("now", type_=UTCDateTime())
    absent = User.id.in_(
        select(Absence.user_id).where(Absence.start_at <= now, Absence.end_at > now)
    )
    declined = User.id.in_(
        select(RequestDecline.specialist_id).where(
            RequestDecline.request_id == bindparam("request_id", type_=Uuid())
        )
    )
    return [
        (Exclusion.INACTIVE, User.active == false()),
        (Exclusion.NOT_IN_POOL, not_in_pool),
        (Exclusion.OFF_SCHEDULE, off_schedule),
        (Exclusion.ABSENT, absent),
        # ``open_count`` is kept by triggers on ``request`` (migration 0003).
        (Exclusion.AT_CAPACITY, User.open_count >= func.coalesce(User.capacity, 0)),
        (Exclusion.IS_REQUESTER, User.id == bindparam("requester_id", type_=Uuid())),
        (Exclusion.DECLINED, declined),
    ]


def parameters(request: Request, moment: Moment) -> dict[str, object]:
    return {
        "specialty": request.specialty_code,
        "subspecialty": request.subspecialty_code,
        "weekday": moment.weekday,
        "local_time": moment.local_time,
        "outside_business_time": not moment.business_time,
        "now": moment.now,
        "request_id": request.id,
        "requester_id": request.requester_id,
    }


@cache
def rule_order() -> tuple[Exclusion, ...]:
    """The rules in the order they are applied: the query names a reason by its index."""
    return tuple(rule for rule, _ in failing_rules(use_subspecialty=True))


@cache
def statement(
    use_subspecialty: bool, dialect: str
) -> CompoundSelect[tuple[int, uuid.UUID, str, str, int]]:
    """Build, once per pool kind and database, the one query that makes a decision.

    It judges every member of the pool once, into a materialised CTE (``reason``:
    the first rule failed, as its index in ``rule_order()``, NULL for the eligible;
    a small integer is cheaper to store, group and send than the rule's name),
    then reads that small table three times and returns at most
    ``EXPLAIN_LIMIT + 10`` rows, in no particular order, each tagged by ``part``:

    - ``0``, the best: the eligible member first in the rotation (least recently
      assigned, then id);
    - ``1``, the excluded: the first ``EXPLAIN_LIMIT + 1`` by name, for the
      explanation (one more than kept, to tell that the list was cut);
    - ``2``, the counts: the number of members per reason (NULL: the eligible).

    Names are compared by code point on both databases (PostgreSQL's ``C``
    collation, SQLite's default), as the pure model does; it is also the cheapest.
    """
    rules = failing_rules(use_subspecialty=use_subspecialty)
    reason = case(*((condition, literal(i)) for i, (rule, condition) in enumerate(rules)))
    judged = (
        select(User.id, User.name, User.rotation, reason.label("reason"))
        .where(User.role == Role.SPECIALIST, User.specialty_code == bindparam("specialty"))
        .cte("judged")
        .prefix_with("MATERIALIZED")
    )
    name = judged.c.name.collate("C") if dialect == "postgresql" else judged.c.name
    best = (
        select(judged.c.id, judged.c.name, judged.c.reason)
        .where(judged.c.reason.is_(None))
        .order_by(judged.c.rotation, judged.c.id)
        .limit(1)
        .subquery("best")
    )
    excluded = (
        select(judged.c.id, judged.c.name, judged.c.reason)
        .where(judged.c.reason.is_not(None))
        .order_by(name, judged.c.id)
        .limit(EXPLAIN_LIMIT + 1)
        .subquery("excluded")
    )
    zero = literal_column("0")
    # No ORDER BY over the whole: sorting 210 rows is cheaper in Python than in
    # SQLite's temporary B-tree, and only the excluded need an order.
    return union_all(
        select(zero.label("part"), best.c.id, best.c.name, best.c.reason, zero.label("n")),
        select(literal_column("1"), excluded.c.id, excluded.c.name, excluded.c.reason, zero),
        select(
            literal_column("2"),
            null().cast(Uuid()),
            null().cast(String()),
            judged.c.reason,
            func.count(),
        ).group_by(judged.c.reason),
    )


def by_name(excluded: Excluded) -> tuple[str, uuid.UUID]:
    return (excluded.name, excluded.id)


@timed(DECISION_SECONDS)
async def decide_in_database(
    session: AsyncSession, request: Request, moment: Moment, *, use_subspecialty: bool
) -> Decision:
    """Apply the rules to the request's specialty pool and choose, in one query."""
    query = statement(
        use_subspecialty and request.subspecialty_code is not None, session.bind.dialect.name
    )
    # Through the session, for its autoflush: assignments made earlier in this
    # transaction (a backlog being drained) must reach ``open_count`` before the
    # pool is judged again. (A submission suspends it: its own row is not written yet.)
    rows = (await session.execute(query, parameters(request, moment))).all()
    reasons = rule_order()
    chosen: Choice | None = None
    eligible_count = 0
    counts: dict[Exclusion, int] = {}
    excluded: list[Excluded] = []
    for part, uid, name, reason, total in rows:
        if part == 0:
            chosen = Choice(uid, name)
        elif part == 1:
            excluded.append(Excluded(uid, name, reasons[reason]))
        elif reason is None:
            eligible_count = total
        else:
            counts[reasons[reason]] = total
    # By name, then id: code-point order, as ``judged``'s ORDER BY and the pure model.
    excluded.sort(key=by_name)
    return Decision(
        chosen=chosen,
        eligible_count=eligible_count,
        excluded=tuple(excluded[:EXPLAIN_LIMIT]),
        excluded_counts=counts,
    )
