"""The Litestar application: ``create_app()``."""

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import (
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from prometheus_client import multiprocess

from app.api import api_router
from app.body import JSON_MAX_BYTES, JsonRequest, allow_uploads
from app.context import AppContext
from app.csrf import csrf_middleware
from app.dependencies import dependencies
from app.enrolment import enrolment_guard
from app.errors import internal_error_handler, problem_details_plugin, validation_error_handler
from app.headers import security_headers
from app.health import health, ready
from app.log_redaction import install as mask_tokens_in_access_logs
from app.metrics import PROMETHEUS, metrics
from app.openapi import ProblemResponsesPlugin
from app.request_log import RequestLog
from app.services.keys import KeyHeartbeat
from app.stopping import resign_on_stop
from app.throttle import address_throttle
from app.web import allow_form_uploads, static_file, template_config, web_router
from app.web.errors import method_not_allowed, not_found
from config import SystemClock, get_settings
from config.logs import configure_logging
from models.storage import Database
from notifications.sender import OutboxSender
from security.audit_anchor import advance as advance_checkpoint
from security.audit_anchor import checkpoint_path
from sla.scheduler import SlaScheduler

logger = logging.getLogger("ess_router")
# APScheduler announces every job run at INFO; its warnings are what matter.
logging.getLogger("apscheduler").setLevel(logging.WARNING)


def build_context() -> AppContext:
    settings = get_settings()
    return AppContext(settings=settings, db=Database(settings.database_url), clock=SystemClock())


def create_app(context: AppContext | None = None) -> Litestar:
    """Build the application around ``context`` (settings, database, clock)."""
    context = context or build_context()
    mask_tokens_in_access_logs()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        checkpoint = checkpoint_path(context.settings.key_file_path())
        scheduler = SlaScheduler(
            context.db,
            context.clock,
            context.policy,
            context.settings.sla.tick_seconds,
            anchor=lambda now: advance_checkpoint(
                context.db, context.vault.keyring, checkpoint, now
            ),
        )
        scheduler.start()
        context.scheduler = scheduler
        sender = OutboxSender(
            context.db,
            context.clock,
            context.settings.smtp,
            base_url=context.settings.base_url,
            zone=context.zone,
            link_secret=context.settings.resolved_secret_key(),
        )
        stop = asyncio.Event()
        sending = asyncio.create_task(sender.run(stop), name="outbox-sender")
        heartbeat = KeyHeartbeat(context.db, context.vault, context.clock)
        beating = asyncio.create_task(heartbeat.run(stop), name="key-heartbeat")

        async def resign() -> None:
            # Leadership first: another process takes the SLA tick over at its next tick.
            context.scheduler = None
            await scheduler.stop()

        try:
            with resign_on_stop(resign):
                yield
        finally:
            await resign()
            stop.set()
            await sending
            await beating
            await context.db.dispose()
            if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                multiprocess.mark_process_dead(os.getpid())

    app = Litestar(
        route_handlers=[health, ready, metrics, api_router, web_router, static_file],
        dependencies=dependencies(),
        guards=[enrolment_guard],
        on_app_init=[context.jwt_auth.on_app_init],
        # Not ``csrf_config=``: Litestar would then check every request, bearer ones too.
        middleware=[
            PROMETHEUS.middleware,
            address_throttle(context.settings).middleware,
            csrf_middleware(context.settings),
        ],
        before_send=[security_headers(context.settings)],
        plugins=[problem_details_plugin, ProblemResponsesPlugin(context.jwt_auth)],
        exception_handlers={
            Exception: internal_error_handler,
            ValidationException: validation_error_handler,
            NotFoundException: not_found,
            MethodNotAllowedException: method_not_allowed,
        },
        lifespan=[lifespan],
        template_config=template_config(context.zone),
        state=State({"context": context}),
        openapi_config=OpenAPIConfig(
            title="ess-router",
            version="0.1.0",
            description="Téléexpertise d'une équipe de soins spécialisés (ESS).",
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
        ),
        request_class=JsonRequest,
        # Every body is JSON and small but the upload's (allow_uploads, below): a
        # large body is refused as it streams in, before anything is decoded.
        request_max_body_size=JSON_MAX_BYTES,
        debug=False,
    )
    allow_uploads(app, context.settings.attachment_max_bytes)
    allow_form_uploads(app, context.settings.attachment_max_bytes)
    return app


def serve_app(context: AppContext | None = None) -> RequestLog:
    """The application as ``serve`` runs it: request ids and access lines around it.

    Also the factory each worker process of ``serve --workers`` calls (by import string).
    """
    context = context or build_context()
    app = create_app(context)
    # After the application: Litestar configures logging of its own when built.
    configure_logging(context.settings.log_format)
    return RequestLog(app)
