"""``/coordination/rapport``: the activity report for a period, on screen with the CSV's
sections, labels and notes, downloadable as CSV or JSON, printable.

The document is ``app.services.indicators.report``'s, built from the indicators the API
gives for the same days; nothing is computed here.
"""

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import requires
from app.context import AppContext
from app.services.indicators import Period, compute_indicators, parse_period
from app.services.indicators import report as report_service
from app.services.indicators.compute import first_submitted_at, submitted_counts
from app.services.indicators.labels import month_label
from app.web.templating import page
from models import Role
from models.errors import InvalidInputError

Day = Annotated[str | None, QueryParameter(name="from", required=False)]
LastDay = Annotated[str | None, QueryParameter(name="to", required=False)]


@dataclass(frozen=True)
class Preset:
    """One of the usual periods, offered as a link with how many requests it holds."""

    label: str
    first: date
    last: date
    count: int = 0


def presets(today: date) -> list[Preset]:
    """The usual periods: last calendar year (the default: the ESS reports yearly), the last
    twelve months, this year so far, last month, this month."""
    first_of_month = today.replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    try:
        year_ago = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        year_ago = today.replace(year=today.year - 1, day=28)
    return [
        Preset(f"Année {today.year - 1}", date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        Preset("12 derniers mois", year_ago + timedelta(days=1), today),
        Preset(f"Année {today.year} à ce jour", date(today.year, 1, 1), today),
        Preset(
            month_label(f"{last_month_end:%Y-%m}").capitalize(),
            last_month_end.replace(day=1),
            last_month_end,
        ),
        Preset(f"{month_label(f'{today:%Y-%m}').capitalize()} à ce jour", first_of_month, today),
    ]


@dataclass(frozen=True)
class Built:
    """The report (None if the period is refused), the form's values and errors."""

    document: report_service.Report | None
    values: dict[str, str]
    errors: dict[str, str]
    count: int = 0
    """Requests submitted in the period."""


async def build(
    session: AsyncSession, context: AppContext, now: Any, first: str | None, last: str | None
) -> Built:
    """The report for the days asked (by default last calendar year), or the form's errors."""
    default = presets(now.astimezone(context.zone).date())[0]
    values = {
        "from": first or default.first.isoformat(),
        "to": last or default.last.isoformat(),
    }
    try:
        period = parse_period(values["from"], values["to"], context.zone)
    except InvalidInputError as exc:
        return Built(None, values, {exc.field or "from": str(exc)})
    indicators = await compute_indicators(
        session,
        period,
        now=now,
        territory_specialists=context.settings.report.territory_specialists,
    )
    document = report_service.build_report(indicators, ess_name=context.settings.report.ess_name)
    return Built(document, values, {}, indicators.teleexpertise_count)


async def counted_presets(session: AsyncSession, context: AppContext, today: date) -> list[Preset]:
    """The usual periods with how many requests each holds (in the report's snapshot)."""
    usual = presets(today)
    counts = await submitted_counts(session, [Period(p.first, p.last, context.zone) for p in usual])
    return [replace(preset, count=count) for preset, count in zip(usual, counts, strict=True)]


async def first_request_day(session: AsyncSession, context: AppContext) -> date | None:
    """The local day of the ESS's first request (None before any)."""
    started = await first_submitted_at(session)
    return started.astimezone(context.zone).date() if started else None


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
        built = await build(read_session, context, now, first, last)
        document = built.document
        started = await first_request_day(read_session, context)
        usual = await counted_presets(read_session, context, now.astimezone(context.zone).date())
        # Said when the period begins before the ESS's first request (a young ESS's « last
        # year » may hold a month only), with the last twelve months if they are a full year.
        young = document is not None and started is not None and started > document.first
        twelve = usual[1]
        suggested = (
            twelve
            if young
            and started <= twelve.first
            and built.values["from"] != twelve.first.isoformat()
            else None
        )
        return page(
            request,
            "coordination/report.html",
            status_code=422 if built.errors else 200,
            section="coordination",
            tab="report",
            document=document,
            values=built.values,
            errors=built.errors,
            presets=usual,
            first_request=started if young else None,
            suggested=suggested,
            count=built.count,
            shown=report_service.on_screen,
            grouped=report_service.grouped,
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
        built = await build(read_session, context, now, first, last)
        document = built.document
        if document is None:
            raise InvalidInputError(next(iter(built.errors.values())))
        name = report_service.filename(document, report_format)
        return Response(
            content=report_service.render(document, report_format),
            media_type=report_service.media_type(report_format),
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
