"""Domain errors, raised by services and mapped to HTTP problem details once, in ``app``."""


class DomainError(Exception):
    """Base of errors a user or client can cause; the message is French, for them."""


class NotFoundError(DomainError):
    """The thing does not exist, or the caller may not know it exists (HTTP 404)."""


class PermissionDeniedError(DomainError):
    """The caller's role does not allow this (HTTP 403)."""


class ConflictError(DomainError):
    """The current state forbids this (HTTP 409)."""


class InvalidInputError(DomainError):
    """Well-formed input that names something wrong, e.g. an unknown specialty (HTTP 422)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnsupportedMediaError(DomainError):
    """A file whose content is not an accepted type (HTTP 415)."""


class TooLargeError(DomainError):
    """A file over the size limit (HTTP 413)."""
