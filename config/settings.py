"""The settings object: environment variables ``ESS_*`` plus an optional TOML file."""

import os
import secrets
from datetime import time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# Secrets shipped in examples or docs: a production service must never run with them.
KNOWN_PLACEHOLDER_SECRETS = frozenset({"change-me", "changeme", "secret", "dev", "test"})
MIN_SECRET_LENGTH = 32


class ConfigurationError(Exception):
    """The settings cannot be used as they are (the message is one line for the operator)."""


def _seconds_or_iso(value: object) -> object:
    """Accept plain seconds ("7200") as well as ISO 8601 durations ("PT2H")."""
    if isinstance(value, str):
        try:
            return timedelta(seconds=float(value))
        except ValueError:
            return value
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds_or_iso)]


def _comma_separated(value: object) -> object:
    """Accept "10.0.0.1, 10.1.0.0/16" from the environment as well as a TOML list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


Networks = Annotated[list[IPvAnyNetwork], NoDecode, BeforeValidator(_comma_separated)]


class SmtpSettings(BaseModel):
    host: str | None = None
    """SMTP server; unset keeps every notification in the outbox as ``held``."""
    port: int = 25
    """SMTP port (25, 587 for STARTTLS, 465 for implicit TLS)."""
    username: str | None = None
    """Login for the SMTP server, if it wants one."""
    password: SecretStr | None = None
    """Password for the SMTP login."""
    starttls: bool = False
    """Upgrade the connection with STARTTLS."""
    use_tls: bool = False
    """Connect with implicit TLS (port 465)."""
    sender: str = "ess-router <noreply@localhost>"
    """The From address of every notification."""
    timeout: float = 30.0
    """Seconds before an SMTP operation gives up."""
    validate_certs: bool = True
    """Check the server's TLS certificate (keep on outside tests)."""
    ca_file: Path | None = None
    """CA bundle for a server whose certificate a private authority signed."""
    retry_after: Duration = timedelta(seconds=30)
    """First wait after a failed send; it doubles at each attempt (with jitter)."""
    max_age: Duration = timedelta(days=2)
    """After this long without success a notification is ``failed`` and shown to the coordinator."""
    batch_size: int = Field(default=100, ge=1, le=10_000)
    """Notifications sent per SMTP connection."""
    poll_seconds: float = Field(default=2.0, gt=0)
    """How often the sender looks for notifications to send."""


class PrioritySla(BaseModel):
    acknowledge_within: Duration
    """Time for the assignee to accept or decline, from each assignment."""
    answer_within: Duration
    """Time to answer, from submission (paused while awaiting information)."""


class UrgentSla(PrioritySla):
    acknowledge_within: Duration = timedelta(hours=2)
    answer_within: Duration = timedelta(hours=8)


class StandardSla(PrioritySla):
    acknowledge_within: Duration = timedelta(hours=8)
    answer_within: Duration = timedelta(hours=24)


