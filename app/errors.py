"""Every error a client can cause becomes an RFC 9457 problem details response, in French."""

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.exceptions.http_exceptions import NotFoundException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from models.errors import (
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

logger = logging.getLogger("ess_router.errors")

TITLES = {
    400: "Requête invalide",
    401: "Authentification requise",
    403: "Accès refusé",
    404: "Introuvable",
    405: "Méthode non autorisée",
    409: "Conflit",
    413: "Contenu trop volumineux",
    415: "Type de contenu non pris en charge",
    422: "Données refusées",
    429: "Trop de requêtes",
    500: "Erreur interne",
    503: "Service indisponible",
}

_DOMAIN_STATUS: list[tuple[type[DomainError], int]] = [
    (NotFoundError, 404),
    (PermissionDeniedError, 403),
    (ConflictError, 409),
    (InvalidInputError, 422),
]


def problem(status: int, detail: str, **extra: Any) -> ProblemDetailsException:
    title = TITLES.get(status) or HTTPStatus(status).phrase
    return ProblemDetailsException(
        status_code=status, title=title, detail=detail, extra=extra or None,
        type_="about:blank",
    )


def _strip_pydantic_prefix(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def _from_http(exc: HTTPException) -> ProblemDetailsException:
    if isinstance(exc, ProblemDetailsException):
        return exc
    status = exc.status_code
    if isinstance(exc, ValidationException):
        errors = []
        if isinstance(exc.extra, list):
            for item in exc.extra:
                if isinstance(item, Mapping):
                    errors.append({
                        "field": item.get("key"),
                        "source": item.get("source"),
                        "message": _strip_pydantic_prefix(str(item.get("message", ""))),
                    })
        detail = "Les données envoyées ne sont pas valides."
        if errors:
            detail += " " + " ; ".join(
                f"{e['field']} : {e['message']}" if e["field"] else e["message"] for e in errors
            )
        elif exc.detail and "JSON" in exc.detail:
            detail = "Le corps de la requête n'est pas un JSON valide."
        return problem(status, detail, errors=errors)
    if isinstance(exc, NotAuthorizedException):
        detail = exc.detail if _is_french(exc.detail) else (
            "Authentification requise : connectez-vous ou fournissez un jeton "
            "(en-tête Authorization: Bearer …)."
        )
        return problem(401, detail)
    if isinstance(exc, NotFoundException):
        return problem(404, exc.detail if _is_french(exc.detail) else "Ressource introuvable.")
    detail = exc.detail if _is_french(exc.detail) else TITLES.get(status, exc.detail)
    return problem(status, detail)


def _is_french(text: str | None) -> bool:
    # Litestar's own messages are English; ours are French and always carry an accent
    # or a French article. Good enough to keep ours and replace theirs.
    if not text:
        return False
    return any(ch in text for ch in "éèêàçôûùîÉ«") or text.startswith(("Le ", "La ", "Les "))


def _from_domain(exc: DomainError) -> ProblemDetailsException:
    for kind, status in _DOMAIN_STATUS:
        if isinstance(exc, kind):
            extra: dict[str, Any] = {}
            if isinstance(exc, InvalidInputError) and exc.field:
                extra["errors"] = [{"field": exc.field, "source": "body", "message": str(exc)}]
            return problem(status, str(exc), **extra)
    return problem(400, str(exc))


def _from_stale(_: StaleDataError) -> ProblemDetailsException:
    return problem(409, "La demande a été modifiée entre-temps ; rechargez-la puis réessayez.")


def _from_integrity(exc: IntegrityError) -> ProblemDetailsException:
    logger.warning("integrity error turned into 409: %s", type(exc.orig).__name__)
    return problem(409, "Cette opération entre en conflit avec des données existantes.")


def internal_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    logger.exception("unexpected error", exc_info=exc)
    return problem(500, "Une erreur inattendue est survenue ; elle a été journalisée.").to_response(
        _
    )


problem_details_plugin = ProblemDetailsPlugin(
    ProblemDetailsConfig(
        exception_to_problem_detail_map={
            HTTPException: _from_http,
            DomainError: _from_domain,
            StaleDataError: _from_stale,
            IntegrityError: _from_integrity,
        }
    )
)
