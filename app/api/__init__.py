"""The JSON API under /api/v1."""

from litestar import Router

from app.api.account_links import AccountLinkController
from app.api.accounts import (
    AuthController,
    AvailabilityController,
    MeController,
    SpecialtyController,
    UserController,
)
from app.api.indicators import IndicatorController, ReportController
from app.api.outbox import OutboxController
from app.api.requests import RequestController
from app.api.roster import RosterController
from app.api.second_factor import SecondFactorController
from app.api.sla import SlaController

api_router = Router(
    path="/api/v1",
    route_handlers=[
        AuthController,
        AccountLinkController,
        MeController,
        SecondFactorController,
        SpecialtyController,
        UserController,
        RosterController,
        AvailabilityController,
        RequestController,
        SlaController,
        OutboxController,
        IndicatorController,
        ReportController,
    ],
)
