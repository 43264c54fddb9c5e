"""The specialist's idle poll: ``GET /demandes/file`` when nothing changed (issue 16).

For each backend: the real service on a fresh database with ``--specialists``
specialists holding two open requests each; each specialist's session asks its queue
page once for the digest, then polls ``/demandes/file?empreinte=…`` every
``--interval`` seconds (``ESS_QUEUE_POLL``, 20 s by default: 5 polls a second for 100
specialists; a shorter interval for a heavier load) for ``--seconds``. Every answer
must be 204. Times are measured by the clients on the same machine.

    python -m bench.queue_poll [--seconds 20] [--specialists 100]
                               [--interval 20] [--backends sqlite,postgres] [--write-doc]
"""

import argparse
import asyncio
import random
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from litestar.security.jwt import Token

from bench.harness import (
    SECRET_KEY,
    SUBMISSION_BODY,
    BenchError,
    Report,
    Table,
    main,
    percentile,
    positive,
    service,
)

TITLE = "## Specialist's idle poll (issue 16)"
HEADER = ("backend", "specialists", "polls", "errors", "polls/s", "p50 ms", "p99 ms", "max ms")


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=positive(float), default=60.0)
    parser.add_argument("--specialists", type=positive(int), default=100)
    parser.add_argument("--interval", type=positive(float), default=20.0)


def session_token(user_id: str) -> str:
    """A session cookie's token for ``user_id``, as the login would sign it."""
    return Token(
        exp=datetime.now(UTC) + timedelta(hours=1),
        sub=user_id,
        extras={"cv": 0},
    ).encode(SECRET_KEY, "HS256")


async def _prepare(base_url: str, coordinator: str, requester: str, count: int) -> list[str]:
    """Two requests per specialist; each specialist's session token."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        gp = {"Authorization": f"Bearer {requester}"}
        for start in range(0, 2 * count, 16):
            responses = await asyncio.gather(
                *(
                    http.post("/api/v1/requests", json=SUBMISSION_BODY, headers=gp)
                    for _ in range(min(16, 2 * count - start))
                )
            )
            for response in responses:
                if response.status_code != 201:
                    raise BenchError(f"submission got {response.status_code}")
        users = await http.get(
            "/api/v1/users?role=specialist", headers={"Authorization": f"Bearer {coordinator}"}
        )
        items = users.json()
        items = items["items"] if isinstance(items, dict) else items
        return [session_token(user["id"]) for user in items]


async def _load(
    base_url: str, tokens: list[str], seconds: float, interval: float
) -> tuple[list[float], int]:
    times: list[float] = []
    errors = 0
    seen: set[int] = set()
    rng = random.Random(16)
    stop = time.monotonic() + seconds

    async def specialist(token: str) -> None:
        nonlocal errors
        async with httpx.AsyncClient(
            base_url=base_url,
            cookies={"ess_session": token},
            timeout=30,
            # A fresh connection per poll: uvicorn drops a connection idle for 5 s.
            limits=httpx.Limits(max_keepalive_connections=0),
        ) as http:
            page = await http.get("/demandes")
            found = re.search(r"empreinte=([0-9a-f]+)", page.text)
            if page.status_code != 200 or found is None:
                raise BenchError(f"queue page got {page.status_code}")
            path = f"/demandes/file?empreinte={found.group(1)}&onglet=en-cours"
            headers = {"HX-Request": "true"}
            await asyncio.sleep(rng.uniform(0, interval))  # queues opened at any moment
            while time.monotonic() < stop:
                began = time.perf_counter()
                response = await http.get(path, headers=headers)
                elapsed = (time.perf_counter() - began) * 1000
                if response.status_code != 204:
                    errors += 1
                    seen.add(response.status_code)
                    continue
                times.append(elapsed)
                await asyncio.sleep(max(0.0, interval - elapsed / 1000))

    await asyncio.gather(*(specialist(t) for t in tokens))
    if seen:
        print(f"unexpected statuses: {sorted(seen)}")
    return times, errors


def measure(args: argparse.Namespace, workdir: Path) -> Report:
    rows: list[list[str]] = []
    ok = True
    for backend in args.backends:
        name = f"queue_poll_{backend}"
        with service(backend, name, workdir, specialists=args.specialists, capacity=5) as ess:
            tokens = asyncio.run(
                _prepare(ess.base_url, ess.coordinator, ess.requester, args.specialists)
            )
            asyncio.run(_load(ess.base_url, tokens[:4], 2.0, 0.1))  # warm-up
            times, errors = asyncio.run(_load(ess.base_url, tokens, args.seconds, args.interval))
        if not times:
            raise BenchError(f"{backend}: no idle poll answered 204")
        ok = ok and errors == 0
        rows.append(
            [
                backend,
                str(len(tokens)),
                str(len(times) + errors),
                str(errors),
                f"{len(times) / args.seconds:.0f}",
                f"{percentile(times, 0.5):.1f}",
                f"{percentile(times, 0.99):.1f}",
                f"{max(times):.1f}",
            ]
        )
    notes = [
        f"{args.specialists} specialists, each with two open requests, polling every "
        f"{args.interval:g} s (their queues opened at random moments) for "
        f"{args.seconds:.0f} s per backend; every answer 204 (nothing new). Server work "
        "per idle poll: the session's user (primary key) and the "
        "queue's digest (one statement on the assignee/status index and the events' and "
        "messages' request indexes)."
    ]
    return Report([Table(HEADER, rows, left=1)], notes, ok)


if __name__ == "__main__":
    raise SystemExit(main("bench.queue_poll", __doc__, TITLE, options, measure))
