"""``/coordination``: the coordinator's dashboard, and assigning a request by hand.

Figures from ``app.services.indicators`` (the API's ``GET /indicators`` for the same
days), alerts from ``app.services.alerts``, the stuck requests and the choice of a
specialist from ``app.services.coordination``. Never clinical content.
"""

import asyncio
import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import requires
from app.context import AppContext
from app.services import coordination
from app.services import people as people_service
from app.services import requests as request_service
from app.services.alerts import AlertRead, current_alerts
from app.services.indicators import Indicators, compute_indicators, parse_period
from app.services.indicators.trends import Week, weekly
from app.services.specialties import list_specialties
from app.web import charts, display
from app.web.forms import FormRejected, domain_errors, domain_status, text_fields
from app.web.templating import flash_cookie, page
from models import Priority, Role, SlaState, User
from models.errors import DomainError, InvalidInputError

RequestId = FromPath[uuid.UUID]
WINDOW_DAYS = 30
# An ESS behind on hundreds of requests would get a page of hundreds of rows.
ALERTS_SHOWN = 50
# The figures compared, in order: (key of the indicators, label, kind).
FIGURES = (
    ("teleexpertise_count", "Demandes envoyées", "count"),
    ("answered_count", "Demandes répondues", "count"),
    ("response_delay_hours.median", "Délai de réponse, médiane", "hours"),
    ("response_delay_hours.p90", "Délai de réponse, 90e centile", "hours"),
    ("acknowledge_delay_hours.median", "Délai de prise en charge, médiane", "hours"),
    ("acknowledge_delay_hours.p90", "Délai de prise en charge, 90e centile", "hours"),
    ("within_sla_rate", "Réponses dans le délai", "rate"),
)
PRIORITY_CLASSES = {Priority.URGENT: "urgent", Priority.STANDARD: "standard"}


