"""An ESS's day compressed: GPs, specialists and the coordinator at once, on SQLite and on
PostgreSQL (one and two worker processes).

For each configuration: the real service (``ess-router serve [--workers N]``, its SLA tick
and outbox running inside) on a fresh database seeded through its CLI and API (one
specialty, the specialists and GPs below), each GP holding a few requests already. Then
``--users`` concurrent users for ``--seconds``, after a short warm-up, each with a short
think time between actions:

- GPs (most users): submit a request through the API now and then, otherwise read their
  list (``GET /demandes``) or one of their requests (``GET /demandes/{id}``);
- specialists (``--specialists``): poll their queue as the page does
  (``GET /demandes/file?empreinte=…``: 204 when unchanged), and regularly take the oldest
  request assigned to them through the API (list, accept, answer);
- the coordinator (one user): refresh the dashboard (``GET /coordination``).

Pages are reached with the account's token as the ``ess_session`` cookie. Times are measured
by the clients on the same machine (server time plus the local HTTP round trip).

    python -m bench.mixed_load [--seconds 40] [--users 16] [--specialists 5]
                               [--workers 1,2] [--backends sqlite,postgres] [--write-doc]
"""

import argparse
import asyncio
import random
import re
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    SUBMISSION_BODY,
    BenchError,
    Report,
    Table,
    int_list,
    main,
    ms,
    percentile,
    positive,
    service,
)

TITLE = "## Mixed load (issue 18)"
TARGET_P99_MS = 100.0
SEED_PER_GP = 5
WARMUP_S = 3.0
HEADER = ("configuration", "page or endpoint", "requests", "errors", "p50 ms", "p99 ms",
          "max ms")  # fmt: skip
ANSWER = {"answer": "Holter ECG de 24 h puis avis rythmologique si FA confirmée.",
          "outcome": "advice"}  # fmt: skip
DIGEST = re.compile(r"empreinte=([^&\"']+)")

Timings = dict[str, list[float]]
Errors = dict[str, int]


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=positive(float), default=40.0, help="per config (40)")
    parser.add_argument("--users", type=positive(int), default=16, help="concurrent users (16)")
    parser.add_argument("--specialists", type=positive(int), default=5, help="of the users (5)")
    parser.add_argument(
        "--workers", type=int_list, default="1,2", help="PostgreSQL worker counts (1,2)"
    )
    parser.add_argument("--think", type=positive(float), default=0.2, help="mean think s (0.2)")


class Day:
    """The users' loops against one running service, recording each call's time by name."""

    def __init__(self, base_url: str, think_s: float, seed: int) -> None:
        self.base_url, self.think_s = base_url, think_s
        self.rng = random.Random(seed)
        self.times: Timings = {}
        self.errors: Errors = {}
        self.recording = False
        self.stop = 0.0

    async def call(
        self, name: str, send: Awaitable[httpx.Response], ok: tuple[int, ...]
    ) -> httpx.Response | None:
        began = time.perf_counter()
        try:
            response = await send  # a coroutine: it starts here
        except httpx.HTTPError:
            response = None
        elapsed = (time.perf_counter() - began) * 1000
        good = response is not None and response.status_code in ok
        if self.recording:
            if good:
                self.times.setdefault(name, []).append(elapsed)
            else:
                self.errors[name] = self.errors.get(name, 0) + 1
                self.times.setdefault(name, [])
        return response if good else None

    async def pause(self) -> None:
        await asyncio.sleep(self.rng.expovariate(1 / self.think_s))

    def client(self, token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            cookies={"ess_session": token},
            timeout=30,
        )

    async def gp(self, token: str, ids: list[str]) -> None:
        async with self.client(token) as http:
            while time.monotonic() < self.stop:
                roll = self.rng.random()
                if roll < 0.2:
                    answer = await self.call(
                        "POST /api/v1/requests",
                        http.post("/api/v1/requests", json=SUBMISSION_BODY),
                        (201,),
                    )
                    if answer is not None:
                        ids.append(answer.json()["id"])
                elif roll < 0.6:
                    await self.call("GET /demandes", http.get("/demandes"), (200,))
                else:
                    path = f"/demandes/{self.rng.choice(ids)}"
                    await self.call("GET /demandes/{id}", http.get(path), (200,))
                await self.pause()

    async def specialist(self, token: str) -> None:
        digest = ""
        async with self.client(token) as http:
            turn = 0
            while time.monotonic() < self.stop:
                turn += 1
                url = f"/demandes/file?empreinte={digest}&onglet=" if digest else "/demandes/file"
                polled = await self.call("GET /demandes/file (poll)", http.get(url), (200, 204))
                if polled is not None and polled.status_code == 200:
                    found = DIGEST.search(polled.text)
                    digest = found.group(1) if found else ""
                if turn % 3 == 0:
                    await self.work_one(http)
                await self.pause()

    async def work_one(self, http: httpx.AsyncClient) -> None:
        listed = await self.call(
            "GET /api/v1/requests?status=assigned",
            http.get("/api/v1/requests", params={"status": "assigned", "limit": 5}),
            (200,),
        )
        items = listed.json().get("items", []) if listed is not None else []
        if not items:
            return
        path = f"/api/v1/requests/{items[-1]['id']}"
        if await self.call(
            "POST /api/v1/requests/{id}/accept", http.post(f"{path}/accept"), (200,)
        ):
            await self.call(
                "POST /api/v1/requests/{id}/answer",
                http.post(f"{path}/answer", json=ANSWER),
                (200,),
            )

    async def coordinator(self, token: str) -> None:
        async with self.client(token) as http:
            while time.monotonic() < self.stop:
                await self.call("GET /coordination", http.get("/coordination"), (200,))
                await self.pause()


