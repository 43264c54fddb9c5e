"""Request submission over HTTP against a bare one-row insert, on SQLite and on PostgreSQL.

For each backend: a fresh database, the real service (``ess-router serve``) seeded
through its CLI and API, N concurrent clients posting valid submissions for a fixed
time; then the same load against ``bench.bare_app`` (one SQLModel insert per request)
on a fresh database of the same kind. Prints throughput, p50, p99 and max latency;
``--write-doc`` records them in ``docs/benchmarks.md``.

    python -m bench.submission [--seconds 30] [--clients 16] [--backends sqlite,postgres]
                               [--write-doc]

PostgreSQL is reached through ``BENCH_POSTGRES_URL`` (an admin connection, default
``postgresql://postgres@127.0.0.1:5432/test``); the scratch databases
``ess_bench_sub`` and ``ess_bench_bare`` are created and dropped by the run.
"""

import argparse
import asyncio
import contextlib
import math
import os
import platform
import re
import shlex
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import httpx

if TYPE_CHECKING:
    from bench.submission_breakdown import Breakdown

ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = ROOT / "docs" / "benchmarks.md"
SECTION_TITLE = "## Request submission (issue 2)"
DOC_INTRO = """# Benchmarks

Performance figures for ess-router. Every figure here comes from a script under
`bench/`, run on purpose on a known machine, never from a timed test: the test
suite checks behaviour, and a test that fails when the machine is busy teaches
nothing. Each benchmark owns one `##` section below and rewrites only that section
when it is re-run.

Re-run them from the project root: `make bench` runs `python -m bench.submission`
with its defaults; each section gives the exact command that produced its table.
"""

POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SUBMISSION_DB = "ess_bench_sub"
BREAKDOWN_DB = "ess_bench_sub_inproc"
BREAKDOWN_COUNT = 500
BARE_DB = "ess_bench_bare"
TARGET_P99_MS = 100.0
SPECIALIST_CAPACITY = 1000  # the API's maximum (UserCreate.capacity le=1000)
PASSWORD = "bench-password-1234"
COORDINATOR_EMAIL = "coordination@ess-bench.fr"
REQUESTER_EMAIL = "demandeur@ess-bench.fr"
SECRET_KEY = "bench-secret-key-" + "k" * 48
STARTUP_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 60.0

SUBMISSION_BODY: dict[str, object] = {
    "specialty": "cardiologie",
    "subspecialty": "rythmologie",
    "priority": "standard",
    "question": "Palpitations depuis trois semaines, ECG joint : FA paroxystique ?",
    "patient": {
        "first_name": "Jeanne",
        "last_name": "Durand",
        "birth_date": "1956-04-12",
        "sex": "F",
        "ins": "256041234567830",
    },
    "consent": True,
}
BARE_BODY: dict[str, object] = {"payload": str(SUBMISSION_BODY["question"])}


class BenchError(Exception):
    """The run cannot go on (one line for the operator)."""


@dataclass
class Result:
    backend: str
    endpoint: str
    latencies_ms: list[float]
    errors: Counter[str]
    elapsed_s: float
    server_cpu_s: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.error_count

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, fraction: float) -> float:
        """Nearest-rank percentile of the successful requests' latencies (ms)."""
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        rank = max(1, math.ceil(fraction * len(ordered)))
        return ordered[rank - 1]

    @property
    def max_ms(self) -> float:
        return max(self.latencies_ms) if self.latencies_ms else math.nan

    @property
    def server_cpu_ms_per_request(self) -> float | None:
        if self.server_cpu_s is None or not self.requests:
            return None
        return self.server_cpu_s * 1000 / self.requests

    @property
    def server_cpu_share(self) -> float | None:
        """Server CPU time over wall time: 1.0 is one core kept busy the whole run."""
        if self.server_cpu_s is None or not self.elapsed_s:
            return None
        return self.server_cpu_s / self.elapsed_s


