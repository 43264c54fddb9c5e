"""Passwords and single-use account links: invitations, resets, e-mail confirmations.

A link's token is derived from its row's id and the secret key (``security.tokens``);
the database keeps its digest. Using a link marks it used in one conditional UPDATE,
so two concurrent uses cannot both succeed. Issuing a link of one purpose revokes the
account's earlier unused ones of that purpose, and any change of password revokes the
outstanding invitation and reset links and ends the account's sessions.
"""

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from models import (
    AccountToken,
    EndedSession,
    NotificationKind,
    OutboxMessage,
    OutboxStatus,
    TokenPurpose,
    User,
    enqueue,
)
from models.errors import ConflictError, GoneError, InvalidInputError, NotFoundError
from models.identifiers import normalize_email
from models.storage import Database
from security import tokens
from security.password_policy import WeakPassword, check_password
from security.passwords import hash_password, verify_password

_KIND = {
    TokenPurpose.INVITATION: NotificationKind.INVITATION,
    TokenPurpose.PASSWORD_RESET: NotificationKind.PASSWORD_RESET,
    TokenPurpose.EMAIL_CONFIRMATION: NotificationKind.EMAIL_CONFIRMATION,
}
# The links a new password makes pointless.
_PASSWORD_LINKS = (TokenPurpose.INVITATION, TokenPurpose.PASSWORD_RESET)

INVALID_LINK = (
    "Ce lien n'est pas valide : vérifiez qu'il a été copié en entier, ou demandez-en un nouveau."
)


@dataclass(frozen=True)
class LinkInfo:
    """What a link's page may show before it is used: for whom, what for, until when."""

    purpose: TokenPurpose
    name: str
    email: str
    expires_at: datetime


# --- passwords -------------------------------------------------------------------------


async def check_new_password(
    password: str, *, name: str, email: str, field: str = "password"
) -> None:
    """Refuse a password the policy rejects, naming the rule (422 on ``field``)."""
    try:
        # zxcvbn's matching takes milliseconds, more on long inputs: off the event loop.
        await asyncio.to_thread(check_password, password, name=name, email=email)
    except WeakPassword as exc:
        raise InvalidInputError(exc.reason, field=field) from None


def end_sessions(user: User) -> None:
    """Invalidate every login token and session cookie issued to ``user`` so far."""
    user.credentials_version += 1


async def end_session(
    session: AsyncSession, session_id: str, *, now: datetime, lasts: timedelta
) -> None:
    """End one web session (its owner logged out): any copy of its cookie is refused until
    its last token expires (``lasts`` after now). The ended sessions whose tokens have all
    expired are forgotten."""
    await session.execute(delete(EndedSession).where(EndedSession.expires_at < now))
    if await session.get(EndedSession, session_id) is None:
        session.add(EndedSession(session_id=session_id, ended_at=now, expires_at=now + lasts))


async def set_password(
    session: AsyncSession, user: User, password: str, *, now: datetime, field: str = "password"
) -> None:
    """Give ``user`` a new password (policy checked); end their sessions and pending links."""
    await check_new_password(password, name=user.name, email=user.email, field=field)
    await _store_password(session, user, password, now=now)


async def _store_password(
    session: AsyncSession, user: User, password: str, *, now: datetime
) -> None:
    user.password_hash = await hash_password(password)
    end_sessions(user)
    await _revoke(session, user.id, _PASSWORD_LINKS, now=now)
    await session.flush()


async def change_password(
    session: AsyncSession, user: User, current: str, new: str, *, now: datetime
) -> None:
    """The signed-in user's own change: the current password first, then the new one."""
    if not await verify_password(user.password_hash, current):
        raise InvalidInputError("Mot de passe actuel incorrect.", field="current_password")
    if current == new:
        raise InvalidInputError(
            "Le nouveau mot de passe doit être différent de l'actuel.", field="new_password"
        )
    await set_password(session, user, new, now=now, field="new_password")


# --- issuing links ---------------------------------------------------------------------


async def _revoke(
    session: AsyncSession,
    user_id: uuid.UUID,
    purposes: Iterable[TokenPurpose],
    *,
    now: datetime,
) -> None:
    await session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose.in_([p.value for p in purposes]),
            AccountToken.used_at.is_(None),
            AccountToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


async def _send_link(
    session: AsyncSession,
    user: User,
    purpose: TokenPurpose,
    *,
    now: datetime,
    ttl: timedelta,
    secret: str,
    address: str | None = None,
) -> AccountToken:
    """Revoke the account's earlier links of ``purpose``, issue one and queue its e-mail."""
    await _revoke(session, user.id, [purpose], now=now)
    # An earlier e-mail of this kind still waiting (SMTP down, say) would only bring a
    # dead link: it gives way to this one. One being sent right now (leased) is left.
    await session.execute(
        delete(OutboxMessage)
        .where(
            OutboxMessage.recipient_id == user.id,
            OutboxMessage.kind == _KIND[purpose].value,
            OutboxMessage.status.in_([OutboxStatus.PENDING.value, OutboxStatus.HELD.value]),
            or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= now),
        )
        .execution_options(synchronize_session=False)
    )
    row = AccountToken(
        id=uuid.uuid4(),
        user_id=user.id,
        purpose=purpose,
        digest="",
        email=address,
        created_at=now,
        expires_at=now + ttl,
    )
    row.digest = tokens.digest(tokens.link_token(secret, row.id))
    session.add(row)
    params: dict[str, object] = {"token_id": str(row.id), "expires_at": row.expires_at.isoformat()}
    if address is not None:
        params["address"] = address
    enqueue(session, _KIND[purpose], recipient_id=user.id, request_id=None, now=now, params=params)
    await session.flush()
    return row


