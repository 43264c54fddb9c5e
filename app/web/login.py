"""``/connexion`` and ``/deconnexion``: the session cookie, back to the page asked for."""

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.response import Redirect, Template

from app.context import AppContext
from app.dependencies import DbSession, Now
from app.services import users as user_service
from app.throttle import STORE_NAME, AccountThrottle
from app.web.forms import text_fields
from app.web.session import (
    NO_RENEW,
    PUBLIC,
    RESUME_PREFIX,
    login_cookie,
    logout_cookie,
    safe_next,
    session_token,
)
from app.web.templating import flash_cookie, page
from models.identifiers import normalize_email

WRONG = "Adresse e-mail ou mot de passe incorrect."


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
        now: Now,
        context: NamedDependency[AppContext],
    ) -> Response[Any]:
        """Check the e-mail and password; set the session cookie; go where the user was going."""
        form = await request.form()
        values = text_fields(form)
        resume = [
            (name[len(RESUME_PREFIX) :], value)
            for name, value in form.multi_items()
            if name.startswith(RESUME_PREFIX) and isinstance(value, str)
        ]
        target = safe_next(values.get("next"))
        shown = {"email": values.get("email", "")}

        def again(status: int, errors: dict[str, str]) -> Template:
            return page(
                request,
                "login.html",
                status_code=status,
                next=target,
                expired=bool(resume),
                resume=resume,
                values=shown,
                errors=errors,
            )

        email = normalize_email(values.get("email", ""))
        password = values.get("password", "")
        errors = {}
        if not email:
            errors["email"] = "Saisissez votre adresse e-mail."
        if not password:
            errors["password"] = "Saisissez votre mot de passe."
        if errors:
            return again(422, errors)
        if len(email) > 254 or len(password) > 200:
            return again(401, {"_form": WRONG})
        settings = context.settings
        throttle = AccountThrottle(
            request.app.stores.get(STORE_NAME),
            settings.login_failures_per_account,
            settings.login_failure_window,
            now,
        )
        try:
            await throttle.attempt(email)
        except ProblemDetailsException as exc:
            response = again(429, {"_form": str(exc.detail)})
            response.headers.update(exc.headers or {})
            return response
        user = await user_service.authenticate(read_session, email, password)
        if user is None:
            return again(401, {"_form": WRONG})
        await throttle.succeeded(email)
        cookie = login_cookie(context, session_token(context, user))
        if resume:
            # The form sent when the session had expired, to send again as it was.
            request.scope["user"] = user
            request.scope["user"] = user
            return page(request, "resume.html", action=target, resume=resume, cookies=[cookie])
        return Redirect(target, status_code=303, cookies=[cookie])

    @post("/deconnexion", opt={NO_RENEW: True}, name="web_logout")
    async def logout(self, context: NamedDependency[AppContext]) -> Redirect:
        """End the session."""
        return Redirect(
            "/connexion",
            status_code=303,
            cookies=[logout_cookie(context), flash_cookie("signed_out")],
        )
