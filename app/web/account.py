"""``/compte``: one's own account — the password and the second factor.

The second factor's enrolment is reachable with an enrolment-only session (an account
that must have one and has none yet logs in to here, and nowhere else, until it is on).
"""

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.second_factor import account_throttle
from app.context import AppContext
from app.dependencies import CurrentUser, DbSession, Keys, Now
from app.enrolment import ENROLMENT_OPT
from app.services import accounts, second_factor
from app.web.forms import FormRejected, domain_errors, domain_status, text_fields
from app.web.session import login_cookie, session_token
from app.web.templating import flash_cookie, page
from config import Settings
from models import User
from models.errors import DomainError
from models.user import PASSWORD_MIN_LENGTH
from security.vault import Vault

ENROLMENT = {ENROLMENT_OPT: True}
TOTP_ANCHOR = "/compte#double-authentification"


async def account_context(
    session: AsyncSession, vault: Vault, user: User, settings: Settings
) -> dict[str, Any]:
    status = await second_factor.status(session, user, required=bool(settings.auth.require_totp))
    secret = None
    if status.pending:
        uri = await second_factor.pending_uri(session, vault, user, issuer=settings.report.ess_name)
        secret = uri.split("secret=", 1)[1].split("&", 1)[0]
    return {
        "section": "account",
        "totp": status,
        "secret": secret,
        "min_length": PASSWORD_MIN_LENGTH,
    }


class AccountController(Controller):
    path = "/compte"
    include_in_schema = False

    @get("/", opt=ENROLMENT, name="web_account")
    async def show(
        self,
        request: Request[Any, Any, Any],
        session: DbSession,
        vault: Keys,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> Template:
        """The account: password, second factor."""
        context = await account_context(session, vault, current_user, settings)
        return page(request, "accounts/account.html", **context)

    async def _rejected(
        self,
        session: AsyncSession,
        vault: Vault,
        user: User,
        settings: Settings,
        errors: dict[str, str],
        status: int = 422,
    ) -> FormRejected:
        context = await account_context(session, vault, user, settings)
        return FormRejected("accounts/account.html", context, {}, errors, status_code=status)

    @post("/mot-de-passe", name="web_account_password")
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        session: DbSession,
        vault: Keys,
        now: Now,
        context: NamedDependency[AppContext],
        current_user: CurrentUser,
    ) -> Redirect:
        """Change one's password (the current one first); other sessions end."""
        values = text_fields(await request.form())
        new = values.get("new_password", "")
        settings = context.settings
        errors = {}
        if not values.get("current_password"):
            errors["current_password"] = "Saisissez votre mot de passe actuel."
        if not new:
            errors["new_password"] = "Choisissez un nouveau mot de passe."
        elif values.get("new_password_confirmation", "") != new:
            errors["new_password_confirmation"] = "Les deux mots de passe ne sont pas identiques."
        if errors:
            raise await self._rejected(session, vault, current_user, settings, errors)
        user = await session.merge(current_user)
        try:
            await accounts.change_password(session, user, values["current_password"], new, now=now)
        except DomainError as exc:
            raise await self._rejected(
                session, vault, current_user, settings, domain_errors(exc), domain_status(exc)
            ) from exc
        # Every other session ended with the old password; this one carries on.
        return Redirect(
            "/compte",
            status_code=303,
            cookies=[
                login_cookie(context, session_token(context, user)),
                flash_cookie("password_changed"),
            ],
        )

    @post("/double-authentification", opt=ENROLMENT, name="web_totp_start")
    async def start(
        self,
        session: DbSession,
        vault: Keys,
        now: Now,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> Redirect:
        """Draw a secret: the page then shows its QR code and waits for a first code."""
        await second_factor.start_enrolment(
            session, vault, current_user, now=now, issuer=settings.report.ess_name
        )
        return Redirect(TOTP_ANCHOR, status_code=303)

    @post("/double-authentification/confirmation", opt=ENROLMENT, name="web_totp_confirm")
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        session: DbSession,
        vault: Keys,
        now: Now,
        context: NamedDependency[AppContext],
        current_user: CurrentUser,
    ) -> Template:
        """Activate the second factor with a first code; show the recovery codes once."""
        values = text_fields(await request.form())
        settings = context.settings
        code = values.get("code", "").strip()
        if not code:
            raise await self._rejected(
                session, vault, current_user, settings, {"code": "Saisissez le code à 6 chiffres."}
            )
        try:
            codes = await second_factor.confirm_enrolment(
                session,
                vault,
                account_throttle(request, settings, now),
                current_user,
                code,
                now=now,
            )
        except DomainError as exc:
            raise await self._rejected(
                session, vault, current_user, settings, domain_errors(exc), domain_status(exc)
            ) from exc
        # An enrolment-only session becomes a whole one.
        cookie = login_cookie(context, session_token(context, current_user))
        return page(
            request,
            "accounts/recovery_codes.html",
            section="account",
            codes=codes,
            cookies=[cookie],
        )

    @post("/double-authentification/desactivation", name="web_totp_disable")
    async def disable(
        self,
        request: Request[Any, Any, Any],
        session: DbSession,
        vault: Keys,
        now: Now,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> Redirect:
        """Remove the second factor, on the password and a code."""
        values = text_fields(await request.form())
        try:
            await second_factor.disable(
                session,
                vault,
                account_throttle(request, settings, now),
                current_user,
                password=values.get("password", ""),
                code=values.get("code", ""),
                now=now,
                required=bool(settings.auth.require_totp),
            )
        except DomainError as exc:
            raise await self._rejected(
                session, vault, current_user, settings, domain_errors(exc), domain_status(exc)
            ) from exc
        return Redirect(TOTP_ANCHOR, status_code=303, cookies=[flash_cookie("totp_disabled")])
