"""The second factor: TOTP (RFC 6238, pyotp) with single-use recovery codes.

The API and the web pages call these functions; the rules live here once: how a
login goes with both factors (:func:`log_in`), enrolment (:func:`start_enrolment`,
:func:`confirm_enrolment`), the check of a code (:func:`check_code`), removal.
A login form calls :func:`log_in` (never ``users.authenticate`` alone, which knows
nothing of the second factor) and signs what it opens with ``app.enrolment.login_token``.

The TOTP secret is encrypted at rest by the vault (the data keys of clinical
content, bound to its row: ``user_totp:{user id}:secret``) and re-wrapped by
``keys rotate`` like them. A code is accepted for its 30 s step and the steps on
either side (clock drift), once: the step of the last accepted code is kept and
a code of that step or an older one is refused. Recovery codes carry 80 random
bits and only their SHA-256 is kept; each works once.
"""

import base64
import hashlib
import io
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

import pyotp
import segno
from pyotp.exceptions import OTPVerificationError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.services import accounts
from app.services import users as user_service
from app.throttle import AccountThrottle
from models import User
from models.audit import note
from models.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from models.identifiers import normalize_email
from models.second_factor import RecoveryCode, TotpStatusRead, UserTotp
from security.passwords import verify_password
from security.vault import Vault

# Codes of the step before and after the current one are accepted (phones drift).
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_CODE_BYTES = 10  # 80 bits: 16 base32 characters

SECOND_FACTOR_NEEDED = (
    "Double authentification requise : renvoyez la connexion avec le champ « otp » "
    "(le code à 6 chiffres de votre application d'authentification, ou un code de secours)."
)
SECOND_FACTOR_WRONG = "Code de vérification incorrect, expiré ou déjà utilisé."
WRONG_CREDENTIALS = "Adresse e-mail ou mot de passe incorrect."


class LoginStage(StrEnum):
    """What a login with correct factors opens."""

    COMPLETE = "complete"
    """Both factors (or one where none is required): the whole service."""
    ENROLMENT_ONLY = "enrolment_only"
    """A second factor is required and the account has none: only its enrolment."""


class LoginRefused(Exception):
    """The login fails (HTTP 401); ``second_factor_required`` when the password was right."""

    def __init__(self, message: str, *, second_factor_required: bool = False) -> None:
        super().__init__(message)
        self.second_factor_required = second_factor_required


@dataclass(frozen=True)
class Enrolment:
    secret: str
    """Base32, for typing into an application that cannot scan."""
    uri: str
    """``otpauth://totp/ISSUER:EMAIL?secret=…&issuer=ISSUER``: what the QR code holds."""


async def log_in(
    read_session: AsyncSession,
    session: AsyncSession,
    vault: Vault,
    throttle: AccountThrottle,
    *,
    email: str,
    password: str,
    otp: str | None,
    now: datetime,
    required: bool,
) -> tuple[User, LoginStage]:
    """Check the password then the second factor; raise :class:`LoginRefused` on failure.

    Every attempt counts against the account's limit (``throttle``); only a login that
    gets in clears it, so guessing codes with a stolen password meets the same limit as
    guessing passwords. The password is checked on ``read_session``: only a code to use
    up takes the writer (on SQLite, one at a time), never the slow password hash.
    """
    email = normalize_email(email)
    await throttle.attempt(email)
    user = await user_service.authenticate(read_session, email, password)
    if user is None:
        raise LoginRefused(WRONG_CREDENTIALS)
    stage = await login_stage(read_session, session, vault, user, otp, now=now, required=required)
    await throttle.succeeded(email)
    return user, stage


async def login_stage(
    read_session: AsyncSession,
    session: AsyncSession,
    vault: Vault,
    user: User,
    otp: str | None,
    *,
    now: datetime,
    required: bool,
) -> LoginStage:
    """Judge the second factor of ``user``, whose password was right."""
    if await _active(read_session, user) is None:
        return LoginStage.ENROLMENT_ONLY if required else LoginStage.COMPLETE
    if not otp or not otp.strip():
        raise LoginRefused(SECOND_FACTOR_NEEDED, second_factor_required=True)
    if not await check_code(session, vault, user, otp, now=now):
        raise LoginRefused(SECOND_FACTOR_WRONG, second_factor_required=True)
    return LoginStage.COMPLETE


