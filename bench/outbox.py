"""Draining the notification outbox to a local SMTP server: throughput and the sender's memory.

For each backend, batch size and message count: a fresh, migrated database with a few
users and N due outbox rows loaded in bulk; an aiosmtpd server on loopback (in this
process, a handler that only counts the messages and notes their Message-ID); then a
child process builds ``notifications.sender.OutboxSender`` and calls ``send_due()`` until
it returns 0. The child runs alone so that its peak RSS (``VmHWM``) is the sender's; a
second child, with ``tracemalloc`` on (not timed), gives the peak of Python allocations.
Every message must arrive exactly once and every row must end ``sent``.

    python -m bench.outbox [--messages 10000] [--compare 1000] [--batch-sizes 100,500]
                           [--no-trace] [--backends sqlite,postgres] [--write-doc]
"""

import argparse
import asyncio
import contextlib
import json
import re
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from bench.dataset import USER_TABLE, bulk_load, model_row, user_row
from bench.harness import (
    PARIS,
    ROOT,
    BenchError,
    Report,
    Table,
    free_port,
    int_list,
    main,
    migrated_database,
    positive,
    proc_status_kib,
    spaced,
    timed_calls,
)
from config import SystemClock
from config.settings import SmtpSettings
from models import NotificationKind, OutboxMessage, OutboxStatus, Role
from models.storage import Database
from notifications.sender import OutboxSender

TITLE = "## Notification drain (issue 5)"
DATABASE = "ess_bench_outbox"
RECIPIENTS = 20
BASE_URL = "https://ess.example.fr"
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.M | re.I)
OUTBOX_TABLE = OutboxMessage.__table__  # type: ignore[attr-defined]
PHASES = ("_claim", "_recipients", "_email", "_settle")
HEADER = (
    "backend", "batch", "messages", "msg/s", "total s", "sender CPU", "receiver CPU",
    "claim / recipients / build / SMTP / settle", "RSS before MiB", "peak RSS after MiB",
    "growth MiB", "tracemalloc peak MiB", "delivered",
)  # fmt: skip


