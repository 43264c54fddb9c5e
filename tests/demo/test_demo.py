"""The demo's year: its indicators are what it did, its audit chain holds, prod refuses it.

The demo is played at a fraction of its yearly volume here (``scale``); the default
volume is timed by ``bench/demo.py`` (figures in docs/benchmarks.md).
"""

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.auth import issue_token
from app.demo import DEMO_PASSWORD, seed_demo
from models import Attachment, Message, OutboxMessage, OutboxStatus, Request, RequestEvent, User
from models.lifecycle import Status
from tests.servers import run_cli

PARIS = ZoneInfo("Europe/Paris")
SCALE = 0.12  # some 180 requests over the year
OPEN = {Status.PENDING, Status.ASSIGNED, Status.ACCEPTED, Status.AWAITING_INFO}


def utc(instant: datetime | None) -> datetime | None:
    if instant is None:
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def percentile(values: list[float], fraction: float) -> float:
    """The interpolated percentile, as PostgreSQL's percentile_cont computes it."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def delays(values: list[float]) -> dict[str, object]:
    if not values:
        return {"median": None, "p90": None, "mean": None, "count": 0}
    return {
        "median": pytest.approx(percentile(values, 0.5), abs=1e-3),
        "p90": pytest.approx(percentile(values, 0.9), abs=1e-3),
        "mean": pytest.approx(sum(values) / len(values), abs=1e-3),
        "count": len(values),
    }


def recount(requests: list[Request], treating: set, first: date, last: date) -> dict[str, object]:
    """The indicators, counted again from the requests' own timestamps."""
    begin = datetime.combine(first, time(0), PARIS)
    end = datetime.combine(last + timedelta(days=1), time(0), PARIS)
    period = [r for r in requests if begin <= utc(r.submitted_at) < end]
    live = [r for r in period if r.status != Status.CANCELLED]
    answered = [r for r in live if r.answered_at is not None]
    accepted = [r for r in live if r.accepted_at is not None]
    booked = [
        r
        for r in answered
        if r.outcome in ("consultation", "advanced_consultation") and r.appointment_at
    ]
    closed = [r for r in period if r.usefulness is not None]
    hour = timedelta(hours=1)
    requesters = {r.requester_id for r in period}
    return {
        "teleexpertise_count": len(period),
        "answered_count": len(answered),
        "cancelled_count": len(period) - len(live),
        "open_count": sum(1 for r in period if r.status in OPEN),
        "patients_count": len({r.patient_key for r in period}),
        "requesters_count": len(requesters),
        "treating_physicians_count": len(requesters & treating),
        "response_delay_hours": delays(
            [(utc(r.answered_at) - utc(r.submitted_at)) / hour for r in answered]
        ),
        "acknowledge_delay_hours": delays(
            [(utc(r.accepted_at) - utc(r.submitted_at)) / hour for r in accepted]
        ),
        "appointment_delay_days": delays(
            [(utc(r.appointment_at) - utc(r.answered_at)) / (24 * hour) for r in booked]
        ),
        "within_sla_rate": pytest.approx(
            sum(1 for r in answered if utc(r.answered_at) <= utc(r.answer_due_at)) / len(answered),
            abs=1e-4,
        )
        if answered
        else None,
        "feedback_count": len(closed),
        "usefulness_mean": pytest.approx(sum(r.usefulness for r in closed) / len(closed), abs=1e-3)
        if closed
        else None,
        "referral_avoided_rate": pytest.approx(
            sum(1 for r in closed if r.referral_avoided) / len(closed), abs=1e-4
        )
        if closed
        else None,
        "advanced_consultations_count": sum(
            1 for r in booked if r.outcome == "advanced_consultation"
        ),
    }


