"""The specialties and sub-specialties an ESS covers, and the coordinator's changes to them.

A code never changes: requests, history, indicators and roster files name it. What the
coordinator changes is the name, and whether it is in service. A retired specialty or
sub-specialty is no longer offered to new requests nor given to specialists; what
already names it (requests, the specialists who cover it) keeps it and carries on.
"""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    AWAITING_ANSWER,
    Request,
    Role,
    Specialty,
    SpecialtyCreate,
    SpecialtyRead,
    SpecialtyUpdate,
    Subspecialty,
    SubspecialtyCreate,
    SubspecialtyRead,
    SubspecialtyUpdate,
    User,
)
from models.audit import note
from models.errors import ConflictError, InvalidInputError, NotFoundError


def _sub_read(sub: Subspecialty) -> SubspecialtyRead:
    return SubspecialtyRead(code=sub.code, name=sub.name, retired=sub.retired_at is not None)


async def list_specialties(session: AsyncSession) -> list[SpecialtyRead]:
    """Every specialty with its sub-specialties, retired ones included (marked)."""
    specialties = (await session.execute(select(Specialty).order_by(Specialty.name))).scalars()
    subs = (await session.execute(select(Subspecialty).order_by(Subspecialty.name))).scalars().all()
    by_specialty: dict[str, list[SubspecialtyRead]] = {}
    for sub in subs:
        by_specialty.setdefault(sub.specialty_code, []).append(_sub_read(sub))
    return [
        SpecialtyRead(
            code=s.code,
            name=s.name,
            retired=s.retired_at is not None,
            subspecialties=by_specialty.get(s.code, []),
        )
        for s in specialties
    ]


def in_service(specialties: Sequence[SpecialtyRead]) -> list[SpecialtyRead]:
    """What a new request may name: the specialties in service, each with its own in service."""
    return [
        s.model_copy(
            update={"subspecialties": [sub for sub in s.subspecialties if not sub.retired]}
        )
        for s in specialties
        if not s.retired
    ]


async def offered_specialties(session: AsyncSession) -> list[SpecialtyRead]:
    """The specialties and sub-specialties a new request or a new specialist may name."""
    return in_service(await list_specialties(session))


