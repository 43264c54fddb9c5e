"""The demo ESS's people: accounts, schedules, memberships and absences, through the services."""

from datetime import date, datetime, timedelta

from app.demo import cast
from app.demo.acts import Year as History
from app.demo.timeline import (
    AbsencePlan,
    absences,
    current_and_future_absences,
    local_midnight,
)
from app.services.availability import add_absence, replace_schedule
from app.services.specialties import create_specialty
from app.services.users import create_user, update_user
from models import (
    AbsenceCreate,
    Role,
    ScheduleUpdate,
    SlotIn,
    SpecialtyCreate,
    User,
    UserCreate,
    UserUpdate,
)
from models.specialty import SubspecialtyCreate


async def open_the_ess(history: History, start: datetime, password_hash: str) -> None:
    """Create the specialties, the coordinator, the founding members and the requesters."""
    session = await history.session()
    for code, name, subs in cast.SPECIALTIES:
        await create_specialty(
            session,
            SpecialtyCreate(
                code=code,
                name=name,
                subspecialties=[SubspecialtyCreate(code=c, name=n) for c, n in subs],
            ),
        )
    await _account(
        history,
        UserCreate(
            role=Role.COORDINATOR,
            email=cast.email("Coordination Démo", cast.SPECIALIST_DOMAIN),
            name=cast.COORDINATOR,
        ),
        start,
        password_hash,
    )
    for number, (name, treating, weight) in enumerate(cast.REQUESTERS, start=100):
        user = await _account(
            history,
            UserCreate(
                role=Role.REQUESTER,
                email=cast.email(name, cast.REQUESTER_DOMAIN),
                name=name,
                rpps=cast.demo_rpps(number),
                treating_physician=treating,
            ),
            start,
            password_hash,
        )
        history.requesters.append((user, weight))
        if name == cast.SHOWCASE["requester"]:
            history.showcase["requester"] = user.id
    zone = history.zone
    for number, member in enumerate(cast.SPECIALISTS, start=1):
        joins = start + timedelta(days=member.joins_after_days)
        if member.joins_after_days:
            joins = history.calendar.next_opening(joins)
            history.at(joins, _hire, history, member, number, password_hash)
        else:
            await _hire(joins, history, member, number, password_hash)
        if member.leaves_after_days is not None:
            last_day = (start + timedelta(days=member.leaves_after_days)).astimezone(zone).date()
            # A week before leaving, the coordinator stops sending them new requests.
            history.at(
                local_midnight(last_day - timedelta(days=7), zone), _wind_down, history, member.name
            )
            history.at(
                local_midnight(last_day + timedelta(days=1), zone),
                _leave,
                history,
                member.name,
                last_day,
            )
    cardiologists = [m.name for m in cast.SPECIALISTS if m.specialty == "cardiologie"]
    plans = absences(history.rng, cardiologists, start, history.end, zone)
    # Away now: the only vascular physician (their requests wait for the coordinator)
    # and four cardiologists (the showcase specialist's pools lean on him); away soon.
    plans += current_and_future_absences(history.end, zone)
    for plan in plans:
        declared = local_midnight(plan.first_day, zone) - timedelta(days=plan.declared_days_before)
        history.at(
            max(declared, start + timedelta(hours=1)) + timedelta(hours=9), _declare, history, plan
        )


async def _account(history: History, data: UserCreate, now: datetime, password_hash: str) -> User:
    # No password through the service (each would cost an Argon2 hash): the one hash of
    # the demo password is set on every account, as a password change would store it.
    session = await history.session()
    user = await create_user(session, data, now=now, default_capacity=5, policy=history.policy)
    user.password_hash = password_hash
    history.users[user.id] = user
    if data.role == Role.SPECIALIST:
        await history.after_release(None)  # a new member may take a waiting request
    return user


async def _hire(
    now: datetime, history: History, member: cast.Specialist, number: int, password_hash: str
) -> None:
    zone = history.zone
    since = now.astimezone(zone).date() - timedelta(days=round(365 * member.member_years_before))
    if member.joins_after_days:
        since = now.astimezone(zone).date()
    user = await _account(
        history,
        UserCreate(
            role=Role.SPECIALIST,
            email=cast.email(member.name, cast.SPECIALIST_DOMAIN),
            name=member.name,
            rpps=cast.demo_rpps(number),
            specialty=member.specialty,
            subspecialties=member.subspecialties,
            capacity=member.capacity,
            advanced_consultations=member.outreach,
            member_since=since,
        ),
        now,
        password_hash,
    )
    history.pace[user.id] = member.pace
    if member.name == cast.SHOWCASE["specialist"]:
        history.showcase["specialist"] = user.id
    if member.outreach:
        history.outreach.add(user.id)
    if member.schedule:
        session = await history.session()
        await replace_schedule(
            session,
            user,
            ScheduleUpdate(
                slots=[SlotIn(weekday=s.weekday, start=s.start, end=s.end) for s in member.schedule]
            ),
            now=now,
            policy=history.policy,
        )
        # A shift that starts outside the ESS's hours: the scheduler's tick sees it start.
        for day in range(0, (history.end - now).days + 1):
            moment = (now + timedelta(days=day)).astimezone(zone)
            for slot in member.schedule:
                start = datetime.combine(moment.date(), slot.start, zone)
                if slot.weekday == moment.weekday() and not history.calendar.is_business_time(
                    start
                ):
                    history.at(start, history.sweep)


def _by_name(history: History, name: str) -> User | None:
    return next((u for u in history.users.values() if u.name == name), None)


async def _update(history: History, name: str, now: datetime, data: UserUpdate) -> None:
    found = _by_name(history, name)
    if found is None:
        return
    session = await history.session()
    user = await session.get(User, found.id)
    assert user is not None
    await update_user(session, user, data, now=now, policy=history.policy)
    history.users[user.id] = user
    await history.after_release(None)


async def _wind_down(now: datetime, history: History, name: str) -> None:
    await _update(history, name, now, UserUpdate(capacity=0))


async def _leave(now: datetime, history: History, name: str, last_day: date) -> None:
    """The account is deactivated once they hold nothing more: nothing new has come to them
    for a week (capacity 0), and what they hold they finish first."""
    found = _by_name(history, name)
    if found is None:
        return
    session = await history.session()
    user = await session.get(User, found.id)
    assert user is not None
    await session.refresh(user)  # the open count the database keeps
    if user.open_count:
        history.at(now + timedelta(days=1), _leave, history, name, last_day)
        return
    await _update(history, name, now, UserUpdate(active=False, member_until=last_day))


async def _declare(now: datetime, history: History, plan: AbsencePlan) -> None:
    user = _by_name(history, plan.who)
    if user is None:
        return
    begin = local_midnight(plan.first_day, history.zone)
    end = local_midnight(plan.first_day + timedelta(days=plan.days), history.zone)
    session = await history.session()
    await add_absence(
        session, user, AbsenceCreate(start=begin, end=end, reason=plan.reason), now=now
    )
    history.at(end, history.sweep)