def windows(today: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """The last ``WINDOW_DAYS`` days (today included) and the ``WINDOW_DAYS`` before."""
    first = today - timedelta(days=WINDOW_DAYS - 1)
    return (first, today), (first - timedelta(days=WINDOW_DAYS), first - timedelta(days=1))


def figure(indicators: Indicators, key: str) -> float | int | None:
    value: Any = indicators
    for part in key.split("."):
        value = getattr(value, part)
    return value  # type: ignore[no-any-return]


def shown(value: float | int | None, kind: str) -> str:
    if kind == "hours":
        return display.hours_fr(value)
    if kind == "rate":
        return display.percent_fr(value)
    return "—" if value is None else str(value)


def alert_deadline(alert: AlertRead, now: datetime) -> tuple[str, datetime | None]:
    """The deadline the alert is about (the answer's once breached), else the current one."""
    if alert.sla_state == SlaState.BREACHED or alert.deadline == "answer":
        if alert.answer_due_at is not None:
            return "Réponse attendue", alert.answer_due_at
    if alert.deadline == "acknowledge" and alert.acknowledge_due_at is not None:
        return "Prise en charge attendue", alert.acknowledge_due_at
    return display.deadline(alert, now)


def week_label(monday: date) -> str:
    return f"{monday:%d/%m}"


def chart_context(weeks: list[Week], current: Indicators) -> dict[str, Any]:
    labels = [week_label(w.monday) for w in weeks]
    delays = charts.line_chart(
        "graphique-delais",
        "Délai de réponse par semaine de dépôt, en heures : médiane et 90e centile",
        labels,
        [
            charts.Series("Médiane", "median", [w.response_median for w in weeks]),
            charts.Series("90e centile", "p90", [w.response_p90 for w in weeks]),
        ],
        unit="\u00a0h",
    )
    volume = charts.stacked_bars(
        "graphique-volume",
        "Demandes envoyées par semaine, par priorité",
        labels,
        [
            charts.Series(
                display.PRIORITY_LABELS[p], PRIORITY_CLASSES[p], [w.submitted[p] for w in weeks]
            )
            for p in (Priority.URGENT, Priority.STANDARD)
        ],
    )
    rates = charts.rate_bars(
        "graphique-sous-specialites",
        "Réponses dans le délai par sur-spécialité, 30 derniers jours",
        [(row.name, row.within_sla_rate) for row in current.by_subspecialty],
    )
    return {
        "weeks": weeks,
        "chart_delays": delays,
        "chart_volume": volume,
        "chart_rates": rates,
        "subspecialty_rates": current.by_subspecialty,
    }


class CoordinationController(Controller):
    path = "/coordination"
    guards = [requires(Role.COORDINATOR)]

    @get("/", name="web_dashboard")
    async def dashboard(
        self,
        request: Request[Any, Any, Any],
        context: NamedDependency[AppContext],
        now: NamedDependency[Any],
        every_alert: Annotated[bool, QueryParameter(name="toutes-alertes")] = False,
    ) -> Template:
        """Delays at a glance: the figures, the charts, the alerts (the most overdue first,
        ``ALERTS_SHOWN`` of them unless all are asked for), the stuck requests."""
        zone = context.zone
        today = now.astimezone(zone).date()
        (first, last), (before_first, before_last) = windows(today)
        territory = context.settings.report.territory_specialists

        async def indicators(start: date, end: date) -> Indicators:
            async with context.db.reading() as session:
                return await compute_indicators(
                    session,
                    parse_period(start, end, zone),
                    now=now,
                    territory_specialists=territory,
                )

        async def trends() -> list[Week]:
            async with context.db.reading() as session:
                return await weekly(session, today, zone)

        async def lists() -> dict[str, Any]:
            async with context.db.reading() as session:
                alerts = await current_alerts(session, None)
                pending = await coordination.pending_requests(session)
                pending_total = await coordination.pending_count(session)
                people = await people_service.load(session, [a.assignee_id for a in alerts])
                specialties = await list_specialties(session)
            return {
                "alerts": [
                    {
                        "alert": a,
                        "assignee": people.by_id[a.assignee_id].name
                        if a.assignee_id in people.by_id
                        else None,
                        "deadline": alert_deadline(a, now),
                    }
                    for a in (alerts if every_alert else alerts[:ALERTS_SHOWN])
                ],
                "alerts_total": len(alerts),
                "pending": pending,
                "pending_total": pending_total,
                "specialty_names": display.specialty_names(specialties),
            }

        current, previous, weeks, listed = await asyncio.gather(
            indicators(first, last), indicators(before_first, before_last), trends(), lists()
        )
        figures = [
            {
                "key": key,
                "label": label,
                "current": figure(current, key),
                "previous": figure(previous, key),
                "current_text": shown(figure(current, key), kind),
                "previous_text": shown(figure(previous, key), kind),
            }
            for key, label, kind in FIGURES
        ]
        return page(
            request,
            "coordination/dashboard.html",
            section="coordination",
            now=now,
            period=(first, last),
            previous_period=(before_first, before_last),
            figures=figures,
            **listed,
            **chart_context(weeks, current),
        )

    @get("/demandes/{request_id:uuid}/attribution", name="web_assignment")
    async def assignment(
        self,
        request: Request[Any, Any, Any],
        request_id: RequestId,
        read_session: NamedDependency[AsyncSession],
        now: NamedDependency[Any],
        policy: NamedDependency[Any],
        current_user: NamedDependency[User],
    ) -> Template:
        """Choose the specialist by hand, seeing each one's load and availability."""
        return page(
            request,
            "coordination/assign.html",
            **await self._assignment_context(read_session, current_user, request_id, now, policy),
        )

    async def _assignment_context(
        self, session: AsyncSession, viewer: User, request_id: uuid.UUID, now: Any, policy: Any
    ) -> dict[str, Any]:
        choice = await coordination.assignment_choice(
            session, viewer, request_id, now=now, policy=policy
        )
        specialties = await list_specialties(session)
        people = await people_service.load(session, [choice.request.assignee_id])
        label, due = display.deadline(choice.request, now)
        return {
            "section": "coordination",
            "choice": choice,
            "r": choice.request,
            "now": now,
            "assignee": people.assignee(choice.request),
            "deadline_label": label,
            "due": due,
            "specialty_names": display.specialty_names(specialties),
        }

    @post("/demandes/{request_id:uuid}/attribution", name="web_assign")
    async def assign(
        self,
        request: Request[Any, Any, Any],
        request_id: RequestId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[Any],
        policy: NamedDependency[Any],
        current_user: NamedDependency[User],
        context: NamedDependency[AppContext],
    ) -> Redirect:
        """Give the request to the specialist chosen (« Attribuer »)."""
        values = text_fields(await request.form())
        try:
            chosen = uuid.UUID(values.get("assignee_id", ""))
        except ValueError:
            chosen = None
        try:
            if chosen is None:
                raise InvalidInputError("Choisissez un spécialiste.", field="assignee_id")
            await request_service.assign_manually(
                session, current_user, request_id, chosen, now=now, policy=policy
            )
        except DomainError as exc:
            errors = domain_errors(exc)
            if "_form" in errors:
                errors = {"assignee_id": errors["_form"]}
            # The transaction rolls back: the form is shown from a read session, whose
            # objects stay readable once it is closed.
            async with context.db.reading() as read_session:
                shown = await self._assignment_context(
                    read_session, current_user, request_id, now, policy
                )
            status = 422 if chosen is None else domain_status(exc)
            raise FormRejected("coordination/assign.html", shown, values, errors, status) from exc
        return Redirect(
            "/coordination#en-attente", status_code=303, cookies=[flash_cookie("assigned")]
        )