async def _seed(base_url: str, token: str) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
        ids = []
        for _ in range(SEED_PER_GP):
            response = await http.post("/api/v1/requests", json=SUBMISSION_BODY)
            if response.status_code != 201:
                raise BenchError(f"seeding got {response.status_code}: {response.text[:200]}")
            ids.append(response.json()["id"])
        return ids


async def _replay(
    base_url: str, gps: list[str], specialists: list[str], coordinator: str, args: Any
) -> Day:
    day = Day(base_url, args.think, seed=18)
    gp_ids = [await _seed(base_url, token) for token in gps]

    def users() -> list[Awaitable[None]]:
        return [
            *(day.gp(token, ids) for token, ids in zip(gps, gp_ids, strict=True)),
            *(day.specialist(token) for token in specialists),
            day.coordinator(coordinator),
        ]

    day.stop = time.monotonic() + WARMUP_S
    await asyncio.gather(*users())
    day.recording, day.stop = True, time.monotonic() + args.seconds
    await asyncio.gather(*users())
    return day


def measure(args: argparse.Namespace, workdir: Path) -> Report:
    gp_count = args.users - args.specialists - 1
    if gp_count < 1:
        raise BenchError("--users must exceed --specialists + 1 (the coordinator)")
    configurations = [
        (backend, workers)
        for backend in args.backends
        for workers in (args.workers if backend == "postgres" else [1])
    ]
    rows: list[list[str]] = []
    ok = True
    for backend, workers in configurations:
        label = f"{backend}, {workers} worker{'s' if workers > 1 else ''}"
        name = f"mixed_{backend}_{workers}"
        with service(
            backend, name, workdir, specialists=args.specialists, capacity=1000,
            requesters=gp_count, workers=workers,
        ) as ess:  # fmt: skip
            gps = [ess.requester] + [
                ess.token(f"demandeur{index}@ess-bench.fr") for index in range(1, gp_count)
            ]
            specialists = [
                ess.token(f"specialiste{index}@ess-bench.fr") for index in range(args.specialists)
            ]
            day = asyncio.run(_replay(ess.base_url, gps, specialists, ess.coordinator, args))
        for endpoint in sorted(day.times):
            times, errors = day.times[endpoint], day.errors.get(endpoint, 0)
            p99 = percentile(times, 0.99)
            ok = ok and errors == 0 and bool(times) and p99 < TARGET_P99_MS
            figures = [ms(percentile(times, 0.5)), ms(p99), ms(max(times, default=float("nan")))]
            rows.append([label, f"`{endpoint}`", str(len(times) + errors), str(errors), *figures])
        print(f"{label}: done", flush=True)
    notes = [
        f"{args.users} concurrent users ({gp_count} GPs, {args.specialists} specialists, one "
        f"coordinator), exponential think time of mean {args.think:g} s, {args.seconds:g} s per "
        f"configuration after a {WARMUP_S:g} s warm-up; the SLA tick and the outbox run in the "
        f"service. Target: every p99 under {TARGET_P99_MS:.0f} ms — "
        + ("met." if ok else "not met (see the rows).")
    ]
    return Report([Table(HEADER, rows, left=2)], notes, ok)


if __name__ == "__main__":
    raise SystemExit(main("bench.mixed_load", __doc__, TITLE, options, measure))
