"""``/health`` (the process answers) and ``/health/ready`` (it can do its work).

Readiness is what a load balancer or an orchestrator asks before sending traffic:
the database answers, its schema is the one this code expects, the data keys are
loaded, and some process leads the SLA scheduler. Anything missing is a 503 problem
naming each failed check, in French.
"""

import logging
from functools import cache
from typing import Any

from alembic.script import ScriptDirectory
from litestar import get
from litestar.di import NamedDependency
from sqlalchemy import text

from app.context import AppContext
from app.errors import problem
from migrations import alembic_config
from sla.scheduler import LEADER_LOCK_KEY

logger = logging.getLogger("ess_router")

# Who holds the scheduler's session-level advisory lock on this database (a bigint key
# is split into classid, high 32 bits, and objid, low 32 bits; objsubid 1).
_LEADER_HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND classid = :high AND objid = :low AND objsubid = 1"
)


@cache
def migration_head() -> str:
    """The newest migration this code ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@get("/health", exclude_from_auth=True, tags=["service"])
async def health() -> dict[str, str]:
    """Say whether the service is up."""
    return {"status": "ok"}


@get("/health/ready", exclude_from_auth=True, include_in_schema=False)
async def ready(context: NamedDependency[AppContext]) -> dict[str, Any]:
    """Say whether the service can do its work; 503 naming what is wrong otherwise."""
    checks, failures = await readiness(context)
    if failures:
        raise problem(503, "Service pas prêt : " + " ; ".join(failures) + ".", checks=checks)
    return {"status": "ready", "checks": checks}


async def readiness(context: AppContext) -> tuple[dict[str, str], list[str]]:
    """Run every check; return each one's state and the French reason of each failure."""
    checks: dict[str, str] = {}
    failures: list[str] = []
    revision = None
    leaders = None
    try:
        async with context.db.read_engine.connect() as connection:
            if not context.db.is_sqlite:
                leaders = (
                    await connection.execute(
                        _LEADER_HELD,
                        {"high": LEADER_LOCK_KEY >> 32, "low": LEADER_LOCK_KEY & 0xFFFFFFFF},
                    )
                ).scalar_one()
            checks["database"] = "ok"
            revision = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one_or_none()
    except Exception as exc:
        # The exception's text may name the host; the log keeps its type only.
        logger.warning("readiness: database check failed (%s)", type(exc).__name__)
        if "database" not in checks:
            checks["database"] = "unreachable"
            failures.append("base de données injoignable")
    if checks["database"] == "ok":
        if revision == migration_head():
            checks["migrations"] = "ok"
        else:
            checks["migrations"] = "behind"
            failures.append(
                f"migrations non appliquées (base : {revision or 'vide'}, "
                f"attendu : {migration_head()}) — lancez « ess-router db upgrade »"
            )
    try:
        context.vault.keyring  # noqa: B018 - loads (or reloads) the key file
        checks["keys"] = "ok"
    except Exception as exc:
        logger.warning("readiness: data keys not loaded (%s)", type(exc).__name__)
        checks["keys"] = "missing"
        failures.append("clés de chiffrement non chargées")
    scheduler = context.scheduler
    if scheduler is None or not scheduler.running:
        checks["scheduler"] = "stopped"
        failures.append("planificateur des échéances arrêté dans ce processus")
    elif context.db.is_sqlite:
        checks["scheduler"] = "leader"  # on SQLite every process ticks
    elif checks["database"] != "ok":
        checks["scheduler"] = "unknown"
    elif scheduler.leads:
        checks["scheduler"] = "leader"
    elif leaders:
        checks["scheduler"] = "follower"
    else:
        checks["scheduler"] = "no-leader"
        failures.append("aucun processus ne mène le planificateur des échéances")
    return checks, failures
