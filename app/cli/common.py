"""What every command shares: the settings, an application context, one-line errors."""

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

import click
from pydantic import ValidationError

from app.context import AppContext
from app.main import build_context
from config import ConfigurationError, get_settings
from config.settings import Settings
from models.errors import DomainError
from security.keyfile import KeyFileError

P = ParamSpec("P")
T = TypeVar("T")


class CommandError(click.ClickException):
    """A one-line French message for the operator; the command exits 1."""


def load_settings() -> Settings:
    """Return the settings, or say in one line which variable is wrong."""
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CommandError(f"réglage invalide ESS_{where.upper()}: {first['msg']}") from exc


def validation_message(exc: ValidationError) -> str:
    """Name the first invalid field and say why, without pydantic's prefix."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "valeur"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{field} : {message}"


@contextmanager
def operator_errors() -> Iterator[None]:
    """Turn what an operator's input or settings can cause into a ``CommandError``."""
    try:
        yield
    except (ConfigurationError, DomainError, KeyFileError) as exc:
        raise CommandError(str(exc)) from exc
    except ValidationError as exc:
        raise CommandError(validation_message(exc)) from exc


@asynccontextmanager
async def app_context() -> AsyncIterator[AppContext]:
    """Yield the application context; dispose of its database whatever happens."""
    load_settings()
    with operator_errors():
        context = build_context()
        try:
            yield context
        finally:
            await context.db.dispose()


def with_context(
    command: Callable[Concatenate[AppContext, P], Coroutine[Any, Any, T]],
) -> Callable[P, T]:
    """Make a coroutine taking the context first into a click callback run in ``app_context``."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        async def within() -> T:
            async with app_context() as context:
                return await command(context, *args, **kwargs)

        return asyncio.run(within())

    return run
