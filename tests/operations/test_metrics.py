"""``/metrics``: Prometheus figures, for the allowed addresses or the token only."""

import re
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.context import AppContext
from app.main import create_app
from config import FrozenClock, Settings
from models.storage import Database
from sla.engine import fire_due
from tests.conftest import Ess, request_payload


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(figures: dict, name: str, **labels: str) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: httpx.AsyncClient, **headers: str) -> dict:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_metrics_follow_requests_deadlines_and_notifications(
    client: httpx.AsyncClient, ess: Ess, clock: FrozenClock, context: AppContext
) -> None:
    before = await scrape(client)
    gp = ess.requesters[0]
    submitted = await client.post("/api/v1/requests", json=request_payload(), headers=ess.auth(gp))
    assert submitted.status_code == 201
    missing = await client.get(f"/api/v1/requests/{submitted.json()['id']}x", headers=ess.auth(gp))
    assert missing.status_code in (400, 404)
    # Past 75 % of the eight business hours to acknowledge: a warning fires.
    clock.advance(timedelta(hours=7))
    await fire_due(context.db, now=clock.now(), policy=context.policy)

    after = await scrape(client)
    route = {"app_name": "ess-router", "method": "POST", "path": "/api/v1/requests"}
    assert value(after, "ess_http_requests_total", **route, status_code="201") == (
        value(before, "ess_http_requests_total", **route, status_code="201") + 1
    )
    # Latency by route template, never by each request's own path.
    assert value(after, "ess_http_request_duration_seconds_count", **route, status_code="201")
    assert not any(submitted.json()["id"] in str(key) for key in after)
    assert value(after, "ess_requests", status="assigned", sla_state="warning") == 1
    assert value(after, "ess_requests_pending") == 0
    # The assignment's and the warning's e-mails wait for the sender (not running here).
    assert value(after, "ess_outbox_notifications", status="pending") == (
        value(before, "ess_outbox_notifications", status="pending") + 2
    )
    assert value(after, "ess_outbox_notifications", status="failed") == 0
    assert value(after, "ess_sla_firings_total", deadline="acknowledge", level="warning") == (
        value(before, "ess_sla_firings_total", deadline="acknowledge", level="warning") + 1
    )
    assert value(after, "ess_dispatch_decision_seconds_count") > value(
        before, "ess_dispatch_decision_seconds_count"
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_metrics_are_refused_to_other_addresses_without_the_token(
    settings: Settings, clock: FrozenClock
) -> None:
    token = "jeton-des-metriques-" + "x" * 20
    guarded = Settings(
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        metrics_allow="10.0.0.0/8",
        metrics_token=token,
    )
    context = AppContext(settings=guarded, db=Database(guarded.database_url), clock=clock)
    transport = httpx.ASGITransport(app=create_app(context), client=("192.0.2.7", 4000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://ess.test.local") as http:
            refused = await http.get("/metrics")
            wrong = await http.get("/metrics", headers={"Authorization": "Bearer devine"})
            allowed = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    finally:
        await context.db.dispose()
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "Métriques réservées aux adresses de ESS_METRICS_ALLOW ou au jeton ESS_METRICS_TOKEN."
    )
    assert wrong.status_code == 403
    assert allowed.status_code == 200
    assert re.search(r"^ess_requests_pending 0\.0$", allowed.text, re.MULTILINE)
