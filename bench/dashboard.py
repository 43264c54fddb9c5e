"""The coordinator's dashboard (``GET /coordination``) at 1 000 000 requests, on PostgreSQL
(and SQLite).

The database ``ess_bench_dashboard`` (a SQLite file of that name in ``--workdir``) is
migrated and loaded in bulk with a fixed seed through ``bench.indicators``' generator (the
same people, delays, deadlines and encrypted clinical fields): ``--total`` requests
submitted evenly over the ``--days`` days before ``NOW`` (a Tuesday, 10:30 in Paris), so the
dashboard's two windows of 30 days and its 52 weeks are full. A request's status is drawn
from a mix of finished lives (``OLD_MIX``, a few forgotten ones left open); in the last
``RECENT_DAYS`` days from ``RECENT_MIX``, and a life that would reach past ``NOW`` stops at
its last step before it (closed → answered → accepted → assigned → pending), so the
requests still open are the ones the clock has not finished. Each pending request gets the
dispatcher's « pending » event with its reason (« … : aucun spécialiste disponible »).
Then the service's own SLA engine (``sla.engine.fire_due``) fires, at ``NOW``, every
warning and breach due: the alerts, their events, notifications and re-dispatches are the
service's own.

Measured on the application in process (``app.main.create_app`` with a clock frozen at
``NOW``, driven through httpx's ASGI transport with a coordinator's session cookie; no
socket, no uvicorn): *server time* is from the request entering the application to its
whole response (authentication, the four parts run concurrently on their own sessions as
the page does, the charts, the template), over ``--repeat`` requests after ``--warmup``.
Then each part alone, one after the other, ``--parts`` times: the indicators of the last 30
days and of the 30 before (``compute_indicators``, what ``GET /api/v1/indicators`` runs),
the weekly trends (``trends.weekly``), the alerts (``alerts.current_alerts`` and the
assignees' names), the pending requests (``coordination.pending_requests`` and
``pending_count``) and the charts (``chart_context``, SVG in Python). The page's figures
are checked against ``GET /api/v1/indicators`` for the same days.

    python -m bench.dashboard [--total 1000000] [--days 400] [--repeat 40] [--warmup 3]
                              [--parts 10] [--workdir DIR --reuse] [--backends postgres]
                              [--write-doc]
"""

import argparse
import contextlib
import json
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import func, select

from app.auth import SESSION_COOKIE, issue_token
from app.context import AppContext
from app.main import create_app
from app.services import coordination
from app.services import people as people_service
from app.services.alerts import current_alerts
from app.services.indicators import compute_indicators, parse_period
from app.services.indicators.trends import weekly
from app.web.coordination import FIGURES, chart_context, windows
from bench.dataset import USER_TABLE, bulk_load, model_row, specialty_rows, user_row
from bench.harness import (
    PARIS,
    SECRET_KEY,
    BenchError,
    Report,
    Table,
    after_load,
    cpu_seconds,
    main,
    migrated_database,
    percentile,
    positive,
    postgres_url,
    seeded_uuid,
    spaced,
)
from bench.indicators import (
    SPECIALTY,
    SUBSPECIALTIES,
    RowMaker,
    build_world,
    head_revision,
    reusable,
)
from config import FrozenClock, Settings
from models import EventKind, Request, RequestEvent, Role, SlaState, Status, User
from models.storage import Database
from sla.engine import fire_due

TITLE = "## Coordinator's dashboard (issue 17)"
NAME = "ess_bench_dashboard"
SEED = 20261130
TARGET_S = 1.0
NOW = datetime(2025, 11, 18, 10, 30, tzinfo=PARIS).astimezone(UTC)  # a Tuesday
COORDINATOR_EMAIL = "coordination@ess-bench.fr"
RECENT_DAYS = 14
NOBODY = "aucun spécialiste disponible"  # router.decision.explain's words

# Finished lives, a few forgotten ones left accepted (long breached by NOW).
OLD_MIX = (
    (Status.CLOSED, 0.8599),
    (Status.ANSWERED, 0.09),
    (Status.CANCELLED, 0.05),
    (Status.ACCEPTED, 0.0001),
)
# The last RECENT_DAYS days: the lives the clock has not finished are cut at NOW.
RECENT_MIX = (
    (Status.CLOSED, 0.85),
    (Status.ANSWERED, 0.07),
    (Status.CANCELLED, 0.05),
    (Status.AWAITING_INFO, 0.02),
    (Status.ACCEPTED, 0.005),
    (Status.ASSIGNED, 0.003),
    (Status.PENDING, 0.002),
)
# A life cut short: the status it stops at when its last step would come after NOW.
SHORTER = {
    Status.CLOSED: Status.ANSWERED,
    Status.ANSWERED: Status.ACCEPTED,
    Status.AWAITING_INFO: Status.ACCEPTED,
    Status.ACCEPTED: Status.ASSIGNED,
    Status.CANCELLED: Status.ASSIGNED,
    Status.ASSIGNED: Status.PENDING,
}
STEPS = ("assigned_at", "accepted_at", "answered_at", "closed_at", "cancelled_at")

