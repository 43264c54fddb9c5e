"""Accounts: requesters, specialists and the coordinator."""

import unicodedata
import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.services import accounts
from config import Settings
from models import (
    Role,
    Specialty,
    Subspecialty,
    User,
    UserCreate,
    UserRead,
    UserSubspecialty,
    UserUpdate,
)
from models.errors import ConflictError, InvalidInputError, NotFoundError
from models.identifiers import check_email_scripts, normalize_email
from router import DispatchPolicy, drain_pending, lock_pool
from security.passwords import hash_password, verify_password


async def _check_subspecialties(
    session: AsyncSession,
    specialty_code: str,
    codes: Sequence[str],
    held: Sequence[str] = (),
) -> list[str]:
    """The codes asked, known in the specialty; a retired one only if already ``held``."""
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        return []
    rows = await session.execute(
        select(Subspecialty.code, Subspecialty.name, Subspecialty.retired_at).where(
            Subspecialty.specialty_code == specialty_code, Subspecialty.code.in_(wanted)
        )
    )
    known = {code: (name, retired_at) for code, name, retired_at in rows}
    unknown = [code for code in wanted if code not in known]
    if unknown:
        raise InvalidInputError(
            f"Sur-spécialité inconnue pour la spécialité « {specialty_code} » : "
            f"{', '.join(unknown)}.",
            field="subspecialties",
        )
    specialty = await session.get(Specialty, specialty_code)
    specialty_retired = specialty is not None and specialty.retired_at is not None
    retired = [
        known[code][0]
        for code in wanted
        if code not in held and (specialty_retired or known[code][1] is not None)
    ]
    if retired:
        raise InvalidInputError(
            f"Sur-spécialité retirée, elle ne peut plus être attribuée : {', '.join(retired)}.",
            field="subspecialties",
        )
    return wanted


async def _check_specialty(session: AsyncSession, code: str) -> None:
    """A specialty a specialist may join: known and in service."""
    specialty = await session.get(Specialty, code)
    if specialty is None:
        raise InvalidInputError(f"Spécialité inconnue : « {code} ».", field="specialty")
    if specialty.retired_at is not None:
        raise InvalidInputError(
            f"La spécialité « {specialty.name} » est retirée : elle ne peut plus être attribuée.",
            field="specialty",
        )


async def create_user(
    session: AsyncSession,
    data: UserCreate,
    *,
    now: datetime,
    default_capacity: int,
    policy: DispatchPolicy | None = None,
) -> User:
    """Create an account; a specialist needs a known specialty."""
    specialty_code = None
    subspecialties: list[str] = []
    capacity = None
    if data.role == Role.SPECIALIST:
        if not data.specialty:
            raise InvalidInputError("Un spécialiste doit avoir une spécialité.", field="specialty")
        await _check_specialty(session, data.specialty)
        specialty_code = data.specialty
        subspecialties = await _check_subspecialties(session, specialty_code, data.subspecialties)
        capacity = default_capacity if data.capacity is None else data.capacity
    elif (
        data.specialty
        or data.subspecialties
        or data.capacity is not None
        or data.advanced_consultations
        or data.member_since
        or data.member_until
    ):
        raise InvalidInputError(
            "Spécialité, sur-spécialités, capacité et adhésion ne concernent que les spécialistes.",
            field="specialty",
        )
    if data.treating_physician and data.role != Role.REQUESTER:
        raise InvalidInputError(
            "Seul un demandeur peut être déclaré médecin traitant.", field="treating_physician"
        )
    await _check_email(session, data.email)
    await _check_rpps(session, data.rpps)
    if data.password:
        await accounts.check_new_password(data.password, name=data.name, email=data.email)

    user = User(
        role=data.role,
        email=data.email,
        name=data.name.strip(),
        rpps=data.rpps,
        treating_physician=data.treating_physician,
        password_hash=await hash_password(data.password) if data.password else None,
        specialty_code=specialty_code,
        capacity=capacity,
        advanced_consultations=data.advanced_consultations,
        member_since=(data.member_since or _today(now, policy)) if specialty_code else None,
        member_until=data.member_until,
        created_at=now,
    )
    _check_membership(user)
    session.add(user)
    await session.flush()
    for code in subspecialties:
        session.add(
            UserSubspecialty(user_id=user.id, specialty_code=specialty_code, subspecialty_code=code)
        )
    await session.flush()
    if specialty_code is not None and policy is not None:
        # A new specialist may be the one a waiting request needs.
        await drain_pending(session, specialty_code, now=now, policy=policy)
    return user


