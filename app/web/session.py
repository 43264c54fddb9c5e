"""Web sessions: login, logout, idle expiry, and never losing what was typed.

The pages are excluded from the application's JWT middleware (``exclude_from_auth``
on the web router) and authenticated here, by the same Litestar JWT code and the same
``ess_session`` cookie: a page asked for without a valid session answers a redirect
to ``/connexion?next=…`` (back there after login), and a form sent after the session
expired answers the login form holding every text value that was sent, to be sent
again once logged in. The cookie's token lives ``ESS_SESSION_IDLE`` (30 minutes) and
is renewed as pages are used.
"""

import time
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders, UploadFile
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.security.jwt import JWTCookieAuth, Token
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import SESSION_CLAIM, issue_token
from app.context import AppContext
from app.csrf import CSRF_FORM_FIELD
from app.enrolment import is_enrolment_only
from app.web.templating import page
from models import User

# A token older than this is replaced as pages are used (not at every request).
RENEW_AFTER_SECONDS = 60
PUBLIC = "web_public"  # route opt: the page is open to anyone (login, static files)
NO_RENEW = "web_no_renew"  # route opt: leave the cookie alone (logout deletes it)
RESUME_PREFIX = "resume:"


def safe_next(value: str | None) -> str:
    """Return ``value`` if it is a path on this site, else ``/`` (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 32 or c == "\\" for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def session_token(context: AppContext, user: User, session_id: str | None = None) -> str:
    """A page session's token; a new session (a login) unless ``session_id`` is renewed."""
    return issue_token(
        context.jwt_auth,
        user,
        expiration=context.settings.session_idle,
        session_id=session_id or uuid.uuid4().hex,
    )


def session_id_of(token: Token) -> str | None:
    value = token.extras.get(SESSION_CLAIM)
    return value if isinstance(value, str) else None


def login_cookie(context: AppContext, token: str) -> Cookie:
    """The session cookie: HttpOnly, SameSite=Lax, Secure under https, idle lifetime."""
    auth: JWTCookieAuth[User, Token] = context.jwt_auth
    return Cookie(
        key=auth.key,
        value=token,
        path="/",
        max_age=int(context.settings.session_idle.total_seconds()),
        httponly=True,
        secure=auth.secure,
        samesite=auth.samesite,
    )


def logout_cookie(context: AppContext) -> Cookie:
    auth = context.jwt_auth
    return Cookie(key=auth.key, value="", path="/", max_age=0, httponly=True, secure=auth.secure)


def _issued_at(token: Token) -> float:
    iat: Any = token.iat
    return iat.timestamp() if isinstance(iat, datetime) else float(iat)


class WebSessionMiddleware:
    """Authenticate a page by the session cookie; send the visitor to log in when needed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        context: AppContext = scope["litestar_app"].state.context
        opt = scope["route_handler"].opt
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
        auth = context.jwt_auth
        checker = auth.middleware.middleware(app=self.app, **auth.middleware.kwargs)
        try:
            result = await checker.authenticate_request(connection)
        except HTTPException:
            if opt.get(PUBLIC):
                scope["user"] = None
                await self.app(scope, receive, send)
                return
            response = await self._to_login(scope, receive)
            await response.to_asgi_response(app=None, request=Request(scope, receive))(
                scope, receive, send
            )
            return
        scope["user"], scope["auth"] = result.user, result.auth
        if (
            opt.get(NO_RENEW)
            or is_enrolment_only(result.auth)  # never turned into a whole session here
            or time.time() - _issued_at(result.auth) < RENEW_AFTER_SECONDS
        ):
            await self.app(scope, receive, send)
            return
        renewed = session_token(context, result.user, session_id_of(result.auth))
        cookie = login_cookie(context, renewed)

        async def renewing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                if not any(v.startswith(f"{auth.key}=") for v in headers.getall("set-cookie", [])):
                    headers.add("set-cookie", cookie.to_header(header=""))
            await send(message)

        await self.app(scope, receive, renewing)

    async def _to_login(self, scope: Scope, receive: Receive) -> Response[Any]:
        request: Request[Any, Any, Any] = Request(scope, receive)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method in ("GET", "HEAD"):
            location = "/connexion?next=" + quote(target, safe="/")
            if request.headers.get("hx-request"):
                # HTMX would swap the login page into a fragment: reload the whole page,
                # and come back to the page shown (not to the fragment's address).
                shown = urlsplit(request.headers.get("hx-current-url", ""))
                if shown.path:
                    page_path = shown.path + (f"?{shown.query}" if shown.query else "")
                    location = "/connexion?next=" + quote(safe_next(page_path), safe="/")
                return Response(None, status_code=401, headers={"HX-Redirect": location})
            return Response(None, status_code=303, headers={"Location": location})
        # A form sent after the session expired: keep every text value it carried.
        resume: list[tuple[str, str]] = []
        had_files = False
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    had_files = had_files or bool(value.filename)
                elif name != CSRF_FORM_FIELD:
                    resume.append((name, value))
        scope["user"] = None
        return page(
            request,
            "login.html",
            status_code=401,
            next=safe_next(request.url.path),
            expired=True,
            resume=resume,
            had_files=had_files,
        )