async def status(session: AsyncSession, user: User, *, required: bool) -> TotpStatusRead:
    row = await session.get(UserTotp, user.id)
    left = 0
    if row is not None and row.confirmed_at is not None:
        left = (
            await session.execute(
                select(func.count())
                .select_from(RecoveryCode)
                .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
            )
        ).scalar_one()
    return TotpStatusRead(
        enabled=row is not None and row.confirmed_at is not None,
        pending=row is not None and row.confirmed_at is None,
        required=required,
        confirmed_at=row.confirmed_at if row else None,
        recovery_codes_left=left,
    )


async def has_second_factor(session: AsyncSession, user: User) -> bool:
    return await _active(session, user) is not None


async def start_enrolment(
    session: AsyncSession, vault: Vault, user: User, *, now: datetime, issuer: str
) -> Enrolment:
    """Draw a new secret for ``user``, pending until :func:`confirm_enrolment`."""
    row = await session.get(UserTotp, user.id)
    if row is not None and row.confirmed_at is not None:
        raise ConflictError(
            "La double authentification est déjà activée sur ce compte : désactivez-la "
            "d'abord pour changer d'application."
        )
    secret = pyotp.random_base32()
    blob = vault.encrypt(UserTotp.__tablename__, user.id, "secret", secret)
    if row is None:
        session.add(UserTotp(id=user.id, secret=blob, created_at=now))
    else:
        row.secret, row.last_step, row.created_at = blob, None, now
    await session.flush()
    return Enrolment(secret=secret, uri=_uri(secret, user, issuer))


async def pending_uri(session: AsyncSession, vault: Vault, user: User, *, issuer: str) -> str:
    """The ``otpauth://`` URI of the enrolment waiting for its first code."""
    row = await session.get(UserTotp, user.id)
    if row is None or row.confirmed_at is not None:
        raise NotFoundError(
            "Aucune activation de la double authentification en cours : commencez-la d'abord."
        )
    return _uri(_secret(vault, row), user, issuer)


def qr_code(uri: str, kind: Literal["svg", "png"]) -> bytes:
    """Render ``uri`` as a QR code image, here (the secret goes to no other service)."""
    buffer = io.BytesIO()
    qr = segno.make(uri, error="m")
    if kind == "svg":
        qr.save(buffer, kind="svg", scale=6, border=4, xmldecl=False, title="QR code")
    else:
        qr.save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


async def confirm_enrolment(
    session: AsyncSession,
    vault: Vault,
    throttle: AccountThrottle,
    user: User,
    code: str,
    *,
    now: datetime,
) -> list[str]:
    """Activate the pending secret with a first code; return the recovery codes (shown once)."""
    row = await session.get(UserTotp, user.id)
    if row is None or row.confirmed_at is not None:
        raise ConflictError(
            "Aucune activation en cours : commencez l'activation de la double authentification."
        )
    await throttle.attempt(user.email)
    if not await _check_totp(session, vault, row, code, now=now):
        raise InvalidInputError(SECOND_FACTOR_WRONG, field="code")
    await throttle.succeeded(user.email)
    row.confirmed_at = now
    codes = await _new_recovery_codes(session, user, now=now)
    note(session, at=now, actor_id=user.id, action="second_factor_enabled")
    return codes


