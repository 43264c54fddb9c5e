"""The pages an e-mailed link opens: invitation, password reset, e-mail confirmation.

Anyone holding the link may use it (it is the credential); the rules, and the
refusal of a used, expired or unknown link, are the accounts service's.
"""

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.response import Redirect, Template

from app.api.account_links import RESET_ACCEPTED, TOKEN_MAX_LENGTH, reset_throttle
from app.context import AppContext
from app.dependencies import DbSession, Now
from app.services import accounts
from app.web.forms import FormRejected, domain_errors, domain_status, text_fields
from app.web.session import PUBLIC
from app.web.templating import flash_cookie, page
from models import TokenPurpose
from models.errors import InvalidInputError
from models.identifiers import normalize_email
from models.user import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

LinkToken = FromPath[str]
PAGES = {
    TokenPurpose.INVITATION: ("invitation", "Bienvenue : choisissez votre mot de passe"),
    TokenPurpose.PASSWORD_RESET: ("mot-de-passe", "Choisissez un nouveau mot de passe"),
}


async def _link_page(
    request: Request[Any, Any, Any], read_session: Any, token: str, purpose: TokenPurpose, now: Any
) -> Template:
    info = await accounts.describe_link(
        read_session, token[:TOKEN_MAX_LENGTH], now=now, purpose=purpose
    )
    return page(
        request,
        "accounts/choose_password.html",
        info=info,
        action=f"/{PAGES[purpose][0]}/{token}",
        heading=PAGES[purpose][1],
        min_length=PASSWORD_MIN_LENGTH,
    )


async def _use_link(
    request: Request[Any, Any, Any],
    session: Any,
    token: str,
    purpose: TokenPurpose,
    now: Any,
) -> Redirect:
    values = text_fields(await request.form())
    password = values.get("password", "")
    info = await accounts.describe_link(session, token[:TOKEN_MAX_LENGTH], now=now, purpose=purpose)

    def rejected(errors: dict[str, str], status: int = 422) -> FormRejected:
        context = {
            "info": info,
            "action": f"/{PAGES[purpose][0]}/{token}",
            "heading": PAGES[purpose][1],
            "min_length": PASSWORD_MIN_LENGTH,
        }
        return FormRejected("accounts/choose_password.html", context, {}, errors, status)

    if not password:
        raise rejected({"password": "Choisissez un mot de passe."})
    if len(password) > PASSWORD_MAX_LENGTH:
        raise rejected({"password": f"{PASSWORD_MAX_LENGTH} caractères au plus."})
    if values.get("password_confirmation", "") != password:
        raise rejected({"password_confirmation": "Les deux mots de passe ne sont pas identiques."})
    try:
        await accounts.use_password_link(
            session, token[:TOKEN_MAX_LENGTH], password, purpose, now=now
        )
    except InvalidInputError as exc:
        raise rejected(domain_errors(exc), domain_status(exc)) from exc
    return Redirect("/connexion?next=/", status_code=303, cookies=[flash_cookie("password_set")])


class AccountLinkPages(Controller):
    path = "/"
    opt = {PUBLIC: True}
    include_in_schema = False

    @get("/invitation/{token:str}", name="web_invitation")
    async def invitation(
        self, request: Request[Any, Any, Any], token: LinkToken, read_session: DbSession, now: Now
    ) -> Template:
        """Choose the first password, from the invitation e-mail."""
        return await _link_page(request, read_session, token, TokenPurpose.INVITATION, now)

    @post("/invitation/{token:str}", name="web_invitation_use")
    async def accept_invitation(
        self, request: Request[Any, Any, Any], token: LinkToken, session: DbSession, now: Now
    ) -> Redirect:
        """Set the first password; the link then stops working."""
        return await _use_link(request, session, token, TokenPurpose.INVITATION, now)

    @get("/mot-de-passe/{token:str}", name="web_reset")
    async def reset(
        self, request: Request[Any, Any, Any], token: LinkToken, read_session: DbSession, now: Now
    ) -> Template:
        """Choose a new password, from the reset e-mail."""
        return await _link_page(request, read_session, token, TokenPurpose.PASSWORD_RESET, now)

    @post("/mot-de-passe/{token:str}", name="web_reset_use")
    async def use_reset(
        self, request: Request[Any, Any, Any], token: LinkToken, session: DbSession, now: Now
    ) -> Redirect:
        """Set the new password; every open session of the account ends."""
        return await _use_link(request, session, token, TokenPurpose.PASSWORD_RESET, now)

    @get("/mot-de-passe-oublie", name="web_forgotten")
    async def forgotten(self, request: Request[Any, Any, Any]) -> Template:
        """Ask for a reset link."""
        return page(request, "accounts/forgotten.html", sent=None)

    @post("/mot-de-passe-oublie", name="web_forgotten_send")
    async def send_reset(
        self, request: Request[Any, Any, Any], now: Now, context: NamedDependency[AppContext]
    ) -> Response[Any]:
        """E-mail a reset link if the address is an account's; say the same either way."""
        values = text_fields(await request.form())
        email = normalize_email(values.get("email", ""))
        if not email or len(email) > 254:
            return page(
                request,
                "accounts/forgotten.html",
                status_code=422,
                sent=None,
                values=values,
                errors={"email": "Saisissez l'adresse e-mail de votre compte."},
            )
        settings = context.settings
        try:
            await reset_throttle(request, settings, now).attempt(email)
        except ProblemDetailsException as exc:
            response = page(
                request,
                "accounts/forgotten.html",
                status_code=exc.status_code,
                sent=None,
                values=values,
                errors={"_form": str(exc.detail)},
            )
            response.headers.update(exc.headers or {})
            return response
        minutes = int(settings.auth.password_reset_ttl.total_seconds() // 60)
        response = page(
            request, "accounts/forgotten.html", sent=RESET_ACCEPTED.format(minutes=minutes)
        )
        # After the answer is sent: neither it nor its delay says whether the address is known.
        response.background = BackgroundTask(
            accounts.request_password_reset, context.db, email, now=now, settings=settings
        )
        return response

    @get("/confirmation-adresse/{token:str}", name="web_email_confirmation")
    async def email_confirmation(
        self, request: Request[Any, Any, Any], token: LinkToken, read_session: DbSession, now: Now
    ) -> Template:
        """Confirm a new e-mail address (a button, so that a mail scanner cannot)."""
        info = await accounts.describe_link(
            read_session, token[:TOKEN_MAX_LENGTH], now=now, purpose=TokenPurpose.EMAIL_CONFIRMATION
        )
        return page(request, "accounts/confirm_email.html", info=info, token=token)

    @post("/confirmation-adresse/{token:str}", name="web_email_confirm")
    async def confirm_email(self, token: LinkToken, session: DbSession, now: Now) -> Redirect:
        """Switch the account to the confirmed address."""
        await accounts.confirm_email(session, token[:TOKEN_MAX_LENGTH], now=now)
        return Redirect("/connexion", status_code=303, cookies=[flash_cookie("email_confirmed")])