def parse_slot(text: str) -> tuple[time, time]:
    """Read "HH:MM-HH:MM" (an end of 00:00 means midnight)."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time range like 08:00-18:00") from None
    if end != time(0) and end <= start:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end


class SlaSettings(BaseModel):
    calendar: Literal["business", "24/7"] = "business"
    """``business``: Mon-Fri 08:00-18:00 local, French public holidays; ``24/7``: every hour."""
    urgent: UrgentSla = UrgentSla()
    """Deadlines of urgent requests."""
    standard: StandardSla = StandardSla()
    """Deadlines of standard requests."""
    subdivision: str | None = None
    """French subdivision for extra public holidays, e.g. ``57`` (Moselle), ``67``, ``68``."""
    opening_hours: dict[int, list[str]] | None = None
    """Business hours per weekday (0 = Monday), e.g. ``{"0": ["08:00-12:00", "14:00-18:00"]}``;
    unset: Monday to Friday 08:00-18:00."""

    @field_validator("opening_hours")
    @classmethod
    def _check_hours(cls, value: dict[int, list[str]] | None) -> dict[int, list[str]] | None:
        if value is None:
            return None
        for weekday, slots in value.items():
            if not 0 <= weekday <= 6:
                raise ValueError(f"weekday {weekday} is not between 0 (Monday) and 6 (Sunday)")
            for slot in slots:
                parse_slot(slot)
        return value

    def opening_slots(self) -> dict[int, list[tuple[time, time]]] | None:
        """Return the opening hours as times, or None for the default."""
        if self.opening_hours is None:
            return None
        return {day: [parse_slot(s) for s in slots] for day, slots in self.opening_hours.items()}

    warn_at: float = Field(default=0.75, gt=0, lt=1)
    """Fraction of a deadline at which the assignee is warned."""
    tick_seconds: float = Field(default=30, gt=0)
    """How often the scheduler looks for due deadlines."""


class DispatchSettings(BaseModel):
    fallback_to_specialty: bool = True
    """When nobody of the sub-specialty is eligible, try the whole specialty."""
    alarm_delay: Duration = timedelta(minutes=5)
    """How long the coordinator's alarm digest gathers the requests nobody can take
    while the ESS is closed before it is sent (urgent ones with nobody on call, or
    any that nobody will take at a reopening that has come)."""


class ReportSettings(BaseModel):
    ess_name: str = Field(default="ESS", min_length=1, max_length=200)
    """The ESS's name, as the activity report's title gives it."""
    territory_specialists: int | None = Field(default=None, ge=1)
    """Self-employed (libéral) specialists of the specialty on the territory, for the
    coverage rate (10 % to create an ESS, 30 % then 50 % targeted); unset: no coverage."""


class AuthSettings(BaseModel):
    require_totp: bool | None = None
    """Every account must use a second factor (TOTP): one without it logs in only to
    enrol. Unset: on when ``env`` is ``prod``, off in ``dev``."""
    invitation_ttl: Duration = timedelta(hours=72)
    """How long an invitation link (choose a first password) stays valid."""
    password_reset_ttl: Duration = timedelta(hours=1)
    """How long a password-reset link stays valid."""
    email_confirmation_ttl: Duration = timedelta(hours=24)
    """How long the link confirming a new e-mail address stays valid."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ESS_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    database_url: str = "sqlite+aiosqlite:///./ess-router.db"
    """SQLite (embedded default) or ``postgresql+asyncpg://user@host/db``."""
    env: Literal["dev", "prod"] = "dev"
    """``prod`` refuses to start with generated or default secrets."""
    data_dir: Path = Path(".")
    """Where dev keeps its generated secrets."""
    secret_key: SecretStr | None = None
    """Signs tokens and cookies; generated and kept in ``data_dir`` in dev."""
    data_key_file: Path | None = None
    """Data-encryption keys; ``./ess-router.keys`` in dev."""
    base_url: str = "http://127.0.0.1:8000"
    """Public address of the service (as browsers reach it): links in e-mails, and the
    origin that state changes must come from."""
    timezone: str = "Europe/Paris"
    """Timezone of the business calendar and of display."""
    login_attempts_per_minute: int = Field(default=10, ge=1)
    """Logins allowed per minute from one client address (password guessing gets 429)."""
    login_failures_per_account: int = Field(default=10, ge=1)
    """Failed logins allowed on one e-mail address within ``login_failure_window``, from
    whatever addresses they come; then that address gets 429 until the window ends."""
    login_failure_window: Duration = timedelta(minutes=15)
    """The window over which an account's failed logins are counted."""
    trusted_proxies: Networks = Field(default_factory=list)
    """Reverse proxies (addresses or networks) whose ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` are believed; empty: nobody's, the peer address is the client."""
    metrics_allow: Networks = Field(default_factory=lambda: ["127.0.0.1"])  # type: ignore[arg-type]
    """Client addresses (or networks) allowed to read ``/metrics``."""
    metrics_token: SecretStr | None = None
    """A bearer token that also opens ``/metrics`` (for a Prometheus on another host)."""
    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object per log line, for a log collector."""
    token_ttl: Duration = timedelta(hours=8)
    """Lifetime of a login token given to an API client (bearer)."""
    session_idle: Duration = Field(default=timedelta(minutes=30), gt=timedelta(0))
    """A web session ends after this long without a page asked for (the cookie's token
    is renewed as pages are used)."""
    queue_poll: Duration = Field(default=timedelta(seconds=20), ge=timedelta(seconds=1))
    """How often a specialist's open queue asks the service whether anything changed."""
    attachment_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    """Largest attachment accepted (photographs, PDF), in bytes; larger ones get 413."""
    default_capacity: int = Field(default=5, ge=0)
    """Open requests a new specialist may hold when no capacity is given."""
    smtp: SmtpSettings = SmtpSettings()
    """Outgoing mail (notifications only, never clinical content)."""
    sla: SlaSettings = SlaSettings()
    """Response-time policy."""
    dispatch: DispatchSettings = DispatchSettings()
    """How requests are assigned."""
    report: ReportSettings = ReportSettings()
    """The activity report (ESS name, territory for the coverage rate)."""
    auth: AuthSettings = AuthSettings()
    """How people authenticate: second factor, lifetimes of the links sent by e-mail."""

    @model_validator(mode="after")
    def _default_require_totp(self) -> "Settings":
        # Production reaches health data: strong authentication unless said otherwise.
        if self.auth.require_totp is None:
            self.auth = self.auth.model_copy(update={"require_totp": self.env == "prod"})
        return self

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        # Links and the same-origin check of state changes are built on it.
        if not value.startswith(("http://", "https://")) or not value.split("://", 1)[1].strip("/"):
            raise ValueError("adresse absolue attendue, en http:// ou https://")
        return value.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = os.environ.get("ESS_CONFIG")
        if toml_file:
            if not Path(toml_file).is_file():
                raise ConfigurationError(f"ESS_CONFIG names {toml_file}, which is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def attachments_dir(self) -> Path:
        """Where encrypted attachments are stored."""
        return self.data_dir / "attachments"

    def forwarded_allow_ips(self) -> list[str]:
        """The trusted proxies as uvicorn's ``forwarded_allow_ips`` wants them."""
        return [str(network) for network in self.trusted_proxies]

    def key_file_path(self) -> Path:
        """Where the data-encryption keys live (``ESS_DATA_KEY_FILE`` or the data folder)."""
        return self.data_key_file or self.data_dir / "ess-router.keys"

    def resolved_secret_key(self) -> str:
        """Return the signing secret, generating and keeping one in dev."""
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            if self.env == "prod" and (
                value.lower() in KNOWN_PLACEHOLDER_SECRETS or len(value) < MIN_SECRET_LENGTH
            ):
                raise ConfigurationError(
                    f"ESS_SECRET_KEY is a placeholder or shorter than {MIN_SECRET_LENGTH} "
                    "characters; set a long random value in production"
                )
            return value
        if self.env == "prod":
            raise ConfigurationError("ESS_SECRET_KEY must be set when ESS_ENV=prod")
        return _read_or_create_secret(self.data_dir / "ess-router.secret")


def _read_or_create_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting together keep one secret, not two.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (read once)."""
    return Settings()
