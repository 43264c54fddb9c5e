"""The specialties and sub-specialties an ESS covers."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Specialty, SpecialtyCreate, SpecialtyRead, Subspecialty, SubspecialtyRead
from models.errors import ConflictError


async def list_specialties(session: AsyncSession) -> list[SpecialtyRead]:
    specialties = (await session.execute(select(Specialty).order_by(Specialty.name))).scalars()
    subs = (await session.execute(select(Subspecialty).order_by(Subspecialty.name))).scalars().all()
    by_specialty: dict[str, list[SubspecialtyRead]] = {}
    for sub in subs:
        by_specialty.setdefault(sub.specialty_code, []).append(
            SubspecialtyRead(code=sub.code, name=sub.name)
        )
    return [
        SpecialtyRead(code=s.code, name=s.name, subspecialties=by_specialty.get(s.code, []))
        for s in specialties
    ]


async def create_specialty(session: AsyncSession, data: SpecialtyCreate) -> SpecialtyRead:
    if await session.get(Specialty, data.code) is not None:
        raise ConflictError(f"La spécialité « {data.code} » existe déjà.")
    session.add(Specialty(code=data.code, name=data.name))
    await session.flush()
    for sub in data.subspecialties:
        session.add(Subspecialty(specialty_code=data.code, code=sub.code, name=sub.name))
    await session.flush()
    return SpecialtyRead(
        code=data.code,
        name=data.name,
        subspecialties=[SubspecialtyRead(code=s.code, name=s.name) for s in data.subspecialties],
    )