PAGE_HEADER = (
    "backend", "requests in table", "what", "runs", "p50 ms", "p95 ms", "p99 ms", "max ms",
)  # fmt: skip
DATA_HEADER = (
    "backend", "submitted, last 30 d", "previous 30 d", "open now", "pending now",
    "alerts (warning / breached)", "weeks charted", "figures = API",
)  # fmt: skip


# --- the dataset ---------------------------------------------------------------------------


def last_step(row: dict[str, Any]) -> datetime:
    return (
        max(row[name] for name in STEPS if row[name] is not None)
        if any(row[name] is not None for name in STEPS)
        else row["submitted_at"]
    )


def rows_until_now(maker: RowMaker, total: int, days: int) -> Any:
    """``total`` requests submitted evenly over the ``days`` days before NOW, in order, each
    life stopped at its last step before NOW."""
    rng = maker.rng
    span = timedelta(days=days).total_seconds()
    instants = sorted(NOW - timedelta(seconds=rng.uniform(1, span)) for _ in range(total))
    recent = NOW - timedelta(days=RECENT_DAYS)
    for submitted in instants:
        mix = RECENT_MIX if submitted >= recent else OLD_MIX
        while True:
            row = maker.make(submitted, None, mix)
            if last_step(row) <= NOW:
                yield row
                break
            # Cut short: the same request, one step earlier in its life.
            maker.numbers[submitted.astimezone(PARIS).year] -= 1
            mix = ((SHORTER[Status(row["status"])], 1.0),)


