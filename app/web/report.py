"""``/coordination/rapport``: the activity report for a period, on screen with the CSV's
sections, labels and notes, downloadable as CSV or JSON, printable.

The document is ``app.services.indicators.report``'s, built from the indicators the API
gives for the same days; nothing is computed here.
"""

from datetime import date, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import requires
from app.context import AppContext
from app.services.indicators import compute_indicators, parse_period
from app.services.indicators import report as report_service
from app.web.templating import page
from models import Role
from models.errors import InvalidInputError

Day = Annotated[str | None, QueryParameter(name="from", required=False)]
LastDay = Annotated[str | None, QueryParameter(name="to", required=False)]


def presets(today: date) -> list[tuple[str, date, date]]:
    """The usual periods: last calendar year, this year so far, last month, this month."""
    first_of_month = today.replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    return [
        (f"Année {today.year - 1}", date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        (f"Année {today.year} à ce jour", date(today.year, 1, 1), today),
        ("Mois dernier", last_month_end.replace(day=1), last_month_end),
        ("Mois en cours", first_of_month, today),
    ]


async def build(
    session: AsyncSession, context: AppContext, now: Any, first: str | None, last: str | None
) -> tuple[report_service.Report | None, dict[str, str], dict[str, str]]:
    """The report for the days asked (by default last calendar year), or the form's errors."""
    today = now.astimezone(context.zone).date()
    default = presets(today)[0]
    values = {
        "from": first or default[1].isoformat(),
        "to": last or default[2].isoformat(),
    }
    try:
        period = parse_period(values["from"], values["to"], context.zone)
    except InvalidInputError as exc:
        return None, values, {exc.field or "from": str(exc)}
    indicators = await compute_indicators(
        session,
        period,
        now=now,
        territory_specialists=context.settings.report.territory_specialists,
    )
    document = report_service.build_report(indicators, ess_name=context.settings.report.ess_name)
    return document, values, {}


class ReportPageController(Controller):
    path = "/coordination/rapport"
    guards = [requires(Role.COORDINATOR)]

    @get("/", name="web_report")
    async def report(
        self,
        request: Request[Any, Any, Any],
        read_session: NamedDependency[AsyncSession],
        context: NamedDependency[AppContext],
        now: NamedDependency[Any],
        first: Day = None,
        last: LastDay = None,
    ) -> Template:
        """The activity report on screen, with its downloads and a printable layout."""
        document, values, errors = await build(read_session, context, now, first, last)
        return page(
            request,
            "coordination/report.html",
            status_code=422 if errors else 200,
            section="coordination",
            tab="report",
            document=document,
            values=values,
            errors=errors,
            presets=presets(now.astimezone(context.zone).date()),
            shown=report_service.display,
        )

    @get("/{report_format:str}", name="web_report_download")
    async def download(
        self,
        read_session: NamedDependency[AsyncSession],
        context: NamedDependency[AppContext],
        now: NamedDependency[Any],
        report_format: FromPath[str],
        first: Day = None,
        last: LastDay = None,
    ) -> Response[bytes]:
        """The same report as a file: ``csv`` (a French spreadsheet) or ``json``."""
        if report_format not in report_service.FORMATS:
            raise InvalidInputError(f"Format « {report_format} » inconnu : csv ou json.")
        document, _, errors = await build(read_session, context, now, first, last)
        if document is None:
            raise InvalidInputError(next(iter(errors.values())))
        name = report_service.filename(document, report_format)
        return Response(
            content=report_service.render(document, report_format),
            media_type=report_service.media_type(report_format),
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
