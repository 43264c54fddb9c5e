"""Notifications as the coordinator sees them: held, failed, sent."""

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from app.auth import requires
from app.dependencies import DbSession
from app.services.outbox import NotificationRead, list_notifications
from models import OutboxStatus, Role


class OutboxController(Controller):
    path = "/notifications"
    tags = ["notifications"]
    guards = [requires(Role.COORDINATOR)]

    @get("/")
    async def notifications(
        self,
        read_session: DbSession,
        status: Annotated[
            OutboxStatus | None, QueryParameter(name="status", required=False)
        ] = None,
    ) -> list[NotificationRead]:
        """The latest e-mail notifications, optionally by status (held, failed…)."""
        return await list_notifications(read_session, status)
