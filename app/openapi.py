"""The OpenAPI document's error responses: RFC 9457 problem details, as the service answers."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, OpenAPIResponse, Operation
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute
from litestar.security.base import AbstractSecurityConfig

from app.errors import TITLES

if TYPE_CHECKING:
    from litestar._kwargs.kwargs_model import KwargsModel

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass
class FieldProblem:
    """One offending field of a refused request."""

    field: str | None
    """The field's name (dotted for nested fields), or null for the whole body."""
    source: str
    """Where the field was: body, query, path, header or cookie."""
    message: str
    """What is wrong with it, in French."""


@dataclass
class ProblemDetails:
    """An error, as every operation of the API answers it (RFC 9457 problem details)."""

    status: int
    """The HTTP status code."""
    title: str
    """A short French summary of the kind of error."""
    detail: str
    """What went wrong with this request, in French."""
    type: str = "about:blank"
    """The problem type: always ``about:blank`` (the status says it all)."""
    errors: list[FieldProblem] = field(default_factory=list)
    """For refused data: each offending field."""


# Why each status happens; the title is the one the service answers (app.errors.TITLES).
DESCRIPTIONS = {
    400: "Données mal formées : JSON invalide, champ manquant ou d'un mauvais type, "
    "paramètre invalide (les champs fautifs sont dans `errors`).",
    401: "Authentification requise : jeton absent, invalide ou expiré, compte désactivé, ou "
    "jeton limité à l'activation de la double authentification.",
    403: "Action réservée à d'autres rôles.",
    404: "Ressource introuvable, ou que l'appelant n'a pas le droit de voir.",
    409: "Conflit avec l'état actuel (par exemple une demande déjà traitée ou modifiée "
    "entre-temps) : rechargez puis réessayez.",
    410: "Lien à usage unique déjà utilisé, remplacé par un plus récent ou expiré.",
    413: "Corps de la requête trop volumineux.",
    415: "Type de fichier non pris en charge.",
    422: "Données bien formées mais refusées (par exemple un code inconnu ou une période "
    "invalide).",
    429: "Trop de tentatives : réessayez plus tard.",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """Document these error statuses as problem details (for a handler's ``responses=``)."""
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            media_type=PROBLEM_MEDIA_TYPE,
            description=DESCRIPTIONS[status],
            generate_examples=False,
            examples=[
                Example(
                    summary=TITLES[status],
                    value={
                        "status": status,
                        "type": "about:blank",
                        "title": TITLES[status],
                        "detail": "…",
                    },
                )
            ],
        )
        for status in statuses
    }


@dataclass
class ProblemOperation(Operation):
    """An operation whose error responses are all problem details.

    Litestar adds a 400 in its own shape to every operation with a parameter, even one
    that can only fail with a 404 (a path id); the service never answers that shape.
    A subclass sets ``success`` for an answer Litestar cannot describe from the return
    type (a file, a document in several formats).
    """

    success: ClassVar[OpenAPIResponse | None] = None

    def __post_init__(self) -> None:
        if not self.responses:
            return
        self.responses = {
            status: response
            for status, response in self.responses.items()
            if int(status) < 400 or _is_problem(response)
        }
        if self.success is not None:
            status = min(self.responses, key=int)
            self.responses[status] = self.success


@dataclass
class PublicOperation(ProblemOperation):
    """An operation anyone may call: it needs no token, unlike the document's default."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.security = []


def _is_problem(response: object) -> bool:
    return isinstance(response, OpenAPIResponse) and PROBLEM_MEDIA_TYPE in (response.content or {})


class ProblemResponsesPlugin(ReceiveRoutePlugin):
    """Give every operation the error responses its declaration implies, as problem details.

    Litestar documents only a 400 in its own ``{status_code, detail, extra}`` shape; the
    service answers every error as problem details (app.errors). What an operation can
    answer follows from how Litestar resolved it: authenticated (401), guarded by a role
    (403), with a path id (404), taking parameters or a body (400), a body (413, 422), a
    file (415), changing state (409). A handler declares anything else with
    ``responses=problem_responses(...)``; what it declares is kept.
    """

    def __init__(self, auth: AbstractSecurityConfig[Any, Any]) -> None:
        self._auth = auth
        exclude = [auth.exclude] if isinstance(auth.exclude, str) else list(auth.exclude or [])
        # The same patterns the authentication middleware lets through.
        self._unauthenticated = re.compile("|".join(exclude)) if exclude else None

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        by_handler = {handler: kwargs for handler, kwargs in route.route_handler_map.values()}
        for handler, kwargs in by_handler.items():
            if not handler.resolve_include_in_schema():
                continue
            derived = problem_responses(*sorted(self._statuses(route, handler, kwargs)))
            declared: Mapping[int, ResponseSpec] = handler.responses or {}
            responses = {**derived, **declared}
            handler.responses = {status: responses[status] for status in sorted(responses)}
            if not issubclass(handler.operation_class, ProblemOperation):
                public = not self._authenticated(route, handler)
                handler.operation_class = PublicOperation if public else ProblemOperation

    def _statuses(
        self, route: HTTPRoute, handler: HTTPRouteHandler, kwargs: "KwargsModel"
    ) -> set[int]:
        statuses: set[int] = set()
        has_body = "data" in kwargs.expected_reserved_kwargs
        if has_body or kwargs.expected_query_params or kwargs.expected_header_params:
            # Path ids are typed (uuid): a malformed one matches no route, hence 404.
            statuses.add(400)
        if self._authenticated(route, handler):
            statuses.add(401)
            # A guard that finishes authentication (app.enrolment) answers 401, not 403.
            guards = [getattr(g, "func", g) for g in handler.resolve_guards()]
            if any(not getattr(g, "authenticates", False) for g in guards):
                statuses.add(403)
            if handler.http_methods - {"GET", "HEAD"}:
                statuses.add(409)
        if kwargs.expected_path_params:
            statuses.add(404)
        if has_body:
            statuses.update((413, 422))
            if kwargs.expected_form_data:
                statuses.add(415)
        return statuses

    def _authenticated(self, route: HTTPRoute, handler: HTTPRouteHandler) -> bool:
        if handler.opt.get(self._auth.exclude_opt_key):
            return False
        return not (self._unauthenticated and self._unauthenticated.search(route.path))
