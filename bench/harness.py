"""What every benchmark shares: scratch databases, the service's processes (seeded through its
API), the command line, timing statistics, query plans and statement timing, and the writing
of tables into ``docs/benchmarks.md``. The rows, their bulk loading and the in-process
seeding are in ``bench.dataset``.

A benchmark is ``python -m bench.<name>``: it declares its options and measures, and
returns a ``Report`` (tables and a few lines of data); ``main`` prints it and, with
``--write-doc``, replaces that benchmark's block in ``docs/benchmarks.md``, between its
``<!-- bench.<name>: begin -->`` and ``<!-- bench.<name>: end -->`` markers. The prose
around the blocks is written by hand and never touched.

PostgreSQL is reached through ``BENCH_POSTGRES_URL`` (an admin connection, default
``postgresql://postgres@127.0.0.1:5432/test``); the scratch databases a run creates are
dropped at its end.
"""

import argparse
import asyncio
import contextlib
import inspect
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
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ClauseElement, Executable

from app.context import AppContext
from config import FrozenClock, Settings
from migrations import upgrade_database
from models.storage import Database

ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = ROOT / "docs" / "benchmarks.md"
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SECRET_KEY = "bench-secret-key-" + "k" * 48
PARIS = ZoneInfo("Europe/Paris")
# The benchmarks' "now": a Tuesday, 10:30 in Paris, when the business calendar is open.
NOW = datetime(2026, 3, 3, 10, 30, tzinfo=PARIS).astimezone(UTC)
STARTUP_TIMEOUT_S = 60.0

PASSWORD = "Mesure-de-charge-2026"  # passes the password policy
COORDINATOR_EMAIL = "coordination@ess-bench.fr"
REQUESTER_EMAIL = "demandeur@ess-bench.fr"
SPECIALTY, SUBSPECIALTY = "cardiologie", "rythmologie"
SUBMISSION_BODY: dict[str, object] = {
    "specialty": SPECIALTY,
    "subspecialty": SUBSPECIALTY,
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


class BenchError(Exception):
    """The run cannot go on (one line for the operator)."""


# --- statistics and tables -----------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def ms(value: float) -> str:
    """Milliseconds with the precision that matters at that magnitude."""
    if math.isnan(value):
        return "–"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def spaced(number: int) -> str:
    return f"{number:,}".replace(",", " ")


async def sample_ms(
    call: Callable[[], Awaitable[Any]], repeat: int, warmup: int = 0
) -> list[float]:
    """Milliseconds of each of ``repeat`` awaited ``call()``, after ``warmup`` untimed ones."""
    samples = []
    for index in range(warmup + repeat):
        started = time.perf_counter()
        await call()
        if index >= warmup:
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def timed_calls(target: Any, name: str, totals: dict[str, float]) -> None:
    """Wrap the method ``target.name`` (sync or async) to add its wall time to ``totals[name]``.

    An instance attribute shadows the method: the service's code stays untouched.
    """
    original = getattr(target, name)
    totals.setdefault(name, 0.0)

    @contextlib.contextmanager
    def clock() -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            totals[name] += time.perf_counter() - started

    async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
        with clock():
            return await original(*args, **kwargs)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with clock():
            return original(*args, **kwargs)

    setattr(target, name, wrapped_async if inspect.iscoroutinefunction(original) else wrapped)


@dataclass
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    left: int = 1  # columns aligned left; the others are figures, aligned right

    def markdown(self) -> str:
        align = ["---" if i < self.left else "--:" for i in range(len(self.header))]
        lines = ["| " + " | ".join(self.header) + " |", "|" + "|".join(align) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in self.rows])

    def text(self) -> str:
        widths = [max([len(h), *(len(r[i]) for r in self.rows)]) for i, h in enumerate(self.header)]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(
                c.ljust(w) if i < self.left else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        return "\n".join(
            [line(self.header), line(["-" * w for w in widths]), *map(line, self.rows)]
        )


@dataclass
class Report:
    """What a benchmark measured: its tables, lines of data under them, and whether every
    check held (the exit status)."""

    tables: list[Table]
    notes: list[str] = field(default_factory=list)
    ok: bool = True


# --- databases -----------------------------------------------------------------------------

_created: set[str] = set()  # PostgreSQL databases of this run, dropped at its end


def postgres_url(database: str, *, driver: str = "postgresql+asyncpg") -> str:
    base = POSTGRES_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
    return f"{driver}://{base}/{database}"


async def _postgres_admin(*statements: str, query: str = "SELECT 1") -> Any:
    """Run ``statements`` on the admin connection; the value of ``query`` after them."""
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=10)
    try:
        for statement in statements:
            await connection.execute(statement)
        return await connection.fetchval(query)
    finally:
        await connection.close()


def sqlite_files(workdir: Path, name: str) -> list[Path]:
    return [workdir / f"{name}.db{suffix}" for suffix in ("", "-wal", "-shm")]