async def _check_email(session: AsyncSession, email: str, owner: uuid.UUID | None = None) -> None:
    try:
        check_email_scripts(email)
    except ValueError as exc:
        raise InvalidInputError(str(exc), field="email") from None
    query = select(User.id).where(User.email == email)
    if owner is not None:
        query = query.where(User.id != owner)
    if (await session.execute(query)).first():
        raise ConflictError(f"Un compte existe déjà avec l'adresse {email}.", field="email")


async def _check_rpps(
    session: AsyncSession, rpps: str | None, owner: uuid.UUID | None = None
) -> None:
    if not rpps:
        return
    query = select(User.id).where(User.rpps == rpps)
    if owner is not None:
        query = query.where(User.id != owner)
    if (await session.execute(query)).first():
        raise ConflictError(f"Un compte existe déjà avec le numéro RPPS {rpps}.", field="rpps")


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError("Utilisateur introuvable.")
    return user


async def get_user_by_email(session: AsyncSession, email: str) -> User:
    user = (
        await session.execute(select(User).where(User.email == normalize_email(email)))
    ).scalar_one_or_none()
    if user is None:
        raise NotFoundError(f"Aucun compte pour l'adresse {email}.")
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None (same cost either way)."""
    user = (
        await session.execute(select(User).where(User.email == normalize_email(email)))
    ).scalar_one_or_none()
    valid = await verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.active:
        return None
    return user


async def list_users(session: AsyncSession, role: Role | None) -> list[User]:
    query = select(User).order_by(User.name)
    if role is not None:
        query = query.where(User.role == role)
    return list((await session.execute(query)).scalars())


def _folded(text: str) -> str:
    """``text`` without case or accents: « Généraliste » and « GENERALISTE » match."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


async def find_users(
    session: AsyncSession, role: Role, text: str, *, offset: int, limit: int
) -> tuple[list[User], int]:
    """One page of the accounts of ``role`` whose name or e-mail holds ``text`` (whatever
    its case and accents), by name; and how many there are in all.

    The match is made here, on the role's names and addresses only (a few thousand at
    most): SQLite's LIKE folds neither accents nor the case of accented letters.
    """
    rows = await session.execute(select(User.id, User.name, User.email).where(User.role == role))
    wanted = _folded(text)
    found = sorted(
        (_folded(name), user_id)
        for user_id, name, email in rows
        if wanted in _folded(name) or wanted in _folded(email)
    )
    shown = [user_id for _, user_id in found[offset : offset + limit]]
    if not shown:
        return [], len(found)
    users = {
        u.id: u for u in (await session.execute(select(User).where(User.id.in_(shown)))).scalars()
    }
    return [users[user_id] for user_id in shown], len(found)


async def count_by_role(session: AsyncSession) -> dict[Role, int]:
    rows = await session.execute(select(User.role, func.count()).group_by(User.role))
    counts = {Role(role): count for role, count in rows}
    return {role: counts.get(role, 0) for role in Role}


def _today(now: datetime, policy: DispatchPolicy | None) -> date:
    return now.astimezone(policy.zone).date() if policy else now.date()


def _check_deactivation(user: User, actor: User | None) -> None:
    """Nobody locks themself out; no request is left with a specialist who is gone."""
    if actor is not None and actor.id == user.id:
        raise InvalidInputError(
            "Vous ne pouvez pas désactiver votre propre compte : demandez-le à un autre "
            "coordinateur.",
            field="active",
        )
    if user.role == Role.SPECIALIST and user.open_count:
        count = user.open_count
        held = f"{count} demande ouverte" if count == 1 else f"{count} demandes ouvertes"
        raise ConflictError(
            f"{user.name} détient encore {held} : attribuez-les à un autre spécialiste "
            "(« Attribuer à un spécialiste… » sur chaque demande) avant de désactiver son compte.",
            field="active",
        )


def _check_membership(user: User) -> None:
    if user.member_since and user.member_until and user.member_until < user.member_since:
        raise InvalidInputError(
            "La fin d'adhésion ne peut pas précéder son début.", field="member_until"
        )


