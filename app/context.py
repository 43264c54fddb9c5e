"""What the running service shares between requests, jobs and the command line."""

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from config import Clock, Settings
from models.database import Database


@dataclass
class AppContext:
    settings: Settings
    db: Database
    clock: Clock
    jwt_auth: Any = None
    """Litestar's JWTCookieAuth, set when the web application is built."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)