async def fresh_database(backend: str, name: str, workdir: Path, *, keep: bool = False) -> str:
    """An empty database: a SQLite file in ``workdir`` or the PostgreSQL database ``name``
    (dropped at the end of the run unless ``keep``)."""
    if backend == "sqlite":
        for path in sqlite_files(workdir, name):
            path.unlink(missing_ok=True)
        return f"sqlite+aiosqlite:///{workdir / name}.db"
    if not keep:
        _created.add(name)
    await _postgres_admin(
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )
    return postgres_url(name)


async def migrated_database(backend: str, name: str, workdir: Path, *, keep: bool = False) -> str:
    """A fresh database migrated to the service's schema."""
    url = await fresh_database(backend, name, workdir, keep=keep)
    await upgrade_database(url)
    return url


async def drop_database(backend: str, name: str, workdir: Path) -> None:
    """Remove a scratch database; one left behind is dropped by the next run that needs it."""
    if backend == "sqlite":
        for path in sqlite_files(workdir, name):
            path.unlink(missing_ok=True)
        return
    with contextlib.suppress(OSError, asyncpg.PostgresError):
        await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _created.discard(name)


async def after_load(url: str, *, checkpoint: bool = False) -> None:
    """After a bulk load: PostgreSQL's planner statistics (``VACUUM ANALYZE``); with
    ``checkpoint``, the load written out so the timed phase does not pay for it
    (``CHECKPOINT``; SQLite: an empty WAL)."""
    postgres = url.startswith("postgresql")
    statements = ["VACUUM ANALYZE"] if postgres else []
    if checkpoint:
        statements.append("CHECKPOINT" if postgres else "PRAGMA wal_checkpoint(TRUNCATE)")
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


def bench_context(url: str, now: datetime = NOW) -> AppContext:
    """The service's context on ``url`` with the default settings and a clock frozen at ``now``."""
    settings = Settings(database_url=url, secret_key=SECRET_KEY)
    return AppContext(settings=settings, db=Database(url), clock=FrozenClock(now))


def seeded_uuid(rng: Any) -> uuid.UUID:
    """A version-4 UUID drawn from ``rng`` (``random.Random``), so a seeded run is repeatable."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)


# --- query plans and where the time goes ---------------------------------------------------


class Explain(Executable, ClauseElement):
    """``EXPLAIN`` of a statement, compiled by the dialect with the statement's own bound
    parameters (SQLite: ``EXPLAIN QUERY PLAN``; PostgreSQL: ``ANALYZE, BUFFERS``)."""

    inherit_cache = False

    def __init__(self, statement: Executable) -> None:
        self.statement = statement


def _inner(element: Explain, compiler: Any, **kw: Any) -> str:
    sql = compiler.process(element.statement, **kw)
    compiler._result_columns = []  # the rows are the plan, not the statement's columns
    return str(sql)


@compiles(Explain, "sqlite")
def _explain_sqlite(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN QUERY PLAN " + _inner(element, compiler, **kw)


@compiles(Explain, "postgresql")
def _explain_postgres(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + _inner(element, compiler, **kw)


async def explain(
    session: AsyncSession, statement: Executable, params: dict[str, Any] | None = None
) -> list[str]:
    """The plan of ``statement`` as text lines (PostgreSQL: executed, with actual times)."""
    rows = (await session.execute(Explain(statement), params or {})).all()
    if session.bind.dialect.name != "sqlite":
        return [str(row[0]) for row in rows]
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + str(detail))
    return lines


class StatementTimer:
    """Where a run's time goes, from SQLAlchemy's events: each statement's execution, by
    kind, and COMMIT (from the end of the commit's flush to the end of the database's)."""

    def __init__(self, engine: Any) -> None:
        self.seconds: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.commit_s = 0.0
        self._started = self._commit_from = 0.0
        self._hooks = [
            (engine, "before_cursor_execute", self._before),
            (engine, "after_cursor_execute", self._after),
            (Session, "before_commit", self._commit_start),
            (Session, "after_flush_postexec", self._commit_start),
            (Session, "after_commit", self._commit_end),
        ]

    def __enter__(self) -> "StatementTimer":
        for target, name, hook in self._hooks:
            event.listen(target, name, hook)
        return self

    def __exit__(self, *exc: object) -> None:
        for target, name, hook in self._hooks:
            event.remove(target, name, hook)

    @staticmethod
    def kind(statement: str) -> str:
        words = statement.split() or ["?"]
        if "pg_advisory" in statement:
            return "advisory lock"
        if words[0] == "SELECT" and "FROM" in words:
            return f"SELECT {words[words.index('FROM') + 1]}"
        if words[0] in ("INSERT", "DELETE") and len(words) > 2:
            return f"{words[0]} {words[2]}"
        return " ".join(words[:2])

    def _before(self, *_args: Any) -> None:
        self._started = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seconds[self.kind(statement)] += time.perf_counter() - self._started
        self.counts[self.kind(statement)] += 1

    def _commit_start(self, *_args: Any) -> None:
        self._commit_from = time.perf_counter()

    def _commit_end(self, *_args: Any) -> None:
        self.commit_s += time.perf_counter() - self._commit_from

    def summary(self, runs: int, total_s: float) -> str:
        """Milliseconds per run: statements by kind, COMMIT, and the rest (Python)."""
        per = 1000 / max(1, runs)
        statements = sum(self.seconds.values())
        kinds = ", ".join(
            f"{kind} {self.counts[kind] / runs:g}× {seconds * per:.2f}"
            for kind, seconds in self.seconds.most_common()
        )
        return (
            f"{total_s * per:.2f} ms = {sum(self.counts.values()) / runs:g} statements "
            f"{statements * per:.2f} ({kinds}) + COMMIT {self.commit_s * per:.2f} + Python "
            f"(ORM, driver, pool, event loop) {(total_s - statements - self.commit_s) * per:.2f}"
        )


# --- processes -----------------------------------------------------------------------------


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
    done = subprocess.run(
        [venv_tool("ess-router"), *args], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"ess-router {shlex.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status_kib(field_name: str, pid: int | str = "self") -> int:
    """A ``VmRSS``/``VmHWM``-like field of ``/proc/<pid>/status``, in KiB (0 if absent)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


