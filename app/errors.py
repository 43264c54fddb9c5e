"""Every error a client can cause becomes an RFC 9457 problem details response, in French."""

import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    SerializationException,
    ValidationException,
)
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
    TooLargeError,
    UnsupportedMediaError,
)
from security.vault import IntegrityError as CiphertextIntegrityError

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
    (UnsupportedMediaError, 415),
    (TooLargeError, 413),
    (NotFoundError, 404),
    (PermissionDeniedError, 403),
    (ConflictError, 409),
    (InvalidInputError, 422),
]


def problem(status: int, detail: str, **extra: Any) -> ProblemDetailsException:
    title = TITLES.get(status) or HTTPStatus(status).phrase
    return ProblemDetailsException(
        status_code=status,
        title=title,
        detail=detail,
        extra=extra or None,
        type_="about:blank",
    )


# Pydantic and Litestar speak English; the people reading these errors speak French.
_TRANSLATIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Field required$"), "champ obligatoire"),
    (re.compile(r"^Missing required (?:query )?parameter.*$"), "paramètre obligatoire"),
    (re.compile(r"^String should have at most (\d+) characters?$"), r"\1 caractères au maximum"),
    (re.compile(r"^String should have at least (\d+) characters?$"), r"\1 caractère(s) au minimum"),
    (
        re.compile(r"^String should match pattern '.*'$"),
        "format invalide (lettres minuscules, chiffres, - et _)",
    ),
    (re.compile(r"^Input should be a valid boolean.*$"), "valeur attendue : true ou false"),
    (re.compile(r"^Input should be a valid integer.*$"), "nombre entier attendu"),
    (re.compile(r"^Input should be a valid string.*$"), "texte attendu"),
    (re.compile(r"^Input should be a valid date.*$"), "date attendue (AAAA-MM-JJ)"),
    (
        re.compile(r"^Input should be a valid datetime.*$"),
        "date et heure attendues (ISO 8601, avec fuseau)",
    ),
    (
        re.compile(r"^Input should have timezone info.*$"),
        "le fuseau horaire est obligatoire (par ex. +01:00)",
    ),
    (re.compile(r"^Input should be a valid UUID.*$"), "identifiant (UUID) attendu"),
    (re.compile(r"^Input should be a valid dictionary.*$"), "objet JSON attendu"),
    (re.compile(r"^Input should be a valid list.*$"), "liste attendue"),
    (re.compile(r"^Input should be greater than or equal to (.+)$"), r"au moins \1"),
    (re.compile(r"^Input should be less than or equal to (.+)$"), r"au plus \1"),
    (re.compile(r"^value is not a valid email address: (.*)$"), "adresse e-mail invalide"),
    (re.compile(r"^Input should be (.+)$"), r"valeur attendue : \1"),
]


def _translate(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    for pattern, french in _TRANSLATIONS:
        if pattern.match(message):
            return pattern.sub(french, message)
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
                    errors.append(
                        {
                            "field": item.get("key"),
                            "source": item.get("source") or "body",
                            "message": _translate(str(item.get("message", ""))),
                        }
                    )
        detail = "Les données envoyées ne sont pas valides."
        if errors:
            detail += " " + " ; ".join(
                f"{e['field']} : {e['message']}" if e["field"] else e["message"] for e in errors
            )
        elif exc.detail and "JSON" in exc.detail:
            detail = "Le corps de la requête n'est pas un JSON valide."
        return problem(status, detail, errors=errors)
    if status == 400 and isinstance(exc.__cause__, SerializationException):
        return problem(400, "Le corps de la requête n'est pas un JSON valide.")
    if status == 429:
        return problem(429, "Trop de tentatives : réessayez dans une minute.")
    if status == 413:
        return problem(413, "Le contenu envoyé dépasse la taille maximale autorisée.")
    if isinstance(exc, NotAuthorizedException):
        detail = (
            exc.detail
            if _is_french(exc.detail)
            else (
                "Authentification requise : connectez-vous ou fournissez un jeton "
                "(en-tête Authorization: Bearer …)."
            )
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


def _from_ciphertext(exc: CiphertextIntegrityError) -> ProblemDetailsException:
    # Already logged by the vault (which record and field, never any content).
    return problem(
        500,
        "Le contenu chiffré de cette demande est illisible : le contrôle d'intégrité a échoué. "
        "L'incident a été journalisé ; contactez l'administrateur.",
    )


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
            CiphertextIntegrityError: _from_ciphertext,
            IntegrityError: _from_integrity,
        }
    )
)
