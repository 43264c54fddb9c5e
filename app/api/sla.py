"""The coordinator's view of deadlines at risk."""

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from app.auth import requires
from app.context import AppContext
from app.services.alerts import AlertRead, current_alerts
from models import Role, SlaState


class SlaController(Controller):
    path = "/sla"
    tags = ["délais"]
    guards = [requires(Role.COORDINATOR)]

    @get("/alerts")
    async def alerts(
        self,
        context: NamedDependency[AppContext],
        alert_state: Annotated[
            SlaState | None, QueryParameter(name="state", required=False)
        ] = None,
    ) -> list[AlertRead]:
        """Open requests whose deadline is near (warning) or passed (breached)."""
        async with context.db.reading() as session:
            return await current_alerts(session, alert_state)
