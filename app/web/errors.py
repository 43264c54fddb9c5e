"""Errors on the pages: a French page (or the form again) instead of problem details."""

import logging
import re
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.response import Redirect
from litestar.routes import HTTPRoute
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.errors import TITLES, http_problem, internal_error_handler
from app.web.forms import FormRejected, domain_status
from app.web.templating import page
from models.errors import DomainError

logger = logging.getLogger("ess_router.web")

DETAILS = {
    403: "Cette page ou cette action ne vous est pas ouverte.",
    404: "Cette page n'existe pas, ou elle ne vous est pas accessible.",
    405: "Cette action n'est pas possible ici.",
    413: "Le contenu envoyé dépasse la taille maximale autorisée.",
    429: "Trop de tentatives : patientez un peu avant de réessayer.",
}


def error_page(request: Request[Any, Any, Any], status: int, detail: str) -> Response[Any]:
    title = TITLES.get(status) or HTTPStatus(status).phrase
    return page(request, "error.html", status_code=status, title=title, detail=detail)


def form_rejected(request: Request[Any, Any, Any], exc: FormRejected) -> Response[Any]:
    """The form again, with what was typed and the messages beside their fields."""
    return page(
        request,
        exc.template,
        status_code=exc.status_code,
        values=exc.values,
        errors=exc.errors,
        **exc.context,
    )


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    extra = getattr(exc, "extra", None)
    if isinstance(extra, dict) and extra.get("second_factor_enrolment_required"):
        # A session for the enrolment alone: the enrolment is the page to be on.
        return Redirect("/compte#double-authentification", status_code=303)
    if isinstance(exc, ProblemDetailsException) and exc.detail:
        detail = str(exc.detail)
    else:
        detail = DETAILS.get(status) or TITLES.get(status) or HTTPStatus(status).phrase
    response = error_page(request, status, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


# Paths that are never pages: an unknown one there keeps the API's problem details.
NOT_PAGES = ("/api/", "/schema", "/health", "/metrics", "/static/")


def not_found(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
    """An address nothing answers: a French page for a browser, problem details otherwise."""
    wants_page = "text/html" in request.headers.get("accept", "")
    if wants_page and not request.url.path.startswith(NOT_PAGES):
        return http_error(request, exc)
    return http_problem(request, exc)


def method_not_allowed(
    request: Request[Any, Any, Any], exc: MethodNotAllowedException
) -> Response[Any]:
    """A browser opening a form's address (a reload after a refused form, a pasted link):
    the page the form belongs to, the nearest one above it; problem details otherwise."""
    path = request.url.path
    wants_page = "text/html" in request.headers.get("accept", "")
    if not wants_page or path.startswith(NOT_PAGES):
        return http_problem(request, exc)
    if request.method == "GET":
        return Redirect(_page_above(request, path), status_code=303)
    return http_error(request, exc)


def _page_above(request: Request[Any, Any, Any], path: str) -> str:
    """The nearest address above ``path`` that a page answers (the home page at worst)."""
    pages = [
        re.compile("[^/]+".join(map(re.escape, re.split(r"\{[^}]+\}", route.path))) + "$")
        for route in request.app.routes
        if isinstance(route, HTTPRoute) and "GET" in route.methods
    ]
    parts = path.rstrip("/").split("/")
    while len(parts) > 1:
        parts.pop()
        above = "/".join(parts) or "/"
        if not above.startswith(NOT_PAGES) and any(p.match(above) for p in pages):
            return above
    return "/"


def domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return error_page(request, domain_status(exc), str(exc))


def validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    return error_page(request, 400, "L'adresse ou le formulaire envoyé n'est pas valide.")


def stale(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    return error_page(
        request, 409, "La demande a été modifiée entre-temps : rechargez la page puis réessayez."
    )


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    internal_error_handler(request, exc)  # logs it as the API does
    return error_page(request, 500, "Une erreur inattendue est survenue ; elle a été journalisée.")


WEB_EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    FormRejected: form_rejected,
    HTTPException: http_error,
    ProblemDetailsException: http_error,
    ValidationException: validation_error,
    DomainError: domain_error,
    StaleDataError: stale,
    IntegrityError: stale,
    Exception: internal_error,
}
