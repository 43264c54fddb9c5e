"""Each HTTP request gets an id (``X-Request-ID``) and one access line in the log.

The line names the route's template (``/api/v1/requests/{request_id}``), never the
path as sent nor its query string: a path or a query may carry a token or a name.
An id sent by the reverse proxy (nginx's ``$request_id``) is kept when well formed,
so that the proxy's log and the service's meet; otherwise a new one is made.
"""

import logging
import re
import time
import uuid
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from config.logs import REQUEST_ID

HEADER = "X-Request-ID"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{8,64}")

access = logging.getLogger("ess_router.access")


class RequestLog:
    """ASGI middleware around the whole application (unrouted requests included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        # Tests and tools reach the Litestar application's attributes through the wrapper.
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(HEADER.lower().encode(), b"").decode("latin-1")
        request_id = sent if _WELL_FORMED.fullmatch(sent) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access.info(
                "%s %s %s %.1f ms",
                scope["method"],
                scope.get("path_template") or "(route inconnue)",
                status,
                (time.perf_counter() - started) * 1000,
                extra={
                    "method": scope["method"],
                    "route": scope.get("path_template"),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "client": (scope.get("client") or ("-",))[0],
                },
            )
            REQUEST_ID.reset(token)
