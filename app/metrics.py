"""Prometheus metrics at ``/metrics``, for the addresses of ``ESS_METRICS_ALLOW`` or a token.

Per-process figures (HTTP latency by route and status, SLA ticks and firings, dispatch
decisions) come from prometheus-client, aggregated over every worker when
``PROMETHEUS_MULTIPROC_DIR`` is set (``serve --workers`` sets it). Figures the database
holds (requests by status and SLA state, pending requests, notifications by status)
are read at each scrape, so that every worker answers the same.
"""

import hmac
import ipaddress
import os
from collections.abc import Iterator
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from app.context import AppContext
from app.errors import problem
from models import Request as TeleexpertiseRequest
from models.outbox import OutboxMessage

PROMETHEUS = PrometheusConfig(
    app_name="ess-router",
    prefix="ess_http",
    group_path=True,  # the route's template, not each request's own path
    exclude_unhandled_paths=True,
    buckets=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
)


class Snapshot(Collector):
    """Gauges read from the database for one scrape."""

    def __init__(self, requests: list[tuple[str, str, int]], outbox: list[tuple[str, int]]) -> None:
        self.requests = requests
        self.outbox = outbox

    def collect(self) -> Iterator[Metric]:
        by_state = GaugeMetricFamily(
            "ess_requests",
            "Téléexpertise requests stored, by status and SLA state.",
            labels=["status", "sla_state"],
        )
        pending = 0
        for status, sla_state, count in self.requests:
            by_state.add_metric([status, sla_state], count)
            pending += count if status == "pending" else 0
        yield by_state
        yield GaugeMetricFamily(
            "ess_requests_pending",
            "Requests waiting for the coordinator (nobody eligible).",
            value=pending,
        )
        outbox = GaugeMetricFamily(
            "ess_outbox_notifications",
            "E-mail notifications not sent yet (pending, held without SMTP, failed), by status.",
            labels=["status"],
        )
        counts = dict(self.outbox)
        for status in ("pending", "held", "failed"):
            outbox.add_metric([status], counts.get(status, 0))
        yield outbox


def allowed(request: Request[Any, Any, Any], context: AppContext) -> bool:
    settings = context.settings
    token = settings.metrics_token
    sent = request.headers.get("authorization", "")
    if token is not None and hmac.compare_digest(
        sent.encode(), f"Bearer {token.get_secret_value()}".encode()
    ):
        return True
    try:
        client = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    return any(client in network for network in settings.metrics_allow)


async def snapshot(context: AppContext) -> Snapshot:
    async with context.db.reading() as session:
        requests = (
            await session.execute(
                select(
                    TeleexpertiseRequest.status,
                    TeleexpertiseRequest.sla_state,
                    func.count(),
                ).group_by(TeleexpertiseRequest.status, TeleexpertiseRequest.sla_state)
            )
        ).all()
        outbox = (
            await session.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.status != "sent")
                .group_by(OutboxMessage.status)
            )
        ).all()
    return Snapshot(
        [(str(s), str(state), int(n)) for s, state, n in requests],
        [(str(s), int(n)) for s, n in outbox],
    )


@get("/metrics", exclude_from_auth=True, include_in_schema=False)
async def metrics(
    request: Request[Any, Any, Any], context: NamedDependency[AppContext]
) -> Response:
    """The Prometheus text exposition; 403 to anyone not allowed."""
    if not allowed(request, context):
        raise problem(
            403,
            "Métriques réservées aux adresses de ESS_METRICS_ALLOW ou au jeton ESS_METRICS_TOKEN.",
        )
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    stored = CollectorRegistry()
    stored.register(await snapshot(context))
    body = generate_latest(registry) + generate_latest(stored)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