async def invite(session: AsyncSession, user: User, *, now: datetime, settings: Settings) -> None:
    """E-mail ``user`` a link to choose their first password; an earlier link stops working."""
    if not user.active:
        raise ConflictError("Ce compte est désactivé : réactivez-le avant de l'inviter.")
    if user.password_hash is not None:
        raise ConflictError(
            "Ce compte a déjà un mot de passe : son titulaire peut demander une "
            "réinitialisation (« mot de passe oublié »)."
        )
    await _send_link(
        session,
        user,
        TokenPurpose.INVITATION,
        now=now,
        ttl=settings.auth.invitation_ttl,
        secret=settings.resolved_secret_key(),
    )


async def request_email_change(
    session: AsyncSession, user: User, address: str, *, now: datetime, settings: Settings
) -> None:
    """Send a confirmation link to ``address``; the account switches to it once followed."""
    await _send_link(
        session,
        user,
        TokenPurpose.EMAIL_CONFIRMATION,
        now=now,
        ttl=settings.auth.email_confirmation_ttl,
        secret=settings.resolved_secret_key(),
        address=address,
    )


async def request_password_reset(
    db: Database, email: str, *, now: datetime, settings: Settings
) -> None:
    """E-mail a reset link if ``email`` is an active account's; otherwise do nothing.

    The API runs this after its 202 has been sent, so the answer neither says nor
    (by its timing) shows whether the address is known.
    """
    address = normalize_email(email)
    secret = settings.resolved_secret_key()
    async with db.transaction() as session:
        user = (
            await session.execute(select(User).where(User.email == address))
        ).scalar_one_or_none()
        if user is None or not user.active:
            return
        await _send_link(
            session,
            user,
            TokenPurpose.PASSWORD_RESET,
            now=now,
            ttl=settings.auth.password_reset_ttl,
            secret=secret,
        )


# --- using links -----------------------------------------------------------------------


async def _find(
    session: AsyncSession, token: str, purposes: Iterable[TokenPurpose], *, now: datetime
) -> tuple[AccountToken, User]:
    wanted = set(purposes)
    row = (
        await session.execute(
            select(AccountToken).where(AccountToken.digest == tokens.digest(token))
        )
    ).scalar_one_or_none()
    if row is None or row.purpose not in wanted:
        raise NotFoundError(INVALID_LINK)
    if row.used_at is not None:
        raise GoneError("Ce lien a déjà servi : il ne fonctionne qu'une fois.")
    if row.revoked_at is not None:
        raise GoneError(
            "Ce lien a été remplacé par un plus récent ou annulé : utilisez le dernier reçu."
        )
    if row.expires_at <= now:
        raise GoneError("Ce lien a expiré : demandez-en un nouveau.")
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        raise GoneError("Ce compte a été désactivé : contactez la coordination de l'ESS.")
    return row, user


async def _claim(session: AsyncSession, row: AccountToken, *, now: datetime) -> None:
    """Mark the link used, or fail if another use got there first."""
    result = await session.execute(
        update(AccountToken)
        .where(
            AccountToken.id == row.id,
            AccountToken.used_at.is_(None),
            AccountToken.revoked_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise GoneError("Ce lien a déjà servi : il ne fonctionne qu'une fois.")
    row.used_at = now


async def describe_link(
    session: AsyncSession, token: str, *, now: datetime, purpose: TokenPurpose | None = None
) -> LinkInfo:
    """Say whether a link can be used, and for whom (404 unknown, 410 used or expired)."""
    row, user = await _find(session, token, [purpose] if purpose else list(TokenPurpose), now=now)
    return LinkInfo(
        purpose=row.purpose,
        name=user.name,
        email=row.email or user.email,
        expires_at=row.expires_at,
    )


async def use_password_link(
    session: AsyncSession, token: str, password: str, purpose: TokenPurpose, *, now: datetime
) -> User:
    """Set the password an invitation or reset link was sent for; the link is then spent."""
    row, user = await _find(session, token, [purpose], now=now)
    # The policy first: a refused password leaves the link usable for another try.
    await check_new_password(password, name=user.name, email=user.email)
    await _claim(session, row, now=now)
    await _store_password(session, user, password, now=now)
    return user


async def confirm_email(session: AsyncSession, token: str, *, now: datetime) -> User:
    """Switch the account to the address the link was sent to."""
    row, user = await _find(session, token, [TokenPurpose.EMAIL_CONFIRMATION], now=now)
    assert row.email is not None
    taken = (
        await session.execute(select(User.id).where(User.email == row.email, User.id != user.id))
    ).first()
    if taken:
        raise ConflictError(f"Un autre compte utilise déjà l'adresse {row.email}.")
    await _claim(session, row, now=now)
    user.email = row.email
    # The reset and invitation links went to the old address: they stop here.
    await _revoke(session, user.id, _PASSWORD_LINKS, now=now)
    await session.flush()
    return user
