"""Request submission over HTTP against a bare one-row insert, on SQLite and on PostgreSQL.

For each backend: the real service (``ess-router serve``) on a fresh database, seeded
through its CLI and API, and N concurrent clients posting valid submissions for a fixed
time; then the same load against ``bench.bare_app`` (one SQLModel insert per request) on a
fresh database of the same kind; then, in process, where one submission's time goes
(``app.services.requests.submit`` in ``Database.transaction()``, statements timed).

    python -m bench.submission [--seconds 30] [--clients 16] [--specialists 10]
                               [--backends sqlite,postgres] [--write-doc]
"""

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.services.requests import submit
from bench.dataset import seed_in_process
from bench.harness import (
    ROOT,
    SUBMISSION_BODY,
    BenchError,
    Report,
    StatementTimer,
    Table,
    bench_context,
    cpu_seconds,
    free_port,
    fresh_database,
    main,
    migrated_database,
    percentile,
    positive,
    served,
    service,
)
from models import RequestCreate, Status, User
from security.crypto import KeyRing
from security.vault import Vault

TITLE = "## Request submission (issue 2)"
CAPACITY = 1000  # the API's maximum (UserCreate.capacity le=1000)
BREAKDOWN_COUNT = 500
WARMUP = 30
HEADER = ("backend", "endpoint", "requests", "errors", "throughput (req/s)", "p50 ms",
          "p99 ms", "max ms")  # fmt: skip


@dataclass
class Load:
    backend: str
    endpoint: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    server_cpu_s: float = 0.0
    check: str = ""  # what the service stored, when it is not what was answered

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + sum(self.errors.values())

    def row(self) -> tuple[str, ...]:
        p = [percentile(self.latencies_ms, f) for f in (0.5, 0.99, 1.0)]
        rate = len(self.latencies_ms) / self.elapsed_s
        errors = str(sum(self.errors.values()))
        figures = (f"{rate:.1f}", *(f"{v:.1f}" for v in p))
        return (self.backend, self.endpoint, str(self.requests), errors, *figures)

    def cpu(self) -> str:
        per_request = self.server_cpu_s * 1000 / max(1, self.requests)
        share = self.server_cpu_s / self.elapsed_s
        return f"{self.backend} {self.endpoint} {per_request:.1f} ms ({share:.0%} of a core)"


async def generate_load(
    into: Load,
    base_url: str,
    path: str,
    body: object,
    token: str | None,
    args: argparse.Namespace,
    pid: int,
) -> None:
    """``--clients`` keep-alive clients post ``body`` back to back for ``--seconds``, after one
    warm-up request each (not counted); only 201 answers count as successes."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=60)
            )
            for _ in range(args.clients)
        ]
        for response in await asyncio.gather(*(c.post(path, json=body) for c in clients)):
            if response.status_code != 201:
                raise BenchError(f"warm-up got {response.status_code}: {response.text[:300]}")

        async def client(http: httpx.AsyncClient, deadline: float) -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await http.post(path, json=body)
                except httpx.HTTPError as exc:
                    into.errors[type(exc).__name__] += 1
                    continue
                if response.status_code == 201:
                    into.latencies_ms.append((time.perf_counter() - started) * 1000)
                else:
                    into.errors[f"HTTP {response.status_code}"] += 1

        cpu, started = cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(client(c, started + args.seconds) for c in clients))
        into.elapsed_s = time.perf_counter() - started
        into.server_cpu_s = cpu_seconds(pid) - cpu


def full_submission(backend: str, args: argparse.Namespace, workdir: Path) -> Load:
    load = Load(backend, "full submission")
    path = "/api/v1/requests"
    with service(
        backend, "ess_bench_sub", workdir, specialists=args.specialists, capacity=CAPACITY
    ) as ess:
        work = generate_load(
            load, ess.base_url, path, SUBMISSION_BODY, ess.requester, args, ess.pid
        )
        asyncio.run(work)
        auth = {"Authorization": f"Bearer {ess.coordinator}"}
        with httpx.Client(base_url=ess.base_url, headers=auth, timeout=30) as http:
            stored = http.get(path, params={"limit": 1}).json()["total"]
            pending = http.get(path, params={"limit": 1, "status": "pending"}).json()["total"]
    if stored != len(load.latencies_ms) + args.clients or pending:
        load.check = (
            f"{backend}: {stored} requests stored ({pending} pending), "
            f"{len(load.latencies_ms)} + {args.clients} warm-up answered 201"
        )
    return load


def bare_insert(backend: str, args: argparse.Namespace, workdir: Path) -> Load:
    load = Load(backend, "bare insert")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESS_")}
    env["BENCH_DATABASE_URL"] = asyncio.run(fresh_database(backend, "ess_bench_bare", workdir))
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "bench.bare_app:create_app",
               "--app-dir", str(ROOT), "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    with served(command, env, workdir, workdir / f"bare-{backend}.log", base_url) as server:
        body = {"payload": SUBMISSION_BODY["question"]}
        asyncio.run(generate_load(load, base_url, "/bare", body, None, args, server.pid))
    return load


async def breakdown(backend: str, workdir: Path, specialists: int) -> str:
    """Where one submission's time goes, in process: statements, COMMIT and Python."""
    url = await migrated_database(backend, "ess_bench_sub_inproc", workdir)
    requester_id = await seed_in_process(url, specialists, capacity=10**6)
    context = bench_context(url)
    try:
        async with context.db.reading() as session:
            requester = await session.get(User, requester_id)
        data, vault = RequestCreate.model_validate(SUBMISSION_BODY), Vault(KeyRing.generate())

        async def submit_one() -> None:
            async with context.db.transaction() as session:
                now, policy = context.clock.now(), context.policy
                request = await submit(
                    session, requester, data, now=now, policy=policy, vault=vault
                )
            if request.status != Status.ASSIGNED:
                raise BenchError(f"a submission was left {request.status}, not assigned")

        for _ in range(WARMUP):
            await submit_one()
        with StatementTimer(context.db.write_engine.sync_engine) as timer:
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(BREAKDOWN_COUNT):
                await submit_one()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await context.db.dispose()
    return (
        f"Where a submission's time goes ({backend}, in process, {BREAKDOWN_COUNT} "
        f"submissions): {timer.summary(BREAKDOWN_COUNT, wall)}; process CPU "
        f"{cpu * 1000 / BREAKDOWN_COUNT:.2f} ms."
    )


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=positive(float), default=30.0, help="per target (30)")
    parser.add_argument("--clients", type=positive(int), default=16, help="clients (16)")
    parser.add_argument("--specialists", type=positive(int), default=10, help="to dispatch (10)")


def measure(args: argparse.Namespace, workdir: Path) -> Report:
    loads: list[Load] = []
    breakdowns = []
    for backend in args.backends:
        for target in (full_submission, bare_insert):
            loads.append(target(backend, args, workdir))
            print(" ".join(loads[-1].row()), flush=True)
        breakdowns.append(asyncio.run(breakdown(backend, workdir, args.specialists)))
        print(breakdowns[-1], flush=True)
    cpu = "; ".join(load.cpu() for load in loads)
    notes = [f"Server process CPU per request (from `/proc`): {cpu}.", *breakdowns]
    notes += [f"{x.backend} / {x.endpoint} errors: {dict(x.errors)}" for x in loads if x.errors]
    notes += [x.check for x in loads if x.check]
    ok = not any(x.errors or x.check for x in loads)
    return Report([Table(HEADER, [x.row() for x in loads], left=2)], notes, ok)


if __name__ == "__main__":
    sys.exit(main("bench.submission", __doc__, TITLE, options, measure))