@contextlib.contextmanager
def served(
    command: list[str], env: dict[str, str], cwd: Path, log_path: Path, probe_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process, wait until it answers HTTP, and always stop it afterwards."""

    def failure(reason: str) -> BenchError:
        tail = log_path.read_text(errors="replace").splitlines()[-20:]
        return BenchError("\n".join([f"{reason} ({log_path}):", *tail]))

    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while True:  # any HTTP answer: uvicorn binds after the application's startup
                if process.poll() is not None:
                    raise failure(f"server exited with {process.returncode}")
                if time.monotonic() > deadline:
                    raise failure(f"server not up after {STARTUP_TIMEOUT_S:.0f} s")
                try:
                    httpx.get(probe_url, timeout=2.0)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


@dataclass
class Service:
    base_url: str
    pid: int
    coordinator: str  # bearer tokens
    requester: str
    env: dict[str, str] = field(default_factory=dict)  # to run more CLI commands (tokens)
    workdir: Path = Path()

    def token(self, email: str) -> str:
        """A bearer token (also accepted as the ``ess_session`` cookie) for ``email``."""
        return run_cli(["token", email], self.env, self.workdir)


def _created_through(response: httpx.Response) -> None:
    if response.status_code != 201:
        raise BenchError(
            f"{response.request.url.path} got {response.status_code}: {response.text[:300]}"
        )


@contextlib.contextmanager
def service(
    backend: str,
    name: str,
    workdir: Path,
    *,
    specialists: int,
    capacity: int,
    requesters: int = 1,
    workers: int = 1,
) -> Iterator[Service]:
    """``ess-router serve [--workers N]`` on a fresh database, its ESS created through the CLI
    and the API: one specialty, ``specialists`` specialists (``specialisteN@ess-bench.fr``),
    ``requesters`` requesters (the first ``REQUESTER_EMAIL``, then ``demandeurN@ess-bench.fr``)."""
    workdir = workdir / name
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESS_")}
    env.update(
        ESS_DATABASE_URL=asyncio.run(fresh_database(backend, name, workdir)),
        ESS_DATA_DIR=str(workdir),
        ESS_DATA_KEY_FILE=str(workdir / "ess-router.keys"),
        ESS_SECRET_KEY=SECRET_KEY,
        ESS_ENV="dev",
        # Specialists without a schedule are available whenever the calendar is open: a
        # 24/7 calendar dispatches every submission whatever the hour the bench runs at.
        ESS_SLA__CALENDAR="24/7",
    )
    run_cli(["db", "upgrade"], env, workdir)
    run_cli(
        ["user", "create", "--role", "coordinator", "--email", COORDINATOR_EMAIL,
         "--name", "Coordination", "--password", PASSWORD],
        env, workdir,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{free_port()}"
    command = [venv_tool("ess-router"), "serve", "--port", base_url.rsplit(":", 1)[1]]
    command += ["--workers", str(workers)] if workers > 1 else []
    log_path = workdir / f"serve-{backend}.log"
    with served(command, env, workdir, log_path, f"{base_url}/health") as process:
        coordinator = run_cli(["token", COORDINATOR_EMAIL], env, workdir)
        auth = {"Authorization": f"Bearer {coordinator}"}
        with httpx.Client(base_url=base_url, headers=auth, timeout=30) as http:
            specialty = {"code": SPECIALTY, "name": "Cardiologie"}
            specialty["subspecialties"] = [{"code": SUBSPECIALTY, "name": "Rythmologie"}]
            _created_through(http.post("/api/v1/specialties", json=specialty))
            for index in range(specialists):
                user = {
                    "role": "specialist",
                    "email": f"specialiste{index}@ess-bench.fr",
                    "name": f"Dr Spécialiste {index}",
                    "specialty": SPECIALTY,
                    "subspecialties": [SUBSPECIALTY],
                    "capacity": capacity,
                }
                _created_through(http.post("/api/v1/users", json=user))
            for index in range(requesters):
                email = REQUESTER_EMAIL if index == 0 else f"demandeur{index}@ess-bench.fr"
                requester = {"role": "requester", "email": email, "name": f"Dr Demandeur {index}"}
                requester["treating_physician"] = True
                _created_through(http.post("/api/v1/users", json=requester))
        token = run_cli(["token", REQUESTER_EMAIL], env, workdir)
        yield Service(base_url, process.pid, coordinator, token, env, workdir)


# --- the command line and the document -----------------------------------------------------


def int_list(text: str) -> list[int]:
    """Comma-separated positive integers."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"comma-separated positive integers expected: {text!r}")
    return values


def positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"a positive number is expected: {text!r}")
        return value

    return parse


