"""Login, tokens (Litestar's JWT, bearer header or cookie) and role guards."""

import uuid
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import JWTCookieAuth, Token

from app.context import AppContext
from models import Role, User

SESSION_COOKIE = "ess_session"

ROLE_LABELS = {
    Role.REQUESTER: "demandeur",
    Role.SPECIALIST: "spécialiste",
    Role.COORDINATOR: "coordinateur",
}


async def retrieve_user(
    token: Token, connection: ASGIConnection[Any, Any, Any, Any]
) -> User | None:
    """Load the token's user; a deactivated account loses access at once."""
    context: AppContext = connection.app.state.context
    try:
        user_id = uuid.UUID(token.sub)
    except ValueError:
        return None
    async with context.db.single_read() as session:
        user = await session.get(User, user_id)
    if user is None or not user.active:
        raise NotAuthorizedException("Ce compte n'existe plus ou a été désactivé.")
    return user


def build_jwt_auth(context: AppContext) -> JWTCookieAuth[User, Token]:
    return JWTCookieAuth[User, Token](
        retrieve_user_handler=retrieve_user,
        token_secret=context.settings.resolved_secret_key(),
        default_token_expiration=context.settings.token_ttl,
        key=SESSION_COOKIE,
        samesite="strict",
        secure=context.settings.base_url.startswith("https://"),
        exclude=["/health", "/schema", "/api/v1/auth/login", "/static"],
    )


def issue_token(auth: JWTCookieAuth[User, Token], user: User) -> str:
    return auth.create_token(identifier=str(user.id), token_unique_jwt_id=uuid.uuid4().hex)


def requires(*roles: Role):  # type: ignore[no-untyped-def]
    """Guard: only these roles may use the handler (403 otherwise)."""
    allowed = frozenset(roles)
    names = ", ".join(ROLE_LABELS[r] for r in roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.user
        if not isinstance(user, User) or user.role not in allowed:
            raise PermissionDeniedException(f"Action réservée au rôle : {names}.")

    return guard