async def update_user(
    session: AsyncSession,
    user: User,
    data: UserUpdate,
    *,
    now: datetime,
    policy: DispatchPolicy,
    settings: Settings | None = None,
    actor: User | None = None,
) -> User:
    """Apply what the coordinator (``actor``) changed; a new address waits for its confirmation.

    An account that has no password yet (its invitation not taken up) switches to the
    new address at once and is invited there again; any other account keeps its
    address until the link sent to the new one is followed. Deactivating an account
    ends its sessions.
    """
    given = data.model_fields_set
    specialist_only = data.model_dump(
        exclude_unset=True,
        include={
            "specialty",
            "capacity",
            "subspecialties",
            "advanced_consultations",
            "member_since",
            "member_until",
        },
    )
    if specialist_only and user.role != Role.SPECIALIST:
        raise InvalidInputError(
            "Spécialité, capacité, sur-spécialités et adhésion ne concernent que les spécialistes.",
            field=next(iter(specialist_only)),
        )
    if data.treating_physician and user.role != Role.REQUESTER:
        raise InvalidInputError(
            "Seul un demandeur peut être déclaré médecin traitant.", field="treating_physician"
        )
    for name in ("name", "email", "specialty", "active", "treating_physician"):
        if name in given and getattr(data, name) is None:
            raise InvalidInputError("Ce champ ne peut pas être vide.", field=name)
    new_specialty = data.specialty if data.specialty != user.specialty_code else None
    if new_specialty is not None:
        await _check_specialty(session, new_specialty)
    new_email = data.email if data.email is not None and data.email != user.email else None
    if new_email is not None:
        await _check_email(session, new_email, owner=user.id)
    if "rpps" in given:
        await _check_rpps(session, data.rpps, owner=user.id)
    # Both pools change when a specialist moves; locked in one order, never crosswise.
    for code in sorted({c for c in (user.specialty_code, new_specialty) if c}):
        await lock_pool(session, code)

    if data.name is not None:
        user.name = data.name.strip()
    if "rpps" in given:
        user.rpps = data.rpps
    if data.treating_physician is not None:
        user.treating_physician = data.treating_physician
    if data.active is not None:
        if user.active and not data.active:
            _check_deactivation(user, actor)
            accounts.end_sessions(user)
        user.active = data.active
    if data.capacity is not None:
        user.capacity = data.capacity
    if data.advanced_consultations is not None:
        user.advanced_consultations = data.advanced_consultations
    if "member_since" in specialist_only:
        user.member_since = data.member_since
    if "member_until" in specialist_only:
        user.member_until = data.member_until
    _check_membership(user)
    subspecialties = data.subspecialties
    if new_specialty is not None:
        user.specialty_code = new_specialty
        # The old specialty's sub-specialties mean nothing in the new one.
        subspecialties = subspecialties or []
    if subspecialties is not None:
        assert user.specialty_code is not None
        held: list[str] = []
        if new_specialty is None:
            held = list(
                (
                    await session.execute(
                        select(UserSubspecialty.subspecialty_code).where(
                            UserSubspecialty.user_id == user.id
                        )
                    )
                ).scalars()
            )
        codes = await _check_subspecialties(session, user.specialty_code, subspecialties, held)
        await session.execute(delete(UserSubspecialty).where(UserSubspecialty.user_id == user.id))
        for code in codes:
            session.add(
                UserSubspecialty(
                    user_id=user.id, specialty_code=user.specialty_code, subspecialty_code=code
                )
            )
    await session.flush()
    if new_email is not None:
        assert settings is not None, "changing an address needs the settings (links)"
        if user.password_hash is None:
            user.email = new_email
            await session.flush()
            if user.active:
                await accounts.invite(session, user, now=now, settings=settings)
        else:
            await accounts.request_email_change(
                session, user, new_email, now=now, settings=settings
            )
    if user.specialty_code is not None and user.active:
        # Reactivated, more capacity, new sub-specialties: someone may now be eligible.
        await drain_pending(session, user.specialty_code, now=now, policy=policy)
    return user


async def to_read(session: AsyncSession, users: Sequence[User]) -> list[UserRead]:
    """Build the API view of users, with their sub-specialties in one query."""
    ids = [u.id for u in users if u.role == Role.SPECIALIST]
    subs: dict[uuid.UUID, list[str]] = {}
    if ids:
        rows = await session.execute(
            select(UserSubspecialty.user_id, UserSubspecialty.subspecialty_code)
            .where(UserSubspecialty.user_id.in_(ids))
            .order_by(UserSubspecialty.subspecialty_code)
        )
        for user_id, code in rows:
            subs.setdefault(user_id, []).append(code)
    return [
        UserRead(
            id=u.id,
            role=u.role,
            email=u.email,
            name=u.name,
            rpps=u.rpps,
            active=u.active,
            treating_physician=u.treating_physician,
            specialty=u.specialty_code,
            subspecialties=subs.get(u.id, []),
            capacity=u.capacity,
            advanced_consultations=u.advanced_consultations,
            member_since=u.member_since,
            member_until=u.member_until,
            password_set=u.password_hash is not None,
        )
        for u in users
    ]
