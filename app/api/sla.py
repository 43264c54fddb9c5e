"""The coordinator's view of deadlines at risk."""

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from app.auth import requires
from app.dependencies import DbSession
from app.services.alerts import AlertRead, current_alerts
from models import Role, SlaState


class SlaController(Controller):
    path = "/sla"
    tags = ["délais"]
    guards = [requires(Role.COORDINATOR)]

    @get("/alerts")
    async def alerts(
        self,
        read_session: DbSession,
        alert_state: Annotated[
            SlaState | None, QueryParameter(name="state", required=False)
        ] = None,
    ) -> list[AlertRead]:
        """Open requests whose deadline is near (warning) or passed (breached)."""
        return await current_alerts(read_session, alert_state)