# --- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def venv_tool(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    raise BenchError(f"{name} not found next to {sys.executable}; run from the project venv")


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run ``ess-router ARGS`` and return its stdout (stripped)."""
    completed = subprocess.run(
        [venv_tool("ess-router"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchError(f"ess-router {shlex.join(args[:2])} failed: {completed.stderr.strip()}")
    return completed.stdout.strip()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def served(
    command: list[str], env: dict[str, str], cwd: Path, log_path: Path, probe_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process, wait until it answers HTTP, and always stop it afterwards."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_up(process, probe_url, log_path)
            yield process
        except BenchError as exc:
            if str(log_path) in str(exc):
                raise
            raise BenchError(
                f"{exc}\n--- {log_path.name} (tail) ---\n{log_tail(log_path)}"
            ) from exc
        finally:
            stop(process)


def wait_until_up(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    """Any HTTP answer means the app finished its startup (uvicorn binds after the lifespan)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(
                f"server exited with {process.returncode} ({log_path}):\n{log_tail(log_path)}"
            )
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise BenchError(
        f"server not up after {STARTUP_TIMEOUT_S:.0f} s ({log_path}):\n{log_tail(log_path)}"
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


# --- databases ---------------------------------------------------------------------------


def postgres_url(database: str, *, driver: str = "postgresql+asyncpg") -> str:
    base = POSTGRES_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
    return f"{driver}://{base}/{database}"


async def _postgres_admin(*statements: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=10)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def recreate_postgres(database: str) -> str:
    asyncio.run(
        _postgres_admin(
            f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)', f'CREATE DATABASE "{database}"'
        )
    )
    return postgres_url(database)


def drop_postgres(database: str) -> None:
    asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


async def _postgres_version() -> str:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=10)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def fresh_database(backend: str, name: str, workdir: Path) -> str:
    if backend == "sqlite":
        path = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite+aiosqlite:///{path}"
    return recreate_postgres(name)


# --- load --------------------------------------------------------------------------------


async def generate_load(
    base_url: str,
    path: str,
    body: dict[str, object],
    headers: dict[str, str],
    *,
    clients: int,
    seconds: float,
    server_pid: int | None = None,
) -> tuple[list[float], Counter[str], float, float | None]:
    """``clients`` independent keep-alive clients post ``body`` back to back for ``seconds``.

    Each client sends one warm-up request first (not counted; it must get 201). Requests
    still in flight at the deadline are awaited and counted. Returns the latencies (ms) of
    the 201 answers, the errors by kind, the elapsed time and the server's CPU time over it.
    """
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
    async with contextlib.AsyncExitStack() as stack:
        pool = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=base_url, headers=headers, limits=limits, timeout=timeout
                )
            )
            for _ in range(clients)
        ]
        warmups = await asyncio.gather(*(c.post(path, json=body) for c in pool))
        for response in warmups:
            if response.status_code != 201:
                raise BenchError(
                    f"warm-up POST {path} got {response.status_code}: {response.text[:300]}"
                )

        async def worker(client: httpx.AsyncClient, deadline: float) -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.post(path, json=body)
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1
                    continue
                elapsed = time.perf_counter() - started
                if response.status_code == 201:
                    latencies.append(elapsed * 1000)
                else:
                    errors[f"HTTP {response.status_code}"] += 1

        cpu_before = cpu_seconds(server_pid) if server_pid else None
        started = time.perf_counter()
        await asyncio.gather(*(worker(c, started + seconds) for c in pool))
        elapsed = time.perf_counter() - started
        cpu_after = cpu_seconds(server_pid) if server_pid else None
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return latencies, errors, elapsed, cpu


# --- the two targets ---------------------------------------------------------------------


