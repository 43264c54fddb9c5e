"""``/compte/activite``: the specialist's answered téléexpertises, month by month."""

from datetime import timedelta
from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from app.auth import requires
from app.dependencies import CurrentUser, DbSession, Now, Policy
from app.services.my_activity import monthly_summary
from app.web.display import MONTHS
from app.web.templating import page
from models import Role

MONTHS_SHOWN = 12


class ActivityController(Controller):
    path = "/compte/activite"
    guards = [requires(Role.SPECIALIST)]

    @get("/", name="web_my_activity")
    async def show(
        self,
        request: Request[Any, Any, Any],
        read_session: DbSession,
        now: Now,
        policy: Policy,
        current_user: CurrentUser,
    ) -> Template:
        """Count, median time to answer and within-deadline rate, by month."""
        local = now.astimezone(policy.zone)
        first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        for _ in range(MONTHS_SHOWN - 1):
            first = (first - timedelta(days=1)).replace(day=1)
        months = await monthly_summary(read_session, current_user, since=first, zone=policy.zone)
        return page(
            request,
            "specialist/activity.html",
            section="account",
            months=months,
            month_names=MONTHS,
            shown=MONTHS_SHOWN,
        )
