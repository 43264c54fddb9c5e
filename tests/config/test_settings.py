"""Settings from the environment and from a TOML file, as CONTRACT.md describes them."""

from datetime import timedelta
from pathlib import Path

import pytest

from config import ConfigurationError, Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("ESS_"):
            monkeypatch.delenv(key)


def test_defaults() -> None:
    settings = Settings()
    assert settings.database_url == "sqlite+aiosqlite:///./ess-router.db"
    assert settings.env == "dev"
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.timezone == "Europe/Paris"
    assert settings.smtp.host is None
    assert settings.sla.calendar == "business"
    assert settings.sla.urgent.acknowledge_within == timedelta(hours=2)
    assert settings.sla.urgent.answer_within == timedelta(hours=8)
    assert settings.sla.standard.acknowledge_within == timedelta(hours=8)
    assert settings.sla.standard.answer_within == timedelta(hours=24)
    assert settings.sla.warn_at == 0.75
    assert settings.sla.tick_seconds == 30


def test_environment_with_nesting_and_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESS_SLA__URGENT__ACKNOWLEDGE_WITHIN", "PT30M")
    monkeypatch.setenv("ESS_SLA__STANDARD__ANSWER_WITHIN", "P3D")
    monkeypatch.setenv("ESS_SLA__URGENT__ANSWER_WITHIN", "7200")
    monkeypatch.setenv("ESS_SMTP__HOST", "smtp.ess.fr")
    monkeypatch.setenv("ESS_SMTP__PORT", "587")
    monkeypatch.setenv("ESS_SMTP__STARTTLS", "true")
    monkeypatch.setenv("ESS_BASE_URL", "https://ess.example.fr/")
    settings = Settings()
    assert settings.sla.urgent.acknowledge_within == timedelta(minutes=30)
    assert settings.sla.urgent.answer_within == timedelta(hours=2)
    assert settings.sla.standard.answer_within == timedelta(days=3)
    # Untouched siblings keep their defaults.
    assert settings.sla.standard.acknowledge_within == timedelta(hours=8)
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.starttls) == (
        "smtp.ess.fr",
        587,
        True,
    )
    assert settings.base_url == "https://ess.example.fr"


def test_toml_file_and_environment_precedence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "ess.toml"
    config.write_text(
        'database_url = "postgresql+asyncpg://ess@db/ess"\n'
        'timezone = "Europe/Paris"\n'
        '[sla]\ncalendar = "24/7"\nwarn_at = 0.5\n'
        '[sla.urgent]\nacknowledge_within = "PT1H"\n'
    )
    monkeypatch.setenv("ESS_CONFIG", str(config))
    monkeypatch.setenv("ESS_SLA__WARN_AT", "0.8")
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://ess@db/ess"
    assert settings.sla.calendar == "24/7"
    assert settings.sla.urgent.acknowledge_within == timedelta(hours=1)
    assert settings.sla.warn_at == 0.8  # the environment wins over the file


def test_missing_toml_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ESS_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigurationError, match=r"absent\.toml"):
        Settings()


def test_dev_generates_and_keeps_a_private_secret(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = settings.resolved_secret_key()
    path = tmp_path / "ess-router.secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first) >= 32
    assert Settings(data_dir=tmp_path).resolved_secret_key() == first


@pytest.mark.parametrize("secret", [None, "change-me", "short"])
def test_prod_refuses_missing_or_weak_secrets(tmp_path: Path, secret: str | None) -> None:
    settings = Settings(env="prod", data_dir=tmp_path, secret_key=secret)
    with pytest.raises(ConfigurationError, match="ESS_SECRET_KEY"):
        settings.resolved_secret_key()
    assert not (tmp_path / "ess-router.secret").exists()


def test_prod_accepts_a_long_random_secret(tmp_path: Path) -> None:
    settings = Settings(env="prod", data_dir=tmp_path, secret_key="k" * 48)
    assert settings.resolved_secret_key() == "k" * 48


def test_opening_hours_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from app.context import AppContext

    monkeypatch.setenv(
        "ESS_SLA__OPENING_HOURS", '{"0": ["08:00-12:00", "14:00-18:00"], "5": ["09:00-12:00"]}'
    )
    monkeypatch.setenv("ESS_SLA__SUBDIVISION", "57")
    settings = Settings()
    calendar = AppContext(settings=settings, db=None, clock=None).calendar  # type: ignore[arg-type]
    paris = ZoneInfo("Europe/Paris")
    assert calendar.is_business_time(datetime(2026, 3, 2, 9, 0, tzinfo=paris))  # Monday morning
    assert not calendar.is_business_time(datetime(2026, 3, 2, 13, 0, tzinfo=paris))  # lunch
    assert not calendar.is_business_time(
        datetime(2026, 3, 3, 9, 0, tzinfo=paris)
    )  # Tuesday: closed
    assert calendar.is_business_time(datetime(2026, 3, 7, 10, 0, tzinfo=paris))  # Saturday morning
    # Moselle: 26 December 2026 is a Saturday holiday there.
    assert not calendar.is_business_time(datetime(2026, 12, 26, 10, 0, tzinfo=paris))


@pytest.mark.parametrize(
    "hours", ['{"7": ["08:00-12:00"]}', '{"0": ["12:00-08:00"]}', '{"0": ["huit heures"]}']
)
def test_bad_opening_hours_are_refused(monkeypatch: pytest.MonkeyPatch, hours: str) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("ESS_SLA__OPENING_HOURS", hours)
    with pytest.raises(ValidationError):
        Settings()
