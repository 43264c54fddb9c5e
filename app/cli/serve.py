"""``ess-router serve``: the service with its background jobs, in one or several processes."""

import asyncio
import os
import shutil
import tempfile

import click
import uvicorn

from app.cli.common import CommandError, load_settings, operator_errors
from app.context import AppContext
from app.data_files import prepare as prepare_data_files
from app.demo import Demo, announce, refuse_in_prod, seed_demo
from app.main import build_context, serve_app
from config import Settings, get_settings
from config.logs import configure_logging
from migrations import upgrade_database

# In-flight requests get this long to finish when the service is asked to stop.
GRACEFUL_STOP_SECONDS = 30
WORKER_STARTUP_SECONDS = 60


# Listening everywhere says nothing of the address people type: ESS_BASE_URL must say it.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


def own_address(settings: Settings, host: str, port: int) -> Settings:
    """Without ESS_BASE_URL, the service's address is where it listens.

    The pages' forms are refused when they come from another origin than ESS_BASE_URL,
    and e-mails link there: ``serve --port 8765`` must not keep the default port 8000.
    """
    if "base_url" in settings.model_fields_set or host in WILDCARD_HOSTS:
        return settings
    shown = f"[{host}]" if ":" in host else host
    os.environ["ESS_BASE_URL"] = f"http://{shown}:{port}"  # the workers read it too
    get_settings.cache_clear()
    return load_settings()


@click.command(
    help="Sert l'API et ses tâches de fond.\n\nApplique d'abord les migrations en attente, puis "
    "sert l'API (/api/v1) et ses tâches de fond : échéances SLA et envoi des notifications "
    "par e-mail."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Adresse d'écoute.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port d'écoute."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processus servant ensemble (plus d'un : PostgreSQL seulement).",
)
@click.option("--demo", is_flag=True, help="Ajoute une ESS de démonstration à une base vide.")
def serve(host: str, port: int, workers: int, demo: bool) -> None:
    settings = own_address(load_settings(), host, port)
    if workers > 1 and settings.is_sqlite:
        raise CommandError(
            "plusieurs processus (--workers) demandent PostgreSQL : SQLite n'admet qu'un "
            "écrivain à la fois ; lancez un seul processus, ou passez ESS_DATABASE_URL sur "
            "PostgreSQL"
        )
    configure_logging(settings.log_format)
    with operator_errors():
        prepare_data_files(settings)
        settings.resolved_secret_key()
        context = build_context()
        # The data keys first (loaded, or created in dev): a server that cannot start
        # says so before it touches the database.
        context.vault  # noqa: B018
        asyncio.run(upgrade_database(settings.database_url))
    with operator_errors():
        asyncio.run(refuse_in_prod(context, demo=demo))
    if demo:
        for line in announce(asyncio.run(_seed_demo(context))):
            click.echo(line)
    click.echo(
        f"ess-router sur http://{host}:{port} (API : /api/v1, OpenAPI : /schema/openapi.json)"
        + (f", {workers} processus" if workers > 1 else "")
    )
    # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: only the configured
    # proxies may say who the client is (the login throttle keys on that address).
    trusted = settings.forwarded_allow_ips()
    options = {
        "host": host,
        "port": port,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted,
        "log_config": None,  # configure_logging's format, for uvicorn's lines too
        "access_log": False,  # app.request_log writes them, without query strings
        "timeout_graceful_shutdown": GRACEFUL_STOP_SECONDS,
    }
    if workers == 1:
        uvicorn.run(serve_app(context), **options)
        return
    # Each worker builds its own application (uvicorn imports the factory in each one);
    # their Prometheus figures meet in one folder, emptied at each start.
    metrics_dir = tempfile.mkdtemp(prefix="ess-router-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "app.main:serve_app",
            factory=True,
            workers=workers,
            # A worker imports and builds the whole application before it answers the
            # supervisor's health check: on a busy host that takes more than 5 s.
            timeout_worker_healthcheck=WORKER_STARTUP_SECONDS,
            **options,
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


async def _seed_demo(context: AppContext) -> Demo | None:
    # Seeding runs in its own event loop, before uvicorn's: its connections go with it.
    try:
        return await seed_demo(context)
    finally:
        await context.db.dispose()
