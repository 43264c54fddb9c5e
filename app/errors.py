"""Every error a client can cause becomes an RFC 9457 problem details response, in French."""

import logging
import re
import sqlite3
import traceback
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
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from models.errors import (
    ConflictError,
    DomainError,
    GoneError,
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
    410: "Lien périmé",
    413: "Contenu trop volumineux",
    415: "Type de contenu non pris en charge",
    422: "Données refusées",
    429: "Trop de requêtes",
    500: "Erreur interne",
    503: "Service indisponible",
}

DOMAIN_STATUS: list[tuple[type[DomainError], int]] = [
    (UnsupportedMediaError, 415),
    (TooLargeError, 413),
    (NotFoundError, 404),
    (PermissionDeniedError, 403),
    (ConflictError, 409),
    (GoneError, 410),
    (InvalidInputError, 422),
]


def problem(
    status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> ProblemDetailsException:
    title = TITLES.get(status) or HTTPStatus(status).phrase
    return ProblemDetailsException(
        status_code=status,
        title=title,
        detail=detail,
        extra=extra or None,
        type_="about:blank",
        headers=headers,
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
    (
        re.compile(r"^(?:List|Value|Tuple|Set|Dictionary) should have at most (\d+) items?.*$"),
        r"\1 éléments au maximum",
    ),
    (
        re.compile(r"^(?:List|Value|Tuple|Set|Dictionary) should have at least (\d+) items?.*$"),
        r"\1 élément(s) au minimum",
    ),
    (re.compile(r"^Input should be greater than or equal to (.+)$"), r"au moins \1"),
    (re.compile(r"^Input should be less than or equal to (.+)$"), r"au plus \1"),
    (re.compile(r"^Input should be greater than (.+)$"), r"plus de \1"),
    (re.compile(r"^Input should be less than (.+)$"), r"moins de \1"),
    (re.compile(r"^value is not a valid email address: (.*)$"), "adresse e-mail invalide"),
    (re.compile(r"^Extra inputs are not permitted$"), "champ inconnu : il n'est pas accepté ici"),
    (re.compile(r"^Input should be (.+)$"), r"valeur attendue : \1"),
    # Litestar checks query and path parameters with msgspec, which words things its way.
    (re.compile(r"^Invalid enum value (.+)$"), r"valeur inconnue : \1"),
    (re.compile(r"^Expected `(?:int|float)` <= (.+)$"), r"au plus \1"),
    (re.compile(r"^Expected `(?:int|float)` >= (.+)$"), r"au moins \1"),
    (re.compile(r"^Expected `int`.*$"), "nombre entier attendu"),
    (re.compile(r"^Expected `uuid`.*$"), "identifiant (UUID) attendu"),
    (re.compile(r"^Expected `bool`.*$"), "valeur attendue : true ou false"),
    (re.compile(r"^Expected `str`.*$"), "texte attendu"),
]


def translate(message: str) -> str:
    """Say a Pydantic or Litestar validation message in French."""
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    for pattern, french in _TRANSLATIONS:
        if pattern.match(message):
            # "'a', 'b' or 'c'": the list of accepted values, in French too.
            return pattern.sub(french, message).replace("' or '", "' ou '")
    return message


def _validation_error(item: Mapping[str, Any], request: Request[Any, Any, Any]) -> dict[str, Any]:
    """One offending field, named as the client sent it (JSON path, query parameter)."""
    field, message = item.get("key"), str(item.get("message", ""))
    source = item.get("source") or "body"
    if field == "data" and message == "'data'":
        # Litestar's word for a handler that expects a JSON body and got none.
        return {"field": None, "source": "body", "message": "corps JSON obligatoire"}
    if source != "body" and field:
        # Litestar names the handler's argument (``alert_state``), not the parameter.
        parameter = request.route_handler.parsed_fn_signature.parameters.get(field)
        field = getattr(getattr(parameter, "kwarg_definition", None), "name", None) or field
    return {"field": field, "source": source, "message": translate(message)}


def validation_error_handler(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[Any]:
    """Say in French which fields are wrong, each named as the client sent it."""
    errors = []
    if isinstance(exc.extra, list):
        errors = [
            _validation_error(item, request) for item in exc.extra if isinstance(item, Mapping)
        ]
    detail = "Les données envoyées ne sont pas valides."
    if errors:
        detail += " " + " ; ".join(
            f"{e['field']} : {e['message']}" if e["field"] else e["message"] for e in errors
        )
    elif exc.detail and "JSON" in exc.detail:
        detail = "Le corps de la requête n'est pas un JSON valide."
    return problem(exc.status_code, detail, errors=errors).to_response(request)


def _from_http(exc: HTTPException) -> ProblemDetailsException:
    if isinstance(exc, ProblemDetailsException):
        return exc
    status = exc.status_code
    if status == 400 and isinstance(exc.__cause__, SerializationException):
        return problem(400, "Le corps de la requête n'est pas un JSON valide.")
    if status == 429:
        # Litestar's throttle says when its window resets; clients read Retry-After.
        headers = dict(exc.headers or {})
        wait = max(1, int(headers.get("RateLimit-Reset", "60")))
        headers["Retry-After"] = str(wait)
        return problem(
            429, f"Trop de tentatives : réessayez dans {wait} secondes.", headers=headers
        )
    if status == 413:
        return problem(413, "Le contenu envoyé dépasse la taille maximale autorisée.")
    # Litestar's own messages are English: ours are raised as problem() already, in French.
    if isinstance(exc, NotAuthorizedException):
        return problem(
            401,
            "Authentification requise : connectez-vous ou fournissez un jeton "
            "(en-tête Authorization: Bearer …).",
        )
    if isinstance(exc, NotFoundException):
        return problem(404, "Ressource introuvable.")
    return problem(status, TITLES.get(status) or HTTPStatus(status).phrase)


def http_problem(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """``exc`` as the API answers it: French problem details."""
    return _from_http(exc).to_response(request)


def _from_domain(exc: DomainError) -> ProblemDetailsException:
    for kind, status in DOMAIN_STATUS:
        if isinstance(exc, kind):
            extra: dict[str, Any] = {}
            if isinstance(exc, InvalidInputError) and exc.field:
                extra["errors"] = [{"field": exc.field, "source": exc.source, "message": str(exc)}]
            if isinstance(exc, InvalidInputError) and exc.source == "query":
                # A bad query parameter is refused like the ones Litestar checks itself.
                status = 400
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


def _database_failure(exc: DBAPIError) -> str:
    """Describe a failed statement without a value that was bound to it.

    The engines hide the parameters (``hide_parameters``), but PostgreSQL's own
    messages quote offending values too (``invalid input syntax for type uuid: "…"``):
    only its SQLSTATE is kept. SQLite's messages name the schema, never a value.
    """
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        said = str(orig)
    else:
        said = f"SQLSTATE {getattr(orig, 'sqlstate', None) or getattr(orig, 'pgcode', '?')}"
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"{type(orig).__name__} ({said}) on statement:\n{exc.statement}\n{frames}"


def internal_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, DBAPIError):
        logger.error("unexpected database error: %s", _database_failure(exc))
    else:
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