def pending_events(rows: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """The dispatcher's « pending » event of each pending request (its reason)."""
    events = []
    for row in rows:
        pool = row["subspecialty_code"].title() if row["subspecialty_code"] else "Cardiologie"
        events.append(
            model_row(
                RequestEvent,
                id=seeded_uuid(rng),
                request_id=row["id"],
                at=row["submitted_at"],
                kind=EventKind.PENDING,
                to_status=Status.PENDING,
                detail={
                    "rule": "nobody_eligible",
                    "reason": f"{pool} : {NOBODY}",
                },
            )
        )
    return events


async def populate(context: AppContext, total: int, days: int) -> None:
    rng = random.Random(SEED + total + days)
    world = build_world(rng)
    maker = RowMaker(context.policy.sla, world, rng)
    coordinator = user_row(
        user_id=seeded_uuid(rng),
        role=Role.COORDINATOR,
        email=COORDINATOR_EMAIL,
        name="Coordination",
        created_at=NOW - timedelta(days=days + 30),
    )
    pending: list[dict[str, Any]] = []

    def requests() -> Any:
        for row in rows_until_now(maker, total, days):
            if row["status"] == Status.PENDING:
                pending.append(row)
            yield row

    tables = [
        *specialty_rows(SPECIALTY, "Cardiologie", SUBSPECIALTIES),
        (USER_TABLE, [*world.users, coordinator]),
        (Request.__table__, requests()),  # type: ignore[attr-defined]
    ]
    url = context.settings.database_url
    await bulk_load(url, tables)
    await bulk_load(url, [(RequestEvent.__table__, pending_events(pending, rng))])  # type: ignore[attr-defined]
    await after_load(url)
    # The service's SLA engine fires what is due at NOW (warnings, breaches, re-dispatch).
    fired = 0
    while count := await fire_due(context.db, now=NOW, policy=context.policy):
        fired += count
    print(f"fired {fired} SLA deadlines at {NOW:%Y-%m-%d %H:%M} UTC", flush=True)
    await after_load(url, checkpoint=True)


def bench_context(url: str, workdir: Path) -> AppContext:
    """The service's context on ``url``, its clock frozen at NOW, its files in ``workdir``."""
    settings = Settings(
        database_url=url, secret_key=SECRET_KEY, data_dir=workdir, base_url="http://ess.bench"
    )
    return AppContext(settings=settings, db=Database(url), clock=FrozenClock(NOW))


async def prepared(backend: str, args: argparse.Namespace, workdir: Path) -> str:
    """The backend's database holding the dataset (reused when it still does)."""
    marker = workdir / f"{NAME}-{backend}.json"
    wanted = {"total": args.total, "days": args.days, "revision": head_revision()}
    urls = {"sqlite": f"sqlite+aiosqlite:///{workdir / NAME}.db", "postgres": postgres_url(NAME)}
    if args.reuse and marker.exists():
        saved = json.loads(marker.read_text())
        if saved["wanted"] == wanted and await reusable(urls[backend], saved["rows"]):
            print(f"reusing {backend} {NAME} ({saved['rows']:,} requests)", flush=True)
            return urls[backend]
    marker.unlink(missing_ok=True)
    url = await migrated_database(backend, NAME, workdir, keep=args.reuse)
    context = bench_context(url, workdir)
    print(f"loading {args.total:,} requests into {backend}", flush=True)
    started = time.perf_counter()
    try:
        await populate(context, args.total, args.days)
        async with context.db.reading() as session:
            rows = await session.scalar(select(func.count()).select_from(Request))
    finally:
        await context.db.dispose()
    print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
    if args.reuse:
        marker.write_text(json.dumps({"wanted": wanted, "rows": rows}))
    return url


# --- the measures --------------------------------------------------------------------------


def stats(samples: list[float]) -> list[str]:
    return [
        str(len(samples)),
        *(f"{percentile(samples, f):.0f}" for f in (0.5, 0.95, 0.99)),
        f"{max(samples):.0f}",
    ]


async def timed(call: Callable[[], Awaitable[Any]], repeat: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def backend_pids(url: str) -> list[int]:
    """The PostgreSQL server processes serving the pool's connections (none on SQLite)."""
    if not url.startswith("postgresql"):
        return []
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


def backends_cpu(before: dict[int, float], pids: list[int]) -> float:
    """CPU seconds the server processes used since ``before`` (new ones: since they began)."""
    used = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            used += cpu_seconds(pid) - before.get(pid, 0.0)
    return used


def page_figures(page: str) -> dict[str, float | None]:
    """The figures of the last 30 days as the page gives them: {indicator key: value}."""
    found: dict[str, float | None] = {}
    cells = re.findall(r'<tr data-indicator="([^"]+)">.*?<td data-value="([^"]*)"', page, re.S)
    for key, value in cells:
        found[key] = float(value) if value else None
    return found


async def measure_backend(backend: str, url: str, args: argparse.Namespace, workdir: Path) -> Any:
    context = bench_context(url, workdir)
    zone = context.zone
    today = NOW.astimezone(zone).date()
    (first, last), (before_first, before_last) = windows(today)
    territory = context.settings.report.territory_specialists
    try:
        async with context.db.reading() as session:
            coordinator = (
                await session.execute(select(User).where(User.email == COORDINATOR_EMAIL))
            ).scalar_one()
            total = await session.scalar(select(func.count()).select_from(Request))
            open_now = await session.scalar(
                select(func.count()).where(
                    Request.status.in_(
                        [Status.PENDING, Status.ASSIGNED, Status.ACCEPTED, Status.AWAITING_INFO]
                    )
                )
            )
        token = issue_token(context.jwt_auth, coordinator)
        transport = httpx.ASGITransport(app=create_app(context))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://ess.bench", cookies={SESSION_COOKIE: token}
        ) as http:

            async def dashboard() -> str:
                response = await http.get("/coordination")
                if response.status_code != 200:
                    raise BenchError(f"/coordination got {response.status_code}")
                return response.text

            page = await dashboard()
            for _ in range(args.warmup):
                await dashboard()
            backends = await backend_pids(url)
            cpu_before = {pid: cpu_seconds(pid) for pid in backends}
            python_before = time.process_time()
            page_samples = await timed(dashboard, args.repeat, warmup=0)
            python_ms = (time.process_time() - python_before) * 1000 / args.repeat
            database_ms = backends_cpu(cpu_before, await backend_pids(url)) * 1000 / args.repeat
            api = await http.get(
                "/api/v1/indicators",
                params={"from": first.isoformat(), "to": last.isoformat()},
                headers={"Authorization": f"Bearer {token}"},
            )
        # Each part alone, as the page calls it.
        period = parse_period(first, last, zone)
        previous_period = parse_period(before_first, before_last, zone)

        async def indicators(chosen: Any) -> Any:
            async with context.db.reading() as session:
                return await compute_indicators(
                    session, chosen, now=NOW, territory_specialists=territory
                )

        async def trends() -> Any:
            async with context.db.reading() as session:
                return await weekly(session, today, zone)

        async def alerts() -> Any:
            async with context.db.reading() as session:
                found = await current_alerts(session, None)
                await people_service.load(session, [a.assignee_id for a in found])
                return found

        async def pending() -> Any:
            async with context.db.reading() as session:
                return (
                    await coordination.pending_requests(session),
                    await coordination.pending_count(session),
                )

        current = await indicators(period)
        previous = await indicators(previous_period)
        weeks = await trends()
        found_alerts = await alerts()
        pending_shown, pending_total = await pending()

        async def charts() -> Any:
            return chart_context(weeks, current)

        parts = {
            "indicators, last 30 days": lambda: indicators(period),
            "indicators, 30 days before": lambda: indicators(previous_period),
            "weekly trends, 52 weeks": trends,
            f"alerts ({len(found_alerts)}) and their assignees": alerts,
            f"pending ({len(pending_shown)} shown of {pending_total})": pending,
            "charts (SVG, in Python)": charts,
        }
        part_samples = {name: await timed(call, args.parts) for name, call in parts.items()}
    finally:
        await context.db.dispose()

    # The page's figures against the API's for the same 30 days.
    mismatches = []
    if api.status_code != 200:
        mismatches.append(f"API {api.status_code}")
    else:
        shown = page_figures(page)
        body = api.json()
        for key, _, _ in FIGURES:
            value: Any = body
            for part in key.split("."):
                value = value[part]
            on_page = shown.get(key, "missing")
            if on_page != value and not (
                isinstance(on_page, float) and value is not None and math.isclose(on_page, value)
            ):
                mismatches.append(f"{key}: API {value}, page {on_page}")
    warnings = sum(a.sla_state == SlaState.WARNING for a in found_alerts)
    if not found_alerts or not pending_shown or not current.teleexpertise_count:
        mismatches.append("an empty list or window: the dataset does not exercise the page")
    rows = [[backend, spaced(total), "`GET /coordination` (server time)", *stats(page_samples)]]
    rows += [[backend, spaced(total), name, *stats(s)] for name, s in part_samples.items()]
    data = [
        backend, spaced(current.teleexpertise_count), spaced(previous.teleexpertise_count),
        spaced(open_now), spaced(pending_total),
        f"{spaced(warnings)} / {spaced(len(found_alerts) - warnings)}",
        str(len(weeks)), "; ".join(mismatches) or "yes",
    ]  # fmt: skip
    p99 = percentile(page_samples, 0.99) / 1000
    cpu = (
        f"{backend}: CPU per page (mean of the {args.repeat}) {python_ms:.0f} ms in the Python "
        f"process (application and in-process client)"
        + (f", {database_ms:.0f} ms in PostgreSQL's server processes" if backends else "")
    )
    return rows, data, p99, not mismatches, len(page), cpu


logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--total", type=positive(int), default=1_000_000, help="(1000000)")
    parser.add_argument("--days", type=positive(int), default=400, help="spread over (400)")
    parser.add_argument("--repeat", type=positive(int), default=40, help="page requests (40)")
    parser.add_argument("--warmup", type=positive(int), default=3, help="(3)")
    parser.add_argument("--parts", type=positive(int), default=10, help="runs per part (10)")
    parser.add_argument("--workdir", type=Path, help="where SQLite files go (a temp dir)")
    parser.add_argument("--reuse", action="store_true", help="keep the databases, reuse them")


async def run(args: argparse.Namespace, workdir: Path) -> Report:
    if args.reuse and not args.workdir:
        raise BenchError("--reuse needs --workdir")
    workdir = args.workdir or workdir
    workdir.mkdir(parents=True, exist_ok=True)
    rows: list[list[str]] = []
    data: list[list[str]] = []
    verdicts = []
    cpus: list[str] = []
    ok = True
    for backend in args.backends:
        url = await prepared(backend, args, workdir)
        found, facts, p99, checked, size, cpu = await measure_backend(backend, url, args, workdir)
        cpus.append(cpu)
        rows += found
        data.append(facts)
        ok = ok and checked
        met = "met" if p99 < TARGET_S else "**not met**"
        verdicts.append(f"{backend}: p99 {p99:.2f} s, {met} (page of {size / 1024:.0f} KiB)")
        for row in found:
            print(" | ".join(row), flush=True)
    notes = [
        f"NOW = {NOW:%Y-%m-%d %H:%M} UTC; {args.warmup} warm-up requests; each part alone "
        f"{args.parts} times after one warm-up call. Schema: migration {head_revision()}.",
        *(f"{cpu}." for cpu in cpus),
        f"Target (p99 under {TARGET_S:.0f} s on PostgreSQL): " + "; ".join(verdicts) + ".",
    ]
    tables = [Table(PAGE_HEADER, rows, left=3), Table(DATA_HEADER, data, left=1)]
    return Report(tables, notes, ok)


if __name__ == "__main__":
    raise SystemExit(main("bench.dashboard", __doc__, TITLE, options, run))
