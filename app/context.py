"""What the running service shares between requests, jobs and the command line."""

from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo

from litestar.security.jwt import JWTCookieAuth, Token

from app.auth import build_jwt_auth
from config import Clock, Settings
from models import User
from models.storage import Database
from router import DispatchPolicy
from security import keyfile
from security.vault import Vault
from sla.calendar import Calendar, build_calendar
from sla.deadlines import Delays, SlaPolicy
from sla.scheduler import SlaScheduler


@dataclass(eq=False)
class AppContext:
    settings: Settings
    db: Database
    clock: Clock
    scheduler: SlaScheduler | None = None
    """The SLA scheduler, while the server's lifespan runs it (readiness looks at it)."""

    @cached_property
    def jwt_auth(self) -> JWTCookieAuth[User, Token]:
        """Signs and checks login tokens; the application and ``ess-router token`` share it."""
        return build_jwt_auth(self.settings, self.db)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @cached_property
    def vault(self) -> Vault:
        """The data keys: generated (mode 0600) in dev, required in prod; rotations taken up."""
        return Vault(
            keyfile.KeyFile(self.settings.key_file_path(), create=self.settings.env == "dev")
        )

    @cached_property
    def calendar(self) -> Calendar:
        sla = self.settings.sla
        return build_calendar(
            sla.calendar, self.settings.timezone, sla.subdivision, sla.opening_slots()
        )

    @cached_property
    def policy(self) -> DispatchPolicy:
        sla = self.settings.sla
        return DispatchPolicy(
            calendar=self.calendar,
            zone=self.zone,
            sla=SlaPolicy(
                calendar=self.calendar,
                urgent=Delays(sla.urgent.acknowledge_within, sla.urgent.answer_within),
                standard=Delays(sla.standard.acknowledge_within, sla.standard.answer_within),
                warn_at=sla.warn_at,
            ),
            fallback_to_specialty=self.settings.dispatch.fallback_to_specialty,
            alarm_delay=self.settings.dispatch.alarm_delay,
        )
