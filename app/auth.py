"""Tokens (Litestar's JWT, in the bearer header or the session cookie) and role guards."""

import uuid
from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import JWTCookieAuth, Token

from app.errors import problem
from config import Settings
from models import EndedSession, Role, User
from models.storage import Database

SESSION_COOKIE = "ess_session"
# The claim carrying the account's ``credentials_version`` the token was issued under.
CREDENTIALS_CLAIM = "cv"
# The login a web session's tokens come from: kept through renewals, ended by logout.
SESSION_CLAIM = "sid"

ROLE_LABELS = {
    Role.REQUESTER: "demandeur",
    Role.SPECIALIST: "spécialiste",
    Role.COORDINATOR: "coordinateur",
}


def build_jwt_auth(settings: Settings, db: Database) -> JWTCookieAuth[User, Token]:
    """Litestar's JWT authentication, loading each token's user from ``db``."""

    async def retrieve_user(
        token: Token, _connection: ASGIConnection[Any, Any, Any, Any]
    ) -> User | None:
        """Load the token's user; a deactivated account or a changed password ends it at once."""
        try:
            user_id = uuid.UUID(token.sub)
        except ValueError:
            return None
        session_id = token.extras.get(SESSION_CLAIM)
        async with db.single_read() as session:
            user = await session.get(User, user_id)
            ended = (
                isinstance(session_id, str)
                and await session.get(EndedSession, session_id) is not None
            )
        if ended:
            raise problem(401, "Session terminée : vous vous êtes déconnecté. Reconnectez-vous.")
        if user is None or not user.active:
            raise problem(401, "Ce compte n'existe plus ou a été désactivé.")
        if token.extras.get(CREDENTIALS_CLAIM, 0) != user.credentials_version:
            raise problem(
                401,
                "Session terminée : le mot de passe de ce compte a changé, ou le compte a été "
                "désactivé entre-temps. Reconnectez-vous.",
            )
        return user

    return JWTCookieAuth[User, Token](
        retrieve_user_handler=retrieve_user,
        token_secret=settings.resolved_secret_key(),
        default_token_expiration=settings.token_ttl,
        key=SESSION_COOKIE,
        # Lax: a page opened from an e-mail link sees the session; state changes
        # need the CSRF token (app.csrf) whatever the SameSite rule.
        samesite="lax",
        secure=settings.base_url.startswith("https://"),
        exclude=["/health", "/schema", "/api/v1/auth/login"],
    )


def issue_token(
    auth: JWTCookieAuth[User, Token],
    user: User,
    *,
    audience: str | None = None,
    expiration: timedelta | None = None,
    session_id: str | None = None,
) -> str:
    """Sign a token for ``user``, valid until its credentials change; an ``audience``
    narrows it (``app.enrolment``); a ``session_id`` ties it to a web session, ended by
    logging out."""
    extras: dict[str, Any] = {CREDENTIALS_CLAIM: user.credentials_version}
    if session_id is not None:
        extras[SESSION_CLAIM] = session_id
    return auth.create_token(
        identifier=str(user.id),
        token_unique_jwt_id=uuid.uuid4().hex,
        token_audience=audience,
        token_expiration=expiration,
        token_extras=extras,
    )


def session_cookie(auth: JWTCookieAuth[User, Token], token: str) -> Cookie:
    """Return the session cookie carrying ``token``, as Litestar's ``login()`` would set it."""
    return Cookie(
        key=auth.key,
        value=token,
        path=auth.path,
        max_age=int(auth.default_token_expiration.total_seconds()),
        httponly=True,
        secure=auth.secure,
        samesite=auth.samesite,
        domain=auth.domain,
    )


def requires(*roles: Role):  # type: ignore[no-untyped-def]
    """Guard: only these roles may use the handler (403 otherwise)."""
    allowed = frozenset(roles)
    names = ", ".join(ROLE_LABELS[r] for r in roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.user
        if not isinstance(user, User) or user.role not in allowed:
            raise problem(403, f"Action réservée au rôle : {names}.")

    return guard