def backend_list(text: str) -> list[str]:
    backends = [b.strip() for b in text.split(",") if b.strip()]
    if not backends or not set(backends) <= {"sqlite", "postgres"}:
        raise argparse.ArgumentTypeError(f"sqlite and/or postgres expected: {text!r}")
    return backends


def machine_facts(postgres_version: str | None) -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        model = found.group(1).strip() if found else model
    facts = (
        f"{os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {model}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    return facts + (f", PostgreSQL {postgres_version}" if postgres_version else "")


def command_line(module: str, argv: Sequence[str]) -> str:
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(Path.cwd())
    return shlex.join([str(python), "-m", module, *argv])


def write_doc(module: str, title: str, block: str) -> None:
    """Replace the benchmark's block in docs/benchmarks.md (a new section if it has none)."""
    begin, end = f"<!-- {module}: begin -->", f"<!-- {module}: end -->"
    block = f"{begin}\n{block.strip()}\n{end}"
    current = DOC_PATH.read_text()
    found = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if found.search(current):
        updated = found.sub(lambda _: block, current, count=1)
    else:
        updated = f"{current.rstrip()}\n\n{title}\n\n{block}\n"
    DOC_PATH.write_text(updated)
    print(f"\nwrote the {module} block of {DOC_PATH.relative_to(ROOT)} ({title})")


def main(
    module: str,
    doc: str | None,
    title: str,
    options: Callable[[argparse.ArgumentParser], None],
    measure: Callable[[argparse.Namespace, Path], Report | Awaitable[Report]],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse the command line, measure in a scratch directory, print the tables and, with
    ``--write-doc``, write them into docs/benchmarks.md. The exit status says if it all held."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}", description=(doc or "").split("\n\n")[0]
    )
    options(parser)
    parser.add_argument(
        "--backends", type=backend_list, default="sqlite,postgres", help="sqlite,postgres"
    )
    parser.add_argument("--write-doc", action="store_true", help=f"record in {DOC_PATH.name}")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    load_before, started = os.getloadavg()[0], datetime.now(UTC)
    try:
        version = None
        if "postgres" in args.backends:
            version = asyncio.run(_postgres_admin(query="SHOW server_version"))
        with tempfile.TemporaryDirectory(prefix="ess-bench-") as tmp:
            try:
                report = measure(args, Path(tmp))
                if inspect.isawaitable(report):
                    report = asyncio.run(report)  # type: ignore[arg-type]
            finally:
                for name in list(_created):
                    asyncio.run(drop_database("postgres", name, Path(tmp)))
    except (
        BenchError,
        OSError,
        ValueError,
        asyncpg.PostgresError,
        SQLAlchemyError,
        httpx.HTTPError,
    ) as exc:
        print(f"{module}: {exc}", file=sys.stderr)
        return 1
    assert isinstance(report, Report)
    print("", *(f"{table.text()}\n" for table in report.tables), *report.notes, sep="\n")
    if args.write_doc:
        parts = [
            f"Run on {started:%Y-%m-%d %H:%M} UTC, {machine_facts(version)}; load average "
            f"{load_before:.2f} when it started, {os.getloadavg()[0]:.2f} when it ended.",
            "Command (from the project root; it regenerates this block): "
            f"`{command_line(module, argv)}`",
            *(table.markdown() for table in report.tables),
            "\n".join(f"- {note}" for note in report.notes),
        ]
        write_doc(module, title, "\n\n".join(part for part in parts if part))
    return 0 if report.ok else 1