def _clean_name(name: str, field: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidInputError("Le nom ne peut pas être vide.", field=field)
    return cleaned


async def _check_specialty_name(
    session: AsyncSession, name: str, *, owner: str | None = None
) -> None:
    query = select(Specialty.code).where(func.lower(Specialty.name) == name.lower())
    if owner is not None:
        query = query.where(Specialty.code != owner)
    if (await session.execute(query)).first():
        raise ConflictError(f"Une spécialité s'appelle déjà « {name} ».", field="name")


async def _check_sub_name(
    session: AsyncSession, specialty: Specialty, name: str, *, owner: str | None = None
) -> None:
    query = select(Subspecialty.code).where(
        Subspecialty.specialty_code == specialty.code,
        func.lower(Subspecialty.name) == name.lower(),
    )
    if owner is not None:
        query = query.where(Subspecialty.code != owner)
    if (await session.execute(query)).first():
        raise ConflictError(
            f"Une sur-spécialité de « {specialty.name} » s'appelle déjà « {name} ».", field="name"
        )


async def get_specialty(session: AsyncSession, code: str) -> Specialty:
    specialty = await session.get(Specialty, code)
    if specialty is None:
        raise NotFoundError(f"Spécialité introuvable : « {code} ».")
    return specialty


async def get_subspecialty(session: AsyncSession, specialty: Specialty, code: str) -> Subspecialty:
    sub = await session.get(Subspecialty, (specialty.code, code))
    if sub is None:
        raise NotFoundError(f"Sur-spécialité introuvable pour « {specialty.name} » : « {code} ».")
    return sub


async def _read(session: AsyncSession, specialty: Specialty) -> SpecialtyRead:
    subs = (
        await session.execute(
            select(Subspecialty)
            .where(Subspecialty.specialty_code == specialty.code)
            .order_by(Subspecialty.name)
        )
    ).scalars()
    return SpecialtyRead(
        code=specialty.code,
        name=specialty.name,
        retired=specialty.retired_at is not None,
        subspecialties=[_sub_read(sub) for sub in subs],
    )


async def create_specialty(
    session: AsyncSession,
    data: SpecialtyCreate,
    *,
    now: datetime | None = None,
    actor_id: uuid.UUID | None = None,
) -> SpecialtyRead:
    """Add a specialty with its sub-specialties (audited when ``now`` is given)."""
    if await session.get(Specialty, data.code) is not None:
        raise ConflictError(f"La spécialité « {data.code} » existe déjà.", field="code")
    name = _clean_name(data.name, "name")
    await _check_specialty_name(session, name)
    specialty = Specialty(code=data.code, name=name)
    session.add(specialty)
    await session.flush()
    seen: set[str] = set()
    for index, sub in enumerate(data.subspecialties):
        sub_name = _clean_name(sub.name, f"subspecialties.{index}.name")
        if sub_name.lower() in seen:
            raise InvalidInputError(
                f"Deux sur-spécialités s'appellent « {sub_name} ».",
                field=f"subspecialties.{index}.name",
            )
        seen.add(sub_name.lower())
        session.add(Subspecialty(specialty_code=data.code, code=sub.code, name=sub_name))
    await session.flush()
    if now is not None:
        note(
            session,
            at=now,
            actor_id=actor_id,
            action="specialty.create",
            detail={
                "code": data.code,
                "name": name,
                "subspecialties": [s.code for s in data.subspecialties],
            },
        )
    return await _read(session, specialty)


def _retire(row: Specialty | Subspecialty, retired: bool | None, now: datetime) -> bool:
    """Apply ``retired``; whether the state changed (retiring twice keeps the first date)."""
    if retired is None or retired == (row.retired_at is not None):
        return False
    row.retired_at = now if retired else None
    return True


async def _apply_update(
    session: AsyncSession,
    row: Specialty | Subspecialty,
    data: SpecialtyUpdate | SubspecialtyUpdate,
    check_name: Callable[[str], Awaitable[None]],
    *,
    now: datetime,
    actor_id: uuid.UUID | None,
    action: str,
    detail: dict[str, object],
) -> None:
    """Rename ``row`` (its name checked by ``check_name``), retire it or put it back in
    service; one audit entry for what changed, none if nothing did."""
    changes: dict[str, object] = {}
    if "name" in data.model_fields_set:
        if data.name is None:
            raise InvalidInputError("Le nom ne peut pas être vide.", field="name")
        name = _clean_name(data.name, "name")
        if name != row.name:
            await check_name(name)
            changes["name"] = {"from": row.name, "to": name}
            row.name = name
    if _retire(row, data.retired, now):
        changes["retired"] = data.retired
    if changes:
        await session.flush()
        note(session, at=now, actor_id=actor_id, action=action, detail={**detail, **changes})


async def update_specialty(
    session: AsyncSession,
    code: str,
    data: SpecialtyUpdate,
    *,
    now: datetime,
    actor_id: uuid.UUID | None,
) -> SpecialtyRead:
    """Rename a specialty, retire it or put it back in service (its code stays)."""
    specialty = await get_specialty(session, code)

    async def check_name(name: str) -> None:
        await _check_specialty_name(session, name, owner=specialty.code)

    await _apply_update(
        session,
        specialty,
        data,
        check_name,
        now=now,
        actor_id=actor_id,
        action="specialty.update",
        detail={"code": specialty.code},
    )
    return await _read(session, specialty)


async def add_subspecialty(
    session: AsyncSession,
    code: str,
    data: SubspecialtyCreate,
    *,
    now: datetime,
    actor_id: uuid.UUID | None,
) -> SpecialtyRead:
    """Add a sub-specialty to an existing specialty."""
    specialty = await get_specialty(session, code)
    if await session.get(Subspecialty, (specialty.code, data.code)) is not None:
        raise ConflictError(
            f"La sur-spécialité « {data.code} » existe déjà pour « {specialty.name} ».",
            field="code",
        )
    name = _clean_name(data.name, "name")
    await _check_sub_name(session, specialty, name)
    session.add(Subspecialty(specialty_code=specialty.code, code=data.code, name=name))
    await session.flush()
    note(
        session,
        at=now,
        actor_id=actor_id,
        action="subspecialty.create",
        detail={"specialty": specialty.code, "code": data.code, "name": name},
    )
    return await _read(session, specialty)


async def update_subspecialty(
    session: AsyncSession,
    code: str,
    sub_code: str,
    data: SubspecialtyUpdate,
    *,
    now: datetime,
    actor_id: uuid.UUID | None,
) -> SpecialtyRead:
    """Rename a sub-specialty, retire it or put it back in service (its code stays)."""
    specialty = await get_specialty(session, code)
    sub = await get_subspecialty(session, specialty, sub_code)

    async def check_name(name: str) -> None:
        await _check_sub_name(session, specialty, name, owner=sub.code)

    await _apply_update(
        session,
        sub,
        data,
        check_name,
        now=now,
        actor_id=actor_id,
        action="subspecialty.update",
        detail={"specialty": specialty.code, "code": sub.code},
    )
    return await _read(session, specialty)


async def retired_codes(session: AsyncSession, specialty_code: str) -> tuple[bool, set[str]]:
    """Whether the specialty is retired, and which of its sub-specialties are."""
    specialty = await session.get(Specialty, specialty_code)
    retired = specialty is not None and specialty.retired_at is not None
    subs = set(
        (
            await session.execute(
                select(Subspecialty.code).where(
                    Subspecialty.specialty_code == specialty_code,
                    Subspecialty.retired_at.is_not(None),  # type: ignore[union-attr]
                )
            )
        ).scalars()
    )
    return retired, subs


async def retirement_impact(session: AsyncSession, code: str) -> dict[str, Any]:
    """What retiring a specialty changes: who covers it, what is open in it."""
    specialty = await get_specialty(session, code)
    specialists = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.specialty_code == code, User.role == Role.SPECIALIST, User.active)
    )
    open_requests = await session.scalar(
        select(func.count())
        .select_from(Request)
        .where(Request.specialty_code == code, Request.status.in_(AWAITING_ANSWER))
    )
    return {
        "specialty": specialty,
        "specialists": specialists or 0,
        "open_requests": open_requests or 0,
    }
