"""Specialists' weekly schedules and absences, and what they change for waiting requests."""

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    Absence,
    AbsenceCreate,
    AbsenceRead,
    Role,
    ScheduleRead,
    ScheduleSlot,
    ScheduleUpdate,
    SlotIn,
    User,
)
from models.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from router import DispatchPolicy, drain_pending, lock_pool


async def specialist_for(session: AsyncSession, viewer: User, user_id: uuid.UUID) -> User:
    """Return the specialist whose availability ``viewer`` may manage (self or coordinator)."""
    if viewer.role == Role.SPECIALIST and viewer.id != user_id:
        raise PermissionDeniedError("Vous ne pouvez gérer que vos propres disponibilités.")
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError("Utilisateur introuvable.")
    if user.role != Role.SPECIALIST:
        raise InvalidInputError("Plannings et absences ne concernent que les spécialistes.")
    return user


async def read_schedule(session: AsyncSession, user: User) -> ScheduleRead:
    slots = (
        await session.execute(
            select(ScheduleSlot)
            .where(ScheduleSlot.user_id == user.id)
            .order_by(ScheduleSlot.weekday, ScheduleSlot.start)
        )
    ).scalars()
    return ScheduleRead(slots=[SlotIn(weekday=s.weekday, start=s.start, end=s.end) for s in slots])


async def replace_schedule(
    session: AsyncSession,
    user: User,
    data: ScheduleUpdate,
    *,
    now: datetime,
    policy: DispatchPolicy,
) -> ScheduleRead:
    """Replace the weekly schedule; an empty list means "whenever the calendar is open"."""
    assert user.specialty_code is not None
    await lock_pool(session, user.specialty_code)
    await session.execute(delete(ScheduleSlot).where(ScheduleSlot.user_id == user.id))
    for slot in data.slots:
        session.add(
            ScheduleSlot(user_id=user.id, weekday=slot.weekday, start=slot.start, end=slot.end)
        )
    await session.flush()
    await drain_pending(session, user.specialty_code, now=now, policy=policy)
    return await read_schedule(session, user)


def absence_read(absence: Absence) -> AbsenceRead:
    return AbsenceRead(
        id=absence.id,
        user_id=absence.user_id,
        start=absence.start_at,
        end=absence.end_at,
        reason=absence.reason,
    )


async def list_absences(session: AsyncSession, user: User) -> list[AbsenceRead]:
    rows = await session.execute(
        select(Absence).where(Absence.user_id == user.id).order_by(Absence.start_at)
    )
    return [absence_read(a) for a in rows.scalars()]


async def add_absence(
    session: AsyncSession, user: User, data: AbsenceCreate, *, now: datetime
) -> AbsenceRead:
    """Record an absence; requests already held stay with the specialist. One already over
    would change nothing and show nowhere: it is refused."""
    if data.end <= now:
        raise InvalidInputError(
            "Cette absence est déjà terminée : indiquez une fin à venir.", field="end"
        )
    absence = Absence(
        user_id=user.id, start_at=data.start, end_at=data.end, reason=data.reason, created_at=now
    )
    session.add(absence)
    await session.flush()
    return absence_read(absence)


async def remove_absence(
    session: AsyncSession,
    user: User,
    absence_id: uuid.UUID,
    *,
    now: datetime,
    policy: DispatchPolicy,
) -> None:
    assert user.specialty_code is not None
    await lock_pool(session, user.specialty_code)
    absence = await session.get(Absence, absence_id)
    if absence is None or absence.user_id != user.id:
        raise NotFoundError("Absence introuvable.")
    await session.delete(absence)
    await session.flush()
    await drain_pending(session, user.specialty_code, now=now, policy=policy)