async def test_the_indicators_of_the_demo_are_a_recount_of_its_requests(
    client, context, clock
) -> None:
    end = clock.now()
    demo = await seed_demo(context, now=end, scale=SCALE)
    assert demo is not None
    async with context.db.reading() as session:
        requests = list((await session.execute(select(Request))).scalars())
        users = list((await session.execute(select(User))).scalars())
        firings = (
            (
                await session.execute(
                    select(RequestEvent.sla_level).where(RequestEvent.sla_level.is_not(None))
                )
            )
            .scalars()
            .all()
        )
        messages = (await session.execute(select(Message.id))).all()
        files = (await session.execute(select(Attachment.id))).all()
        mail = (
            await session.execute(select(OutboxMessage.status, OutboxMessage.next_attempt_at))
        ).all()
    # What the demo says it did is what the database holds.
    by_status = {s: sum(1 for r in requests if r.status == s) for s in Status}
    assert len(requests) == demo.tally["submitted"] == sum(demo.statuses.values())
    assert {s.value: n for s, n in by_status.items() if n} == demo.statuses
    assert by_status[Status.CANCELLED] == demo.tally["cancelled"]
    assert by_status[Status.CLOSED] == demo.tally["closed"]
    assert sum(1 for r in requests if r.answered_at) == demo.tally["answered"]
    assert len(messages) == demo.tally["messages"] and len(files) == demo.tally["attachments"]
    # A year, with every kind of thing a newcomer should find.
    first = min(utc(r.submitted_at) for r in requests)
    assert end - timedelta(days=365) <= first < end - timedelta(days=330)
    assert by_status[Status.CLOSED] > by_status[Status.ANSWERED] > 0
    assert by_status[Status.CANCELLED] > 0
    assert {"warning", "breach"} <= set(firings)
    assert {"advice", "consultation", "hospital_referral"} <= {r.outcome for r in requests}
    assert messages and files
    # Nothing waits for a specialist for weeks: an ESS that is run does not leave it there.
    old = [
        r.reference
        for r in requests
        if r.status == Status.PENDING and end - utc(r.submitted_at) > timedelta(days=14)
    ]
    assert not old
    # Notifications: what fell due was sent, nothing due is left behind.
    assert all(status == OutboxStatus.SENT for status, due in mail if utc(due) <= end)
    # Every demo account logs in with the demo password.
    assert all(u.password_hash for u in users)
    coordinator = next(u for u in users if u.role == "coordinator")
    login = await client.post(
        "/api/v1/auth/login", json={"email": coordinator.email, "password": DEMO_PASSWORD}
    )
    assert login.status_code == 200, login.text

    treating = {u.id for u in users if u.treating_physician}
    token = {"Authorization": f"Bearer {issue_token(context.jwt_auth, coordinator)}"}
    today = end.astimezone(PARIS).date()
    periods = [
        (today - timedelta(days=365), today),  # the demo's whole year
        (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),  # last year's report
        (today.replace(day=1), today),  # this month, still open
    ]
    for period in periods:
        response = await client.get(
            "/api/v1/indicators",
            params={"from": period[0].isoformat(), "to": period[1].isoformat()},
            headers=token,
        )
        assert response.status_code == 200, response.text
        found = response.json()
        expected = recount(requests, treating, *period)
        assert {key: found[key] for key in expected} == expected, period
    whole = recount(requests, treating, *periods[0])
    assert whole["teleexpertise_count"] == len(requests)


async def test_audit_verify_passes_on_the_demo(context, clock, settings, tmp_path) -> None:
    await seed_demo(context, now=clock.now(), scale=0.03)
    env = {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(tmp_path),
    }
    verified = run_cli(env, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "point de contrôle" in verified.stdout
    # A second seeding finds accounts and adds nothing.
    assert await seed_demo(context, now=clock.now(), scale=0.03) is None


def prod_env(settings, tmp_path) -> dict[str, str]:
    return {
        "ESS_ENV": "prod",
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": "a-long-random-production-secret-" + "k" * 32,
        "ESS_DATA_DIR": str(tmp_path),
        "ESS_DATA_KEY_FILE": str(settings.key_file_path()),
    }


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_prod_refuses_the_demo_and_a_database_holding_its_accounts(
    context, clock, settings, tmp_path
) -> None:
    env = prod_env(settings, tmp_path)
    assert run_cli(env, "keys", "init").returncode == 0
    refused = run_cli(env, "serve", "--demo", "--port", "1")
    assert refused.returncode != 0
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .startswith("ess-router: La démo (--demo) est refusée avec ESS_ENV=prod")
    )

    await seed_demo(context, now=clock.now(), scale=0.01)
    refused = run_cli(env, "serve", "--port", "1")
    assert refused.returncode != 0
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .startswith("ess-router: La base contient les comptes de la démo")
    )
