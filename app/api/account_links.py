"""The single-use links e-mailed to people: invitations, password resets, e-mail confirmations.

No session is needed (the link is the credential), so no CSRF token either: app.csrf
still refuses requests a browser says come from another origin. The web pages call the
same services (``app.services.accounts``).
"""

from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlmodel import Field, SQLModel

from app.context import AppContext
from app.dependencies import DbSession, Now
from app.openapi import problem_responses
from app.services import accounts
from app.throttle import STORE_NAME, AccountThrottle
from config import Settings
from models import TokenPurpose
from models.identifiers import normalize_email
from models.input import Input, SingleLine
from models.user import PASSWORD_MAX_LENGTH

# A token is 43 URL-safe characters; anything much longer is not one of ours.
TOKEN_MAX_LENGTH = 100


class PasswordResetCreate(Input):
    email: SingleLine = Field(min_length=3, max_length=254)


class PasswordLinkUse(Input):
    token: SingleLine = Field(min_length=1, max_length=TOKEN_MAX_LENGTH)
    password: str = Field(
        min_length=1, max_length=PASSWORD_MAX_LENGTH, description="the new password"
    )


class EmailConfirmationCreate(Input):
    token: SingleLine = Field(min_length=1, max_length=TOKEN_MAX_LENGTH)


class ResetAccepted(SQLModel):
    detail: str


RESET_ACCEPTED = (
    "Si cette adresse est celle d'un compte actif, un lien pour choisir un nouveau mot de "
    "passe vient d'y être envoyé ; il est valable {minutes} minutes."
)


class LinkRead(SQLModel):
    purpose: TokenPurpose
    name: str
    email: str = Field(description="the address the link was sent to")
    expires_at: datetime


def reset_throttle(
    request: Request[Any, Any, Any], settings: Settings, now: datetime
) -> AccountThrottle:
    """How many reset links one address may ask for (the API and the page share it)."""
    return AccountThrottle(
        request.app.stores.get(STORE_NAME),
        settings.login_failures_per_account,
        settings.login_failure_window,
        now,
        action="reset",
        refusal="Trop de demandes de réinitialisation pour cette adresse",
    )


class AccountLinkController(Controller):
    path = "/auth"
    tags = ["comptes"]

    @post(
        "/password-reset",
        status_code=202,
        exclude_from_auth=True,
        exclude_from_csrf=True,
        responses=problem_responses(429),
    )
    async def request_reset(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PasswordResetCreate],
        now: Now,
        context: NamedDependency[AppContext],
    ) -> Response[ResetAccepted]:
        """Ask for a password-reset link: 202 whatever the address, an e-mail if it is an account's.

        The work is done after the answer is sent, so neither the answer nor its delay
        tells whether the address belongs to an account.
        """
        settings = context.settings
        email = normalize_email(data.email)
        await reset_throttle(request, settings, now).attempt(email)
        minutes = int(settings.auth.password_reset_ttl.total_seconds() // 60)
        return Response(
            ResetAccepted(detail=RESET_ACCEPTED.format(minutes=minutes)),
            status_code=202,
            background=BackgroundTask(
                accounts.request_password_reset, context.db, email, now=now, settings=settings
            ),
        )

    @get("/tokens/{token:str}", exclude_from_auth=True, responses=problem_responses(404, 410))
    async def describe(self, token: FromPath[str], read_session: DbSession, now: Now) -> LinkRead:
        """Say whether an e-mailed link can still be used, what for and for whom."""
        info = await accounts.describe_link(read_session, token[:TOKEN_MAX_LENGTH], now=now)
        return LinkRead(
            purpose=info.purpose, name=info.name, email=info.email, expires_at=info.expires_at
        )

    @post(
        "/invitation",
        status_code=204,
        exclude_from_auth=True,
        exclude_from_csrf=True,
        responses=problem_responses(404, 410),
    )
    async def accept_invitation(
        self, data: JSONBody[PasswordLinkUse], session: DbSession, now: Now
    ) -> None:
        """Choose the first password with the invitation's link (it then stops working)."""
        await accounts.use_password_link(
            session, data.token, data.password, TokenPurpose.INVITATION, now=now
        )

    @post(
        "/password-reset/confirm",
        status_code=204,
        exclude_from_auth=True,
        exclude_from_csrf=True,
        responses=problem_responses(404, 410),
    )
    async def confirm_reset(
        self, data: JSONBody[PasswordLinkUse], session: DbSession, now: Now
    ) -> None:
        """Choose a new password with a reset link; every open session of the account ends."""
        await accounts.use_password_link(
            session, data.token, data.password, TokenPurpose.PASSWORD_RESET, now=now
        )

    @post(
        "/email-confirmation",
        status_code=204,
        exclude_from_auth=True,
        exclude_from_csrf=True,
        responses=problem_responses(404, 409, 410),
    )
    async def confirm_email(
        self, data: JSONBody[EmailConfirmationCreate], session: DbSession, now: Now
    ) -> None:
        """Confirm a new e-mail address: the account uses it from now on."""
        await accounts.confirm_email(session, data.token, now=now)
