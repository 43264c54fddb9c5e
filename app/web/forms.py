"""HTML forms: fields named as the API's JSON, checked by the API's own schemas.

A form that fails comes back with every value typed and each message beside its field:
the handler raises ``FormRejected`` (so the request's transaction rolls back) and the
web layer's exception handler renders the form again with what it carries.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from litestar.datastructures import FormMultiDict, UploadFile
from pydantic import BaseModel, ValidationError

from app.errors import DOMAIN_STATUS, translate
from models.errors import (
    ConflictError,
    DomainError,
    InvalidInputError,
    TooLargeError,
    UnsupportedMediaError,
)

Model = TypeVar("Model", bound=BaseModel)
CHECKED = frozenset({"on", "true", "1", "oui"})
# Where the API's words speak of JSON, the page speaks of the form.
FORM_MESSAGES = {
    "consent": "Cochez la case : le consentement du patient à la téléexpertise est obligatoire.",
}


@dataclass
class FormRejected(Exception):
    """A form to show again, with the values typed and the errors found (field -> message)."""

    template: str
    context: dict[str, Any]
    values: dict[str, str]
    errors: dict[str, str]
    status_code: int = 422
    summary: list[str] = field(default_factory=list)


def text_fields(form: FormMultiDict) -> dict[str, str]:
    """The form's text values by name (the CSRF token and files left out).

    Browsers send a text area's line breaks as CRLF; the API and the character
    counter count one character per line break.
    """
    return {
        name: value.replace("\r\n", "\n")
        for name, value in form.items()
        if isinstance(value, str) and name != "_csrf_token"
    }


def files(form: FormMultiDict, name: str = "file") -> list[UploadFile]:
    """The files chosen in the ``name`` inputs (an input left empty sends none)."""
    return [
        value for value in form.getall(name, []) if isinstance(value, UploadFile) and value.filename
    ]


def nest(
    values: Mapping[str, str],
    *,
    checkboxes: Iterable[str] = (),
    optional: Iterable[str] = (),
    names: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Turn ``patient.first_name`` style names into the API's nested JSON.

    A checkbox is true when sent, false when absent (a browser sends nothing for an
    unticked box); an optional field left empty is left out, as an API client would.
    """
    allowed = set(names) if names is not None else None
    data: dict[str, Any] = {}
    empty_ok = set(optional)
    for name, value in values.items():
        if allowed is not None and name not in allowed:
            continue
        if name in empty_ok and not value.strip():
            continue
        _put(data, name, value)
    for name in checkboxes:
        _put(data, name, values.get(name, "").lower() in CHECKED)
    return data


def _put(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    target = data
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def validate(model: type[Model], data: dict[str, Any]) -> tuple[Model | None, dict[str, str]]:
    """Check ``data`` with the API's schema: the model, or the errors by dotted field name."""
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"])
            if error.get("input") == "":
                message = "champ obligatoire"  # what a length or a format means when empty
            else:
                message = FORM_MESSAGES.get(name) or translate(error["msg"])
            errors.setdefault(name or "_form", message[:1].upper() + message[1:])
        return None, errors


def domain_status(exc: DomainError) -> int:
    """The HTTP status the API answers for this domain error."""
    for kind, status in DOMAIN_STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def domain_errors(exc: DomainError, *, file_field: str | None = None) -> dict[str, str]:
    """A service's refusal as form errors: beside its field when it names one."""
    if isinstance(exc, InvalidInputError | ConflictError) and exc.field:
        return {exc.field: str(exc)}
    if file_field and isinstance(exc, UnsupportedMediaError | TooLargeError):
        return {file_field: str(exc)}
    return {"_form": str(exc)}
