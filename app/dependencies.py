"""What a handler receives by name: the request's session, ``now``, the vault, the policy.

Registered once on the application, so the API and any later layer of handlers share
them. The write session is the request boundary: it commits when the handler has
returned (and its response is built), and rolls back when anything before raises.
"""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.security.jwt import Token
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import AppContext
from config import Settings
from models import User
from router import DispatchPolicy
from security.vault import Vault

# Litestar injects by parameter name; these say the type once.
CurrentUser = NamedDependency[User]
"""``current_user``: the authenticated caller."""
DbSession = NamedDependency[AsyncSession]
"""``session`` (the write transaction) or ``read_session`` (the read pool)."""
Now = NamedDependency[datetime]
"""``now``: the clock's reading for this request."""
Policy = NamedDependency[DispatchPolicy]
"""``policy``: how requests are dispatched and their deadlines computed."""
Keys = NamedDependency[Vault]
"""``vault``: the data keys that encrypt and decrypt clinical content."""


def provide_context(state: State) -> AppContext:
    return state.context  # type: ignore[no-any-return]


def provide_user(request: Request[User, Token, Any]) -> User:
    return request.user


async def provide_session(context: NamedDependency[AppContext]) -> AsyncIterator[AsyncSession]:
    """Yield the write session; commit after the handler, roll back if it raises.

    Litestar throws the handler's exception in at the ``yield``: ``transaction()``
    rolls back and raises that same exception again, which Litestar recognises and
    passes on to the exception handlers (a domain error stays a 4xx problem). The
    commit runs before the response is sent, so a failing commit is an error
    response, never a success that was not kept. The writer's connection (and on
    SQLite its queue) is only taken at the first statement.
    """
    async with context.db.transaction() as session:
        yield session


async def provide_read_session(context: NamedDependency[AppContext]) -> AsyncIterator[AsyncSession]:
    """Yield a session on the read pool; closed, never committed, after the response."""
    async with context.db.reading() as session:
        yield session


def provide_now(context: NamedDependency[AppContext]) -> datetime:
    return context.clock.now()


def provide_settings(context: NamedDependency[AppContext]) -> Settings:
    return context.settings


def provide_vault(context: NamedDependency[AppContext]) -> Vault:
    return context.vault


def provide_policy(context: NamedDependency[AppContext]) -> DispatchPolicy:
    return context.policy


def provide_zone(context: NamedDependency[AppContext]) -> ZoneInfo:
    return context.zone


def dependencies() -> dict[str, Provide]:
    """The application's providers, by the parameter name a handler asks for."""
    return {
        "context": Provide(provide_context, sync_to_thread=False),
        "current_user": Provide(provide_user, sync_to_thread=False),
        "session": Provide(provide_session),
        "read_session": Provide(provide_read_session),
        "now": Provide(provide_now, sync_to_thread=False),
        "settings": Provide(provide_settings, sync_to_thread=False),
        "vault": Provide(provide_vault, sync_to_thread=False),
        "policy": Provide(provide_policy, sync_to_thread=False),
        "zone": Provide(provide_zone, sync_to_thread=False),
    }