async def check_code(
    session: AsyncSession, vault: Vault, user: User, code: str, *, now: datetime
) -> bool:
    """Whether ``code`` is a valid TOTP code or an unused recovery code of ``user``; use it up.

    A code is used up whether the caller then succeeds or not: inside the caller's
    transaction, so a refused request (rolled back) gives it back.
    """
    row = await _active(session, user)
    if row is None:
        return False
    compact = "".join(code.split())
    if compact.isdigit() and len(compact) == 6:
        return await _check_totp(session, vault, row, compact, now=now)
    used = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _recovery_hash(user, code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return False
    note(session, at=now, actor_id=user.id, action="recovery_code_used")
    return True


async def disable(
    session: AsyncSession,
    vault: Vault,
    throttle: AccountThrottle,
    user: User,
    *,
    password: str,
    code: str,
    now: datetime,
    required: bool,
) -> None:
    """Remove the second factor, on the password and a code (or a recovery code)."""
    if required:
        raise PermissionDeniedError(
            "La double authentification est obligatoire sur ce service : elle ne peut pas "
            "être désactivée (en cas de téléphone perdu, voyez avec l'administrateur)."
        )
    if await _active(session, user) is None:
        raise ConflictError("La double authentification n'est pas activée sur ce compte.")
    await throttle.attempt(user.email)
    if not await verify_password(user.password_hash, password):
        raise InvalidInputError("Mot de passe incorrect.", field="password")
    if not await check_code(session, vault, user, code, now=now):
        raise InvalidInputError(SECOND_FACTOR_WRONG, field="code")
    await throttle.succeeded(user.email)
    await _remove(session, user)
    note(session, at=now, actor_id=user.id, action="second_factor_disabled")


async def regenerate_recovery_codes(
    session: AsyncSession,
    vault: Vault,
    throttle: AccountThrottle,
    user: User,
    code: str,
    *,
    now: datetime,
) -> list[str]:
    """Replace every recovery code of ``user`` by new ones, on a TOTP code."""
    row = await _active(session, user)
    if row is None:
        raise ConflictError("La double authentification n'est pas activée sur ce compte.")
    await throttle.attempt(user.email)
    if not await _check_totp(session, vault, row, code, now=now):
        raise InvalidInputError(SECOND_FACTOR_WRONG, field="code")
    await throttle.succeeded(user.email)
    codes = await _new_recovery_codes(session, user, now=now)
    note(session, at=now, actor_id=user.id, action="recovery_codes_replaced")
    return codes


async def reset(session: AsyncSession, user: User, *, now: datetime) -> bool:
    """Remove ``user``'s second factor whatever the setting (the operator, for a lost phone).

    A lost phone may be a stolen one: the sessions opened with it end too.
    """
    if await session.get(UserTotp, user.id) is None:
        return False
    await _remove(session, user)
    accounts.end_sessions(user)
    note(
        session,
        at=now,
        actor_id=None,
        action="second_factor_reset",
        detail={"user_id": str(user.id)},
    )
    return True


async def _active(session: AsyncSession, user: User) -> UserTotp | None:
    row = await session.get(UserTotp, user.id)
    return row if row is not None and row.confirmed_at is not None else None


async def _remove(session: AsyncSession, user: User) -> None:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await session.execute(delete(UserTotp).where(UserTotp.id == user.id))


def _secret(vault: Vault, row: UserTotp) -> str:
    return vault.decrypt(UserTotp.__tablename__, row.id, "secret", row.secret)


def _uri(secret: str, user: User, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


async def _check_totp(
    session: AsyncSession, vault: Vault, row: UserTotp, code: str, *, now: datetime
) -> bool:
    """Accept a code of a step after the last accepted one (atomically: two logins racing
    with the same code cannot both succeed)."""
    compact = "".join(code.split())
    if not (compact.isdigit() and len(compact) == 6):
        return False
    totp = pyotp.TOTP(_secret(vault, row))
    try:
        step = totp.verify_and_get_timecode(compact, for_time=now, valid_window=VALID_WINDOW)
    except OTPVerificationError:
        return False
    claimed = await session.execute(
        update(UserTotp)
        .where(UserTotp.id == row.id, or_(UserTotp.last_step.is_(None), UserTotp.last_step < step))
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    row.last_step = step
    return True


async def _new_recovery_codes(session: AsyncSession, user: User, *, now: datetime) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(_RECOVERY_CODE_BYTES)).decode().lower()
        code = "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))
        codes.append(code)
        session.add(
            RecoveryCode(user_id=user.id, code_hash=_recovery_hash(user, code), created_at=now)
        )
    await session.flush()
    return codes


def _recovery_hash(user: User, code: str) -> str:
    normalised = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(user.id.bytes + normalised.encode()).hexdigest()
