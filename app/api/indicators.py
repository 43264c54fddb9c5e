"""The coordinator's indicators and the ESS activity report."""

from typing import Annotated
from zoneinfo import ZoneInfo

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.spec import (
    Example,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Schema,
)
from litestar.params import QueryParameter

from app.auth import requires
from app.dependencies import DbSession, Now
from app.openapi import ProblemOperation
from app.services.indicators import Indicators, Period, compute_indicators, parse_period
from app.services.indicators import report as report_service
from config import Settings
from models import Role
from models.errors import InvalidInputError

# Both are required; they are declared optional so that a missing one gets the same
# French problem details, naming the field, as a malformed one.
FromDate = Annotated[
    str | None,
    QueryParameter(
        name="from",
        required=False,
        format="date",
        description="first day, AAAA-MM-JJ (local date, included)",
        examples=[Example(value="2026-01-01")],
    ),
]
ToDate = Annotated[
    str | None,
    QueryParameter(
        name="to",
        required=False,
        format="date",
        description="last day, AAAA-MM-JJ (local date, included)",
        examples=[Example(value="2026-12-31")],
    ),
]
ReportFormat = Annotated[
    str,
    QueryParameter(
        name="format",
        required=False,
        description="csv or json",
        schema_extra={"enum": list(report_service.FORMATS)},
        examples=[Example(value=name) for name in report_service.FORMATS],
    ),
]


class ActivityReport(ProblemOperation):
    """The report answers a JSON document or a CSV table, as ``format`` asks."""

    success = OpenAPIResponse(
        description="Le rapport d'activité : un document JSON, ou un tableau CSV (tableur).",
        content={
            "application/json": OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT)),
            "text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
        },
    )


def period_of(first: str | None, last: str | None, zone: ZoneInfo) -> Period:
    """Check that both days are given, then parse the period they bound."""
    for value, name, what in ((first, "from", "premier"), (last, "to", "dernier")):
        if not value:
            raise InvalidInputError(
                f"Paramètre « {name} » obligatoire : le {what} jour de la période, "
                "au format AAAA-MM-JJ.",
                field=name,
                source="query",
            )
    assert first is not None and last is not None
    try:
        return parse_period(first, last, zone)
    except InvalidInputError as exc:
        # The period's days are query parameters here (the CLI's are options).
        raise InvalidInputError(str(exc), exc.field, source="query") from None


class IndicatorController(Controller):
    path = "/indicators"
    tags = ["indicateurs"]
    guards = [requires(Role.COORDINATOR)]

    @get("/")
    async def indicators(
        self,
        read_session: DbSession,
        now: Now,
        zone: NamedDependency[ZoneInfo],
        settings: NamedDependency[Settings],
        first: FromDate = None,
        last: ToDate = None,
    ) -> Indicators:
        """The ESS's indicators over the requests submitted from ``from`` to ``to``."""
        return await compute_indicators(
            read_session,
            period_of(first, last, zone),
            now=now,
            territory_specialists=settings.report.territory_specialists,
        )


class ReportController(Controller):
    path = "/reports"
    tags = ["indicateurs"]
    guards = [requires(Role.COORDINATOR)]

    @get("/activity", operation_class=ActivityReport)
    async def activity(
        self,
        read_session: DbSession,
        now: Now,
        zone: NamedDependency[ZoneInfo],
        settings: NamedDependency[Settings],
        first: FromDate = None,
        last: ToDate = None,
        report_format: ReportFormat = "json",
    ) -> Response[bytes]:
        """The activity report (every indicator, French labels, how each is computed)."""
        if report_format not in report_service.FORMATS:
            raise InvalidInputError(
                f"Format « {report_format} » inconnu : csv ou json.", field="format", source="query"
            )
        indicators = await compute_indicators(
            read_session,
            period_of(first, last, zone),
            now=now,
            territory_specialists=settings.report.territory_specialists,
        )
        document = report_service.build_report(indicators, ess_name=settings.report.ess_name)
        headers = {}
        if report_format == "csv":
            name = report_service.filename(document, report_format)
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return Response(
            content=report_service.render(document, report_format),
            media_type=report_service.media_type(report_format),
            headers=headers,
        )
