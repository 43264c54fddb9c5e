"""``/connexion`` and ``/deconnexion``: the session cookie, back to the page asked for.

An account with a second factor logs in in two steps: the password, then the code
(TOTP or a recovery code). Between them the page holds a short signed note of whose
password was right (``pending``), signed with a key of its own so that it can never
pass for a session token.
"""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.params import QueryParameter
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.response import Redirect, Template
from litestar.security.jwt import Token

from app.api.second_factor import account_throttle
from app.auth import issue_token
from app.context import AppContext
from app.dependencies import DbSession, Keys, Now
from app.enrolment import ENROLMENT_AUDIENCE, ENROLMENT_TOKEN_TTL
from app.services import accounts as account_service
from app.services import second_factor
from app.services import users as user_service
from app.web.forms import text_fields
from app.web.session import (
    NO_RENEW,
    PUBLIC,
    RESUME_PREFIX,
    login_cookie,
    logout_cookie,
    safe_next,
    session_id_of,
    session_token,
)
from app.web.templating import flash_cookie, page
from models import User

PENDING_AUDIENCE = "web-login-second-step"
PENDING_TTL = timedelta(minutes=5)


def _pending_secret(context: AppContext) -> str:
    # Not the session's key: a pending note is worthless to the JWT middleware.
    key = context.settings.resolved_secret_key() + "/" + PENDING_AUDIENCE
    return hashlib.sha256(key.encode()).hexdigest()


def pending_note(context: AppContext, user: User) -> str:
    return Token(
        exp=datetime.now(UTC) + PENDING_TTL,
        sub=str(user.id),
        aud=PENDING_AUDIENCE,
        jti=uuid.uuid4().hex,
    ).encode(_pending_secret(context), "HS256")


def read_pending(context: AppContext, note: str) -> uuid.UUID | None:
    try:
        token = Token.decode(note, _pending_secret(context), "HS256", audience=PENDING_AUDIENCE)
        return uuid.UUID(token.sub)
    except (NotAuthorizedException, ValueError):
        return None


class LoginController(Controller):
    path = "/"
    include_in_schema = False

    @get("/connexion", opt={PUBLIC: True}, name="web_login_form")
    async def login_form(
        self,
        request: Request[Any, Any, Any],
        next_path: Annotated[str | None, QueryParameter(name="next", required=False)] = None,
    ) -> Template:
        """The login form."""
        return page(request, "login.html", next=safe_next(next_path), expired=False, resume=[])

    # No session rides on a login, so no CSRF token; app.csrf still refuses other origins.
    @post("/connexion", opt={PUBLIC: True}, exclude_from_csrf=True, name="web_login")
    async def login(
        self,
        request: Request[Any, Any, Any],
        read_session: DbSession,
        session: DbSession,
        vault: Keys,
        now: Now,
        context: NamedDependency[AppContext],
    ) -> Response[Any]:
        """Check the password (then the code); set the session cookie; go where asked."""
        form = await request.form()
        values = text_fields(form)
        resume = [
            (name[len(RESUME_PREFIX) :], value)
            for name, value in form.multi_items()
            if name.startswith(RESUME_PREFIX) and isinstance(value, str)
        ]
        target = safe_next(values.get("next"))
        settings = context.settings

        def again(status: int, errors: dict[str, str], pending: str | None = None) -> Template:
            return page(
                request,
                "login.html",
                status_code=status,
                next=target,
                expired=bool(resume),
                resume=resume,
                pending=pending,
                values={"email": values.get("email", "")},
                errors=errors,
            )

        throttle = account_throttle(request, settings, now)
        required = bool(settings.auth.require_totp)
        pending = values.get("pending")
        try:
            if pending:
                user_id = read_pending(context, pending)
                user = await read_session.get(User, user_id) if user_id else None
                if user is None or not user.active:
                    return again(401, {"_form": "Reprenez la connexion depuis le début."})
                otp = values.get("otp", "")
                if not otp.strip():
                    return again(422, {"otp": "Saisissez le code à 6 chiffres."}, pending)
                await throttle.attempt(user.email)
                stage = await second_factor.login_stage(
                    read_session, session, vault, user, otp, now=now, required=required
                )
                await throttle.succeeded(user.email)
            else:
                errors = {}
                if not values.get("email", "").strip():
                    errors["email"] = "Saisissez votre adresse e-mail."
                if not values.get("password"):
                    errors["password"] = "Saisissez votre mot de passe."
                if errors:
                    return again(422, errors)
                if len(values["email"]) > 254 or len(values["password"]) > 200:
                    return again(401, {"_form": second_factor.WRONG_CREDENTIALS})
                user, stage = await second_factor.log_in(
                    read_session,
                    session,
                    vault,
                    throttle,
                    email=values["email"],
                    password=values["password"],
                    otp=None,
                    now=now,
                    required=required,
                )
        except second_factor.LoginRefused as refused:
            if not refused.second_factor_required:
                return again(401, {"_form": str(refused)})
            if pending:
                return again(401, {"otp": str(refused)}, pending)
            # The password was right: now the code, on the same page.
            account = await user_service.get_user_by_email(read_session, values["email"])
            return again(200, {}, pending_note(context, account))
        except ProblemDetailsException as exc:  # too many attempts (429)
            response = again(exc.status_code, {"_form": str(exc.detail)})
            response.headers.update(exc.headers or {})
            return response
        if stage is second_factor.LoginStage.ENROLMENT_ONLY:
            # A session for the enrolment alone (app.enrolment), then the whole service.
            token = issue_token(
                context.jwt_auth, user, audience=ENROLMENT_AUDIENCE, expiration=ENROLMENT_TOKEN_TTL
            )
            return Redirect(
                "/compte#double-authentification",
                status_code=303,
                cookies=[login_cookie(context, token), flash_cookie("enrolment_needed")],
            )
        cookie = login_cookie(context, session_token(context, user))
        if resume:
            # The form sent when the session had expired, to send again as it was.
            request.scope["user"] = user
            return page(request, "resume.html", action=target, resume=resume, cookies=[cookie])
        return Redirect(target, status_code=303, cookies=[cookie])

    @post("/deconnexion", opt={NO_RENEW: True}, name="web_logout")
    async def logout(
        self,
        request: Request[Any, Any, Any],
        context: NamedDependency[AppContext],
        session: DbSession,
        now: Now,
    ) -> Redirect:
        """End the session: its cookie here, and any copy of it anywhere (its id is kept
        until every token of it has expired)."""
        session_id = session_id_of(request.auth)
        if session_id is not None:
            await account_service.end_session(
                session, session_id, now=now, lasts=context.settings.session_idle
            )
        return Redirect(
            "/connexion",
            status_code=303,
            cookies=[logout_cookie(context), flash_cookie("signed_out")],
        )
