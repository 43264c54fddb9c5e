"""Enrolment-only tokens: what an account without a required second factor may reach.

When ``ESS_AUTH__REQUIRE_TOTP`` is on, a login with the right password on an account
that has no second factor yet gets a short token whose audience is
:data:`ENROLMENT_AUDIENCE`. The application-wide :func:`enrolment_guard` lets such a
token reach only the handlers marked with ``opt={ENROLMENT_OPT: True}`` (the API's
``/me/totp`` enrolment; web pages mark theirs the same way); everything else answers
401 with ``second_factor_enrolment_required``. Tokens from ``ess-router token`` (the
operator, on the server) are full tokens.
"""

from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import JWTCookieAuth, Token

from app.auth import issue_token
from app.errors import problem
from app.services.second_factor import LoginStage
from models import User

ENROLMENT_AUDIENCE = "second-factor-enrolment"
ENROLMENT_OPT = "second_factor_enrolment"
# Long enough to scan a code and type the first one, short for a token reaching so little.
ENROLMENT_TOKEN_TTL = timedelta(minutes=15)


def login_token(
    auth: JWTCookieAuth[User, Token], user: User, stage: LoginStage, token_ttl: timedelta
) -> tuple[str, timedelta]:
    """Sign what a login that reached ``stage`` opens (API and pages alike), with its lifetime."""
    if stage is LoginStage.ENROLMENT_ONLY:
        token = issue_token(auth, user, audience=ENROLMENT_AUDIENCE, expiration=ENROLMENT_TOKEN_TTL)
        return token, ENROLMENT_TOKEN_TTL
    return issue_token(auth, user), token_ttl


def is_enrolment_only(token: object) -> bool:
    return isinstance(token, Token) and token.aud == ENROLMENT_AUDIENCE


def enrolment_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Refuse an enrolment-only token anywhere but the enrolment (401: not signed in yet)."""
    if is_enrolment_only(connection.scope.get("auth")) and not handler.opt.get(ENROLMENT_OPT):
        raise problem(
            401,
            "La double authentification est obligatoire : activez-la d'abord "
            "(/api/v1/me/totp) ; sa confirmation vous donne un accès complet.",
            second_factor_enrolment_required=True,
        )


# Not a role check: the OpenAPI plugin (app.openapi) documents no 403 for it.
enrolment_guard.authenticates = True  # type: ignore[attr-defined]
