"""Security headers on every response, errors included (a Litestar ``before_send`` hook)."""

from litestar.datastructures import MutableScopeHeaders
from litestar.types import BeforeMessageSendHookHandler, Message, Scope

from config import Settings

# Pages: scripts, styles, images and forms from this service only, no inline script,
# no plugin, never inside a frame. Images may also be ``data:`` URLs: Pico's stylesheet
# draws its small icons (a select's chevron, a disclosure's marker) with them, and an
# image cannot run script.
HTML_POLICY = (
    "default-src 'self'; script-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Anything else (JSON, files) is data: it may load nothing and be framed by nobody.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"


def security_headers(settings: Settings) -> BeforeMessageSendHookHandler:
    """Build the hook that adds the security headers to each response."""
    https = settings.base_url.startswith("https://")

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        html = headers.get("content-type", "").startswith("text/html")
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["X-Frame-Options"] = "DENY"
        headers["Content-Security-Policy"] = HTML_POLICY if html else DATA_POLICY
        # An answer to someone signed in may carry a patient's identity: no cache keeps
        # it. Public responses (assets) may say how long they keep; by default nothing.
        if _signed_in(scope) or "cache-control" not in headers:
            headers["Cache-Control"] = "no-store"
        if https:
            headers["Strict-Transport-Security"] = HSTS

    return add_headers


def _signed_in(scope: Scope) -> bool:
    # The auth middleware puts the user in the scope; a login answer carries a token.
    return scope.get("user") is not None or scope.get("path", "").startswith("/api/v1/auth/")