class CountingHandler:
    """Accepts every message; counts them and keeps their Message-ID, nothing else."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.ids: set[bytes] = set()
        self.duplicates = 0

    def reset(self) -> None:
        with self.lock:
            self.count, self.ids, self.duplicates = 0, set(), 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        headers = content[: content.find(b"\r\n\r\n") + 1 or 4096]
        found = MESSAGE_ID.search(headers)
        with self.lock:
            self.count += 1
            if found:
                key = found.group(1)
                if key in self.ids:
                    self.duplicates += 1
                self.ids.add(key)
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def smtp_server(handler: CountingHandler) -> Any:
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), server_hostname="localhost"
    )
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def outbox_rows(count: int, recipients: list[uuid.UUID], now: datetime) -> Any:
    """``count`` valid, due outbox rows, the kinds in rotation (generated lazily)."""
    due = (now + timedelta(hours=2)).isoformat()
    for index in range(count):
        reference = f"TE-{now.year}-{index + 1:06d}"
        kind, params = (
            (NotificationKind.ASSIGNED, {"reference": reference, "priority": "standard"}),
            (NotificationKind.ANSWERED, {"reference": reference}),
            (NotificationKind.NEW_MESSAGE, {"reference": reference}),
            (
                NotificationKind.SLA_WARNING,
                {"reference": reference, "deadline": "answer", "due_at": due},
            ),
        )[index % 4]
        queued = now - timedelta(seconds=count - index)
        yield model_row(
            OutboxMessage,
            id=uuid.uuid4(),
            idempotency_key=f"{kind.value}.{uuid.uuid4().hex}",
            kind=kind.value,
            recipient_id=recipients[index % len(recipients)],
            request_id=None,
            params=params,
            status=OutboxStatus.PENDING.value,
            next_attempt_at=queued,
            created_at=queued,
            queued_at=queued,
        )


async def load(url: str, count: int) -> set[bytes]:
    """Users and ``count`` due outbox rows; return the Message-IDs the drain must deliver."""
    now = datetime.now(UTC)
    recipients = [uuid.uuid4() for _ in range(RECIPIENTS)]
    users = [
        user_row(
            user_id=user_id,
            role=Role.SPECIALIST,
            email=f"specialiste{index}@ess-bench.fr",
            name=f"Dr Spécialiste {index}",
            created_at=now - timedelta(days=30),
        )
        for index, user_id in enumerate(recipients)
    ]
    rows = list(outbox_rows(count, recipients, now))
    await bulk_load(url, [(USER_TABLE, users), (OUTBOX_TABLE, rows)])
    return {f"<{row['idempotency_key']}@ess-router>".encode() for row in rows}


async def outcome(url: str) -> dict[str, int]:
    """Rows by status, and the total of attempts (a row claimed twice shows here)."""
    db = Database(url)
    try:
        async with db.reading() as session:
            by_status = dict(
                (
                    await session.execute(
                        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                    )
                ).all()
            )
            attempts = (
                await session.execute(select(func.coalesce(func.sum(OutboxMessage.attempts), 0)))
            ).scalar_one()
    finally:
        await db.dispose()
    return {**{str(k): int(v) for k, v in by_status.items()}, "attempts": int(attempts)}


async def drain(url: str, port: int, batch_size: int, trace: bool) -> dict[str, Any]:
    """Build the sender and call ``send_due()`` until it returns 0 (runs in the child)."""
    db = Database(url)
    smtp = SmtpSettings(host="127.0.0.1", port=port, batch_size=batch_size)
    sender = OutboxSender(db, SystemClock(), smtp, base_url=BASE_URL, zone=PARIS)
    phases: dict[str, float] = {}
    for name in () if trace else PHASES:
        timed_calls(sender, name, phases)
    rss_before = proc_status_kib("VmRSS")
    if trace:
        tracemalloc.start()
    cpu, sent, started = time.process_time(), 0, time.perf_counter()
    try:
        while batch := await sender.send_due():
            sent += batch
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        traced_peak = tracemalloc.get_traced_memory()[1] if trace else None
    finally:
        tracemalloc.stop()
        await db.dispose()
    return {
        "sent": sent, "elapsed": elapsed, "cpu": cpu, "rss_before_kib": rss_before,
        "hwm_after_kib": proc_status_kib("VmHWM"), "traced_peak": traced_peak, "phases": phases,
    }  # fmt: skip


def run_child(url: str, port: int, batch_size: int, *, trace: bool) -> dict[str, Any]:
    """``drain`` in a process of its own; plus this process's CPU time meanwhile (the SMTP
    server's, all it does while it waits)."""
    spec = json.dumps({"url": url, "port": port, "batch_size": batch_size, "trace": trace})
    receiver = time.process_time()
    done = subprocess.run(
        [sys.executable, "-m", "bench.outbox", "--child", spec], cwd=ROOT, capture_output=True,
        text=True, timeout=3600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"the sender process failed:\n{done.stderr.strip()[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["receiver_cpu"] = time.process_time() - receiver
    return result


@dataclass
class Drained:
    backend: str
    messages: int
    batch_size: int
    timed: dict[str, Any]
    traced: dict[str, Any] | None
    exact: bool  # every message received once, with its expected id, every row sent once
    load_s: float

    def row(self) -> tuple[str, ...]:
        t, mib = self.timed, lambda kib: f"{kib / 1024:.1f}"
        p = t["phases"]
        smtp = t["elapsed"] - sum(p.values())
        split = [p["_claim"], p["_recipients"], p["_email"], smtp, p["_settle"]]
        return (
            self.backend, str(self.batch_size), spaced(self.messages),
            f"{t['sent'] / t['elapsed']:.0f}", f"{t['elapsed']:.1f}",
            f"{t['cpu'] / t['elapsed']:.0%}", f"{t['receiver_cpu'] / t['elapsed']:.0%}",
            " / ".join(f"{100 * v / t['elapsed']:.0f}%" for v in split),
            mib(t["rss_before_kib"]), mib(t["hwm_after_kib"]),
            mib(t["hwm_after_kib"] - t["rss_before_kib"]),
            f"{self.traced['traced_peak'] / 2**20:.1f}" if self.traced else "–",
            "exactly once" if self.exact else "NOT exactly once",
        )  # fmt: skip


async def measure(
    backend: str, messages: int, batch_size: int, args: argparse.Namespace, workdir: Path
) -> Drained:
    """A timed drain, then (with tracing) an untimed one with ``tracemalloc``, each of a
    freshly loaded database."""
    handler = CountingHandler()
    drains: list[dict[str, Any]] = []
    exact = True
    with smtp_server(handler) as port:
        for trace in (False, True) if args.trace else (False,):
            url = await migrated_database(backend, DATABASE, workdir)
            started = time.perf_counter()
            expected = await load(url, messages)
            load_s = time.perf_counter() - started
            handler.reset()
            drains.append(await asyncio.to_thread(run_child, url, port, batch_size, trace=trace))
            rows = await outcome(url)
            exact &= (
                handler.count == messages
                and not handler.duplicates
                and handler.ids == expected
                and rows.get(OutboxStatus.SENT.value) == messages == rows["attempts"]
            )
    return Drained(backend, messages, batch_size, drains[0], (drains[1:] and drains[1]) or None,
                   exact, load_s)  # fmt: skip


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", type=positive(int), default=10_000, help="rows (10000)")
    parser.add_argument("--compare", type=int, default=1000, help="a smaller count (0: none)")
    parser.add_argument("--batch-sizes", type=int_list, default="100,500", help="(100,500)")
    parser.add_argument("--no-trace", dest="trace", action="store_false", help="no tracemalloc")


async def run(args: argparse.Namespace, workdir: Path) -> Report:
    drained = []
    for backend in args.backends:
        for batch_size in args.batch_sizes:
            for messages in sorted({args.messages, *([args.compare] if args.compare > 0 else [])}):
                drained.append(await measure(backend, messages, batch_size, args, workdir))
                print(" ".join(drained[-1].row()), flush=True)
    loads = "; ".join(
        f"{d.backend} {d.messages}: {d.load_s:.2f} s"
        for d in drained
        if d.batch_size == args.batch_sizes[0]
    )
    ok = all(d.exact for d in drained)
    return Report([Table(HEADER, [d.row() for d in drained])], [f"Load times: {loads}."], ok)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        spec = json.loads(sys.argv[2])
        result = asyncio.run(drain(spec["url"], spec["port"], spec["batch_size"], spec["trace"]))
        print(json.dumps(result), flush=True)
        sys.exit(0)
    sys.exit(main("bench.outbox", __doc__, TITLE, options, run))