def service_env(database_url: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESS_")}
    env.update(
        ESS_DATABASE_URL=database_url,
        ESS_DATA_DIR=str(workdir),
        ESS_DATA_KEY_FILE=str(workdir / "ess-router.keys"),
        ESS_SECRET_KEY=SECRET_KEY,
        ESS_ENV="dev",
        # Specialists without a schedule are available whenever the calendar is open: a
        # 24/7 calendar dispatches every submission whatever the hour the bench runs at.
        ESS_SLA__CALENDAR="24/7",
    )
    return env


def seed(base_url: str, env: dict[str, str], cwd: Path, specialists: int) -> tuple[str, str]:
    """Create the ESS through the API; return (coordinator token, requester token)."""
    coordinator = run_cli(["token", COORDINATOR_EMAIL], env, cwd)
    auth = {"Authorization": f"Bearer {coordinator}"}
    with httpx.Client(base_url=base_url, headers=auth, timeout=30) as http:

        def created(response: httpx.Response) -> None:
            if response.status_code != 201:
                raise BenchError(
                    f"seeding {response.request.url.path} got {response.status_code}: "
                    f"{response.text[:300]}"
                )

        created(
            http.post(
                "/api/v1/specialties",
                json={
                    "code": "cardiologie",
                    "name": "Cardiologie",
                    "subspecialties": [{"code": "rythmologie", "name": "Rythmologie"}],
                },
            )
        )
        for index in range(specialists):
            created(
                http.post(
                    "/api/v1/users",
                    json={
                        "role": "specialist",
                        "email": f"specialiste{index}@ess-bench.fr",
                        "name": f"Dr Spécialiste {index}",
                        "specialty": "cardiologie",
                        "subspecialties": ["rythmologie"],
                        "capacity": SPECIALIST_CAPACITY,
                    },
                )
            )
        created(
            http.post(
                "/api/v1/users",
                json={
                    "role": "requester",
                    "email": REQUESTER_EMAIL,
                    "name": "Dr Demandeur",
                    "treating_physician": True,
                },
            )
        )
    return coordinator, run_cli(["token", REQUESTER_EMAIL], env, cwd)


def request_totals(base_url: str, coordinator: str) -> tuple[int, int]:
    """(all requests, pending ones) as the coordinator sees them."""
    auth = {"Authorization": f"Bearer {coordinator}"}
    with httpx.Client(base_url=base_url, headers=auth, timeout=30) as http:
        total = http.get("/api/v1/requests", params={"limit": 1}).json()["total"]
        pending = http.get("/api/v1/requests", params={"limit": 1, "status": "pending"}).json()[
            "total"
        ]
    return int(total), int(pending)


def bench_submission(backend: str, args: argparse.Namespace, workdir: Path) -> Result:
    database_url = fresh_database(backend, SUBMISSION_DB, workdir)
    env = service_env(database_url, workdir)
    run_cli(["db", "upgrade"], env, workdir)
    run_cli(
        [
            "user", "create", "--role", "coordinator", "--email", COORDINATOR_EMAIL,
            "--name", "Coordination", "--password", PASSWORD,
        ],
        env,
        workdir,
    )  # fmt: skip
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [venv_tool("ess-router"), "serve", "--port", str(port)]
    log_path = workdir / f"serve-{backend}.log"
    with served(command, env, workdir, log_path, f"{base_url}/health") as server:
        if httpx.get(f"{base_url}/health", timeout=5).json() != {"status": "ok"}:
            raise BenchError("GET /health did not answer {'status': 'ok'}")
        coordinator, requester = seed(base_url, env, workdir, args.specialists)
        latencies, errors, elapsed, cpu = asyncio.run(
            generate_load(
                base_url,
                "/api/v1/requests",
                SUBMISSION_BODY,
                {"Authorization": f"Bearer {requester}"},
                clients=args.clients,
                seconds=args.seconds,
                server_pid=server.pid,
            )
        )
        total, pending = request_totals(base_url, coordinator)
    result = Result(backend, "full submission", latencies, errors, elapsed, cpu)
    expected = len(latencies) + args.clients
    if total != expected:
        result.notes.append(f"{total} requests stored, {expected} answered 201 (incl. warm-up)")
    if pending:
        result.notes.append(f"{pending} request(s) left pending (specialists at capacity?)")
    return result


def bench_bare(backend: str, args: argparse.Namespace, workdir: Path) -> Result:
    database_url = fresh_database(backend, BARE_DB, workdir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESS_")}
    env["BENCH_DATABASE_URL"] = database_url
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "bench.bare_app:create_app",
        "--app-dir", str(ROOT), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    log_path = workdir / f"bare-{backend}.log"
    with served(command, env, workdir, log_path, f"{base_url}/") as server:
        latencies, errors, elapsed, cpu = asyncio.run(
            generate_load(
                base_url,
                "/bare",
                BARE_BODY,
                {},
                clients=args.clients,
                seconds=args.seconds,
                server_pid=server.pid,
            )
        )
    return Result(backend, "bare insert", latencies, errors, elapsed, cpu)


# --- reporting ---------------------------------------------------------------------------

COLUMNS = ("backend", "endpoint", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms")


def rows(results: list[Result]) -> list[tuple[str, ...]]:
    return [
        (
            r.backend,
            r.endpoint,
            str(r.requests),
            str(r.error_count),
            f"{r.throughput:.1f}",
            f"{r.percentile(0.50):.1f}",
            f"{r.percentile(0.99):.1f}",
            f"{r.max_ms:.1f}",
        )
        for r in results
    ]


def text_table(results: list[Result]) -> str:
    body = rows(results)
    widths = [max(len(c), *(len(row[i]) for row in body)) for i, c in enumerate(COLUMNS)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(COLUMNS), line(tuple("-" * w for w in widths)), *map(line, body)])


def markdown_table(results: list[Result]) -> str:
    header = (
        "| backend | endpoint | requests | errors | throughput (req/s) | p50 ms | p99 ms | max ms |"
    )
    lines = [header, "|---|---|--:|--:|--:|--:|--:|--:|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results)]
    return "\n".join(lines)


def pairs(results: list[Result]) -> list[tuple[str, Result, Result]]:
    """(backend, full submission, bare insert) for each backend that has both."""
    found = []
    for backend in dict.fromkeys(r.backend for r in results):
        by_endpoint = {r.endpoint: r for r in results if r.backend == backend}
        full, bare = by_endpoint.get("full submission"), by_endpoint.get("bare insert")
        if full is not None and bare is not None and bare.throughput:
            found.append((backend, full, bare))
    return found


def reading(results: list[Result]) -> str:
    """Read the figures against the target, in two to four plain sentences."""
    compared = pairs(results)
    if not compared:
        return ""
    sentences = [
        "Full submission against bare insert: "
        + "; ".join(
            f"{backend} {full.throughput:.0f} against {bare.throughput:.0f} req/s "
            f"({full.throughput / bare.throughput:.2f}×), p99 {full.percentile(0.99):.0f} "
            f"against {bare.percentile(0.99):.0f} ms"
            for backend, full, bare in compared
        )
        + "."
    ]
    verdicts = []
    for backend, full, bare in compared:
        misses = []
        if full.throughput < bare.throughput:
            misses.append("slower than the bare insert")
        if not full.percentile(0.99) < TARGET_P99_MS:
            misses.append(f"p99 not under {TARGET_P99_MS:.0f} ms")
        if full.error_count:
            misses.append(f"{full.error_count} errors")
        verdicts.append(f"{backend}: " + (", ".join(misses) if misses else "met"))
    met = all(v.endswith(": met") for v in verdicts)
    sentences.append(
        f"The target (at least as fast as the bare insert, p99 under {TARGET_P99_MS:.0f} ms on "
        f"every database) is {'met' if met else 'not met'} ({'; '.join(verdicts)})."
    )
    cpu = [
        (backend, full, bare)
        for backend, full, bare in compared
        if full.server_cpu_ms_per_request and bare.server_cpu_ms_per_request
    ]
    if cpu:
        busiest = max(full.server_cpu_share or 0.0 for _, full, _ in cpu)
        queueing = (
            f"; the service runs in one process and keeps up to {busiest:.0%} of one core busy, "
            "so at this concurrency its latency is mostly requests waiting for that core"
            if busiest >= 0.8
            else ""
        )
        sentences.append(
            "Server CPU per request, full submission against bare insert: "
            + "; ".join(
                f"{backend} {full.server_cpu_ms_per_request:.1f} against "
                f"{bare.server_cpu_ms_per_request:.1f} ms"
                for backend, full, bare in cpu
            )
            + queueing
            + "."
        )
    sqlite_tail = [
        (full, bare)
        for backend, full, bare in compared
        if backend == "sqlite" and bare.max_ms > max(2 * full.max_ms, 5 * TARGET_P99_MS)
    ]
    for full, bare in sqlite_tail:
        sentences.append(
            f"On SQLite the bare insert's tail (p50 {bare.percentile(0.5):.0f} ms, max "
            f"{bare.max_ms:.0f} ms) is the signature of writers backing off on the file lock, "
            f"while the service's queued writer keeps its worst case at {full.max_ms:.0f} ms."
        )
    return " ".join(sentences[:4])


def machine_facts() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        if found:
            model = found.group(1).strip()
    return (
        f"{os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {model}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def command_line(module: str = "bench.submission") -> str:
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(Path.cwd())
    return shlex.join([str(python), "-m", module, *sys.argv[1:]])


def section(
    results: list[Result],
    args: argparse.Namespace,
    postgres_version: str | None,
    breakdowns: Sequence["Breakdown"] = (),
) -> str:
    facts = machine_facts() + (f", PostgreSQL {postgres_version}" if postgres_version else "")
    notes = [f"- {r.backend} / {r.endpoint}: {n}" for r in results for n in r.notes]
    cpu = [
        f"{r.backend} {r.endpoint} {r.server_cpu_ms_per_request:.1f} ms "
        f"({r.server_cpu_share:.0%} of a core)"
        for r in results
        if r.server_cpu_ms_per_request is not None and r.server_cpu_share is not None
    ]
    if cpu:
        notes.append("- Server process CPU per request (from `/proc`): " + "; ".join(cpu) + ".")
    for b in breakdowns:
        statements = ", ".join(f"{label} {n:g}×" for label, n in b.by_statement.most_common())
        notes.append(
            f"- Where a submission's time goes ({b.backend}, in process, "
            f"{b.submissions} submissions, `bench/submission_breakdown.py`): "
            f"{b.wall_ms:.2f} ms = {b.statements:.0f} statements {b.statements_ms:.2f} ms "
            f"({statements}) + Python {b.python_ms:.2f} ms (ORM, driver, event loop, the "
            f"service's own work); process CPU {b.cpu_ms:.2f} ms."
        )
    errors = [
        f"- {r.backend} / {r.endpoint} errors: "
        + ", ".join(f"{k} × {v}" for k, v in r.errors.most_common())
        for r in results
        if r.errors
    ]
    parts = [
        SECTION_TITLE,
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {facts}.",
        "",
        f"Command (from the project root): `{command_line()}`",
        "",
        f"{args.clients} concurrent HTTP clients (httpx, keep-alive, one connection each, "
        f"one warm-up request each, not counted) post back to back for {args.seconds:g} s. "
        "*Full submission*: `POST /api/v1/requests` on the real service (`ess-router serve`, "
        "uvicorn with its access log, bearer token, validation, dispatch among "
        f"{args.specialists} specialists, history events; `ESS_SLA__CALENDAR=24/7` so that "
        "every submission is assigned whatever the hour) on a fresh, migrated database. "
        "*Bare insert*: `bench/bare_app.py`, one Litestar endpoint inserting one SQLModel row "
        "through a default SQLAlchemy async engine (WAL and `synchronous=NORMAL` on SQLite, as "
        "the service, but SQLAlchemy's stock aiosqlite adapter, not the service's one-trip "
        "`models/storage/sqlite_driver.py`), on a fresh database of the same kind. Latency is "
        "measured by the client "
        "(`time.perf_counter` around each request); only 201 answers count as successes. The "
        "load generator and the server share the machine's cores.",
        "",
        markdown_table(results),
        "",
        *(notes + errors + ([""] if notes or errors else [])),
        reading(results),
        "",
    ]
    return "\n".join(parts)


def write_doc(text: str, title: str = SECTION_TITLE) -> None:
    """Replace one section of docs/benchmarks.md (or add it), leaving the others alone."""
    current = DOC_PATH.read_text() if DOC_PATH.exists() else ""
    if not current.strip():
        current = DOC_INTRO
    pattern = re.compile(rf"^{re.escape(title)}\s*$.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text.rstrip() + "\n\n", current, count=1)
    else:
        updated = current.rstrip() + "\n\n" + text
    DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOC_PATH.write_text(updated.rstrip() + "\n")
    print(f"\nwrote the section {title!r} of {DOC_PATH.relative_to(ROOT)}")


# --- main --------------------------------------------------------------------------------


def backend_list(text: str) -> list[str]:
    """Read ``--backends``: comma-separated, each ``sqlite`` or ``postgres``."""
    backends = [b.strip() for b in text.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgres"}
    if unknown or not backends:
        raise argparse.ArgumentTypeError(
            f"unknown backend(s): {', '.join(sorted(unknown)) or '(none)'}"
        )
    return backends


def bench_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The command line of ``python -m <module>``, described by its docstring's first paragraph."""
    return argparse.ArgumentParser(
        prog=f"python -m {module}", description=(doc or "").split("\n\n")[0]
    )


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """``--backends`` and ``--write-doc``, which every benchmark takes."""
    parser.add_argument(
        "--backends",
        type=backend_list,
        default="sqlite,postgres",
        help="comma-separated: sqlite,postgres",
    )
    parser.add_argument(
        "--write-doc", action="store_true", help=f"record the results in {DOC_PATH.name}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser("bench.submission", __doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="load per target (30)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument(
        "--specialists",
        type=int,
        default=10,
        help=f"specialists of capacity {SPECIALIST_CAPACITY} to dispatch among (10)",
    )
    add_common_options(parser)
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.clients < 1 or args.specialists < 1:
        parser.error("--seconds, --clients and --specialists must be positive")
    return args


def run(args: argparse.Namespace) -> tuple[list[Result], list["Breakdown"]]:
    from bench.submission_breakdown import Breakdown
    from bench.submission_breakdown import run as run_breakdown

    results: list[Result] = []
    breakdowns: list[Breakdown] = []
    with tempfile.TemporaryDirectory(prefix="ess-bench-") as tmp:
        workdir = Path(tmp)
        for backend in args.backends:
            try:
                for bench in (bench_submission, bench_bare):
                    result = bench(backend, args, workdir)
                    results.append(result)
                    print(
                        f"{backend:<8} {result.endpoint:<16} {result.requests:>6} requests, "
                        f"{result.error_count} errors, {result.throughput:.1f} req/s, "
                        f"p99 {result.percentile(0.99):.1f} ms"
                        + (
                            f", server CPU {result.server_cpu_ms_per_request:.2f} ms/request"
                            if result.server_cpu_ms_per_request is not None
                            else ""
                        ),
                        flush=True,
                    )
                breakdowns.append(
                    run_breakdown(backend, BREAKDOWN_DB, workdir, SUBMISSION_BODY, BREAKDOWN_COUNT)
                )
                print(breakdowns[-1].summary(), flush=True)
            finally:
                if backend == "postgres":
                    for name in (SUBMISSION_DB, BARE_DB, BREAKDOWN_DB):
                        with contextlib.suppress(OSError, asyncpg.PostgresError):
                            drop_postgres(name)
    return results, breakdowns


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"{args.clients} clients × {args.seconds:g} s per target on {', '.join(args.backends)}",
        flush=True,
    )
    try:
        postgres_version = asyncio.run(_postgres_version()) if "postgres" in args.backends else None
        results, breakdowns = run(args)
    except (BenchError, OSError, asyncpg.PostgresError) as exc:
        print(f"bench.submission: {exc}", file=sys.stderr)
        return 1
    print()
    print(text_table(results))
    for result in results:
        for note in result.notes:
            print(f"note: {result.backend} / {result.endpoint}: {note}")
        if result.errors:
            print(f"errors: {result.backend} / {result.endpoint}: {dict(result.errors)}")
    print()
    print(reading(results))
    if args.write_doc:
        write_doc(section(results, args, postgres_version, breakdowns))
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
