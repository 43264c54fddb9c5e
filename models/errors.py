"""Domain errors, raised by services and mapped to HTTP problem details once, in ``app``."""

from typing import Literal


class DomainError(Exception):
    """Base of errors a user or client can cause; the message is French, for them."""


class NotFoundError(DomainError):
    """The thing does not exist, or the caller may not know it exists (HTTP 404)."""


class PermissionDeniedError(DomainError):
    """The caller's role does not allow this (HTTP 403)."""


class ConflictError(DomainError):
    """The current state forbids this (HTTP 409); ``field``: the input that collides, if one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class GoneError(DomainError):
    """The thing existed but can no longer be used: a link already used or expired (HTTP 410)."""


class InvalidInputError(DomainError):
    """Well-formed input that names something wrong, e.g. an unknown specialty (HTTP 422).

    ``field`` is named as the client sent it; ``source`` says where (``body``, or
    ``query`` for a query parameter, which is a plain 400 like any malformed one).
    """

    def __init__(
        self, message: str, field: str | None = None, *, source: Literal["body", "query"] = "body"
    ) -> None:
        super().__init__(message)
        self.field = field
        self.source = source


class UnsupportedMediaError(DomainError):
    """A file whose content is not an accepted type (HTTP 415)."""


class TooLargeError(DomainError):
    """A file over the size limit (HTTP 413)."""
