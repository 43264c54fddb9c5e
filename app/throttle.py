"""Password guessing: logins per client address, and failed logins per account.

The address limit is Litestar's rate-limit middleware (the address is the peer's,
or what a trusted proxy says: see ``ESS_TRUSTED_PROXIES``). A guesser spread over
many addresses still meets the account limit: after ``login_failures_per_account``
failed logins on one e-mail address within ``login_failure_window``, that address
gets 429 until the window ends, with the right password too (or the guesser would
learn when they found it).
"""

import asyncio
import hashlib
import json
import math
from datetime import datetime, timedelta
from typing import Any

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.stores.base import Store

from app.errors import problem
from config import Settings

LOGIN_PATH = "/api/v1/auth/login"
PASSWORD_RESET_PATH = "/api/v1/auth/password-reset"
WEB_LOGIN_PATH = "/connexion"  # the login page's form (its GET is not an attempt)
# The address limit counts these together: guessing passwords, or flooding an inbox.
THROTTLED_PATHS = frozenset({LOGIN_PATH, PASSWORD_RESET_PATH})
STORE_NAME = "login_failures"
# One read-modify-write at a time: a burst of attempts cannot slip under the limit.
_lock = asyncio.Lock()


async def _is_throttled(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    return path in THROTTLED_PATHS or (path == WEB_LOGIN_PATH and request.method == "POST")


def address_throttle(settings: Settings) -> RateLimitConfig:
    """Limit the logins and reset requests one client address may make per minute."""
    return RateLimitConfig(
        rate_limit=("minute", settings.login_attempts_per_minute),
        check_throttle_handler=_is_throttled,
    )


class AccountThrottle:
    """Count the attempts on one e-mail address over a fixed window, in a Litestar store."""

    def __init__(
        self,
        store: Store,
        limit: int,
        window: timedelta,
        now: datetime,
        *,
        action: str = "account",
        refusal: str = "Trop de tentatives de connexion échouées pour ce compte",
    ) -> None:
        self.store = store
        self.limit = limit
        self.window = window
        self.now = now.timestamp()
        self.action = action
        self.refusal = refusal

    def _key(self, email: str) -> str:
        # The store never holds the addresses themselves.
        return f"{self.action}::" + hashlib.sha256(email.encode()).hexdigest()

    async def attempt(self, email: str) -> None:
        """Count one attempt, or refuse it (429, Retry-After) when the account's limit is spent."""
        key = self._key(email)
        async with _lock:
            raw = await self.store.get(key)
            state = json.loads(raw) if raw else None
            if state is None or state["reset"] <= self.now:
                state = {"count": 0, "reset": self.now + self.window.total_seconds()}
            wait = math.ceil(state["reset"] - self.now)
            if state["count"] >= self.limit:
                minutes = math.ceil(wait / 60)
                plural = "s" if minutes > 1 else ""
                raise problem(
                    429,
                    f"{self.refusal} : réessayez dans {minutes} minute{plural}.",
                    headers={"Retry-After": str(wait)},
                )
            state["count"] += 1
            await self.store.set(key, json.dumps(state), expires_in=max(1, wait))

    async def succeeded(self, email: str) -> None:
        """Forget the account's attempts: its owner got in."""
        await self.store.delete(self._key(email))
