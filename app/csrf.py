"""Cross-site request forgery: same-origin check and Litestar's CSRF token for cookie sessions.

A browser sends the session cookie with any request, even one another site makes it
send; it never adds an ``Authorization`` header to a cross-site request without a
CORS preflight, which this service does not allow. So a request that carries a
bearer token is authenticated by that token (Litestar's JWT middleware reads the
header first) and needs no CSRF token; a state change that relies on the session
cookie needs the token the service gave the page (double submit, signed by
Litestar's ``CSRFMiddleware``), and any state change a browser says comes from
another origin is refused.
"""

from urllib.parse import urlsplit

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from app.auth import SESSION_COOKIE
from app.errors import problem
from config import Settings

CSRF_COOKIE = "ess_csrf"
CSRF_HEADER = "x-csrftoken"
CSRF_FORM_FIELD = "_csrf_token"  # Litestar's name; templates get it from ``csrf_input``
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def origin_of(url: str) -> str | None:
    """Return ``scheme://host[:port]`` of a URL (default ports dropped), or None if it has none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = parts.hostname.lower()
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port is not None and port != default:
        netloc += f":{port}"
    return f"{scheme}://{netloc}"


class SessionCSRFMiddleware(CSRFMiddleware):
    """Litestar's CSRF check, applied to what a browser session can be tricked into sending."""

    def __init__(self, app: ASGIApp, config: CSRFConfig, origin: str) -> None:
        super().__init__(app, config)
        self.origin = origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        connection: ASGIConnection = ASGIConnection(scope)
        headers = connection.headers
        if _bearer_token(headers):
            await self.app(scope, receive, send)
            return
        if scope["method"] in SAFE_METHODS:
            # Litestar's middleware sets the token cookie and exposes the token to templates.
            await super().__call__(scope, receive, send)
            return
        self._check_origin(headers)
        if SESSION_COOKIE not in connection.cookies:
            # Nothing to ride on: no session (login, password reset); the origin check
            # above keeps other sites from logging a visitor into an account.
            await self.app(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        except PermissionDeniedException as exc:
            # Litestar's refusal is English; the handler's own errors never get here
            # (an exception handler sits between this middleware and the handler).
            if exc.detail == "CSRF token verification failed":
                raise problem(
                    403,
                    "Jeton anti-falsification (CSRF) absent ou invalide : rechargez la page "
                    "puis réessayez.",
                ) from None
            raise

    def _check_origin(self, headers: Headers) -> None:
        """Refuse a state change a browser says comes from another origin."""
        origin = headers.get("origin")
        claimed = origin if origin is not None else headers.get("referer")
        if claimed is None:
            return
        if origin_of(claimed) != self.origin:
            raise problem(
                403,
                "Requête refusée : elle provient d'un autre site que ce service.",
            )


def _bearer_token(headers: Headers) -> str:
    # The same reading as Litestar's JWT middleware: a token here wins over the cookie.
    return headers.get("authorization", "").partition(" ")[-1]


def csrf_middleware(settings: Settings) -> DefineMiddleware:
    """Build the CSRF middleware for the app's settings."""
    config = CSRFConfig(
        secret=settings.resolved_secret_key(),
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        # Pages put the token in their forms (``csrf_input``) or in HTMX's headers.
        cookie_httponly=True,
        cookie_secure=settings.base_url.startswith("https://"),
        # Lax like the session: a page opened from an e-mail link keeps its token.
        cookie_samesite="lax",
        exclude=["^/health", "^/schema", "^/static/"],
    )
    return DefineMiddleware(
        SessionCSRFMiddleware, config=config, origin=origin_of(settings.base_url)
    )
