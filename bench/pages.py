"""The web pages under load: the requests list and a request's page, on SQLite and PostgreSQL.

For each backend: the real service (``ess-router serve``) on a fresh database with one
requester holding ``--requests`` requests (submitted through the API), then
``--clients`` concurrent users alternating ``GET /demandes`` (the newest 20 of them) and
``GET /demandes/{id}`` (a random one of them: question, patient, history, messages and
attachments decrypted, the read noted in the audit trail) for ``--seconds``. Times are
measured by the clients on the same machine (server time plus the local HTTP round trip).

    python -m bench.pages [--seconds 20] [--clients 16] [--requests 1000]
                          [--backends sqlite,postgres] [--write-doc]
"""

import argparse
import asyncio
import random
import time
from pathlib import Path

import httpx

from bench.harness import (
    SUBMISSION_BODY,
    BenchError,
    Report,
    Table,
    main,
    percentile,
    positive,
    service,
)

TITLE = "## Web pages (issue 15)"
TARGET_P99_MS = 50.0
HEADER = ("backend", "page", "requests", "errors", "p50 ms", "p99 ms", "max ms")


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=positive(float), default=20.0)
    parser.add_argument("--clients", type=positive(int), default=16)
    parser.add_argument("--requests", type=positive(int), default=1000)


async def _fill(base_url: str, token: str, count: int) -> list[str]:
    """Submit ``count`` requests as the requester, 16 at a time; their ids."""
    ids: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:

        async def one() -> None:
            response = await http.post("/api/v1/requests", json=SUBMISSION_BODY)
            if response.status_code != 201:
                raise BenchError(f"submission got {response.status_code}: {response.text[:200]}")
            ids.append(response.json()["id"])

        for start in range(0, count, 16):
            await asyncio.gather(*(one() for _ in range(min(16, count - start))))
    return ids


async def _load(
    base_url: str, token: str, ids: list[str], clients: int, seconds: float
) -> dict[str, tuple[list[float], int]]:
    """Each client alternates the list and a request's page until time is up."""
    times: dict[str, list[float]] = {"/demandes": [], "/demandes/{id}": []}
    errors = {"/demandes": 0, "/demandes/{id}": 0}
    stop = time.monotonic() + seconds
    rng = random.Random(15)

    async def client() -> None:
        cookies = {"ess_session": token}
        async with httpx.AsyncClient(base_url=base_url, cookies=cookies, timeout=30) as http:
            turn = 0
            while time.monotonic() < stop:
                name = "/demandes" if turn % 2 == 0 else "/demandes/{id}"
                path = "/demandes" if turn % 2 == 0 else f"/demandes/{rng.choice(ids)}"
                turn += 1
                began = time.perf_counter()
                response = await http.get(path)
                elapsed = (time.perf_counter() - began) * 1000
                if response.status_code != 200:
                    errors[name] += 1
                    continue
                times[name].append(elapsed)

    await asyncio.gather(*(client() for _ in range(clients)))
    return {name: (times[name], errors[name]) for name in times}


def measure(args: argparse.Namespace, workdir: Path) -> Report:
    rows: list[list[str]] = []
    ok = True
    notes = []
    for backend in args.backends:
        with service(backend, f"pages_{backend}", workdir, specialists=10, capacity=1000) as ess:
            ids = asyncio.run(_fill(ess.base_url, ess.requester, args.requests))
            asyncio.run(_load(ess.base_url, ess.requester, ids, args.clients, 2.0))  # warm-up
            results = asyncio.run(
                _load(ess.base_url, ess.requester, ids, args.clients, args.seconds)
            )
        for name, (times, errors) in results.items():
            if not times:
                raise BenchError(f"{backend} {name}: no successful request")
            p99 = percentile(times, 0.99)
            ok = ok and errors == 0 and p99 < TARGET_P99_MS
            rows.append(
                [
                    backend,
                    f"`GET {name}`",
                    str(len(times) + errors),
                    str(errors),
                    f"{percentile(times, 0.5):.1f}",
                    f"{p99:.1f}",
                    f"{max(times):.1f}",
                ]
            )
    notes.append(
        f"{args.clients} concurrent users, {args.requests} requests in the list's scope (one "
        f"requester's), {args.seconds:.0f} s per backend after a 2 s warm-up; target p99 under "
        f"{TARGET_P99_MS:.0f} ms."
    )
    return Report([Table(HEADER, rows, left=2)], notes, ok)


if __name__ == "__main__":
    raise SystemExit(main("bench.pages", __doc__, TITLE, options, measure))
