"""Draining the notification outbox to a local SMTP server: throughput and the sender's memory.

For each backend, batch size and message count: a fresh, migrated database; a few users
and N outbox rows (valid rows: kinds ``assigned``, ``answered``, ``new_message`` and
``sla_warning`` with their parameters, no request) loaded in bulk, all due; an aiosmtpd
server on loopback (in this process, a handler that only counts the messages and notes
their Message-ID); then a child process builds ``notifications.sender.OutboxSender`` with
``SystemClock`` and calls ``send_due()`` until it returns 0. The child runs alone so that
its peak RSS (``VmHWM``) is the sender's, read before and after the drain; a second child,
with ``tracemalloc`` on (slower, not timed), gives the peak of Python allocations during
the drain. Every message must arrive exactly once and every row must end ``sent``.
Prints the table; ``--write-doc`` records it in ``docs/benchmarks.md``.

    python -m bench.outbox [--messages 10000] [--compare 1000] [--batch-sizes 100,500]
                           [--backends sqlite,postgres] [--no-trace] [--write-doc]

PostgreSQL is reached through ``BENCH_POSTGRES_URL`` (see ``bench.submission``); the
scratch database ``ess_bench_outbox`` is created and dropped by the run.
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bench.common import PARIS, drop_database, markdown_table, migrated_database, text_table
from bench.dataset import USER_TABLE, chunks, insert_rows, model_row, user_row
from bench.submission import (
    ROOT,
    BenchError,
    _postgres_version,
    add_common_options,
    bench_parser,
    command_line,
    free_port,
    machine_facts,
    write_doc,
)
from models import NotificationKind, OutboxMessage, OutboxStatus, Role
from models.storage import Database

SECTION_TITLE = "## Notification drain (issue 5)"
DATABASE = "ess_bench_outbox"
TARGET_RATE = 200.0  # messages per second
RECIPIENTS = 20
BASE_URL = "https://ess.example.fr"
CHILD_TIMEOUT_S = 3600
INSERT_CHUNK = 2000
LOW_CPU = 0.6  # a sender below this share of a core was kept waiting (noted)
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.M | re.I)
OUTBOX_TABLE = OutboxMessage.__table__  # type: ignore[attr-defined]


# --- the receiving end -------------------------------------------------------------------


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
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


# --- loading -----------------------------------------------------------------------------


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
    expected: set[bytes] = set()
    db = Database(url)
    try:
        async with db.write_engine.begin() as connection:
            await insert_rows(connection, USER_TABLE, users)
            for chunk in chunks(outbox_rows(count, recipients, now), INSERT_CHUNK):
                await insert_rows(connection, OUTBOX_TABLE, chunk)
                expected.update(f"<{r['idempotency_key']}@ess-router>".encode() for r in chunk)
    finally:
        await db.dispose()
    return expected


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


# --- the sender (child process) ----------------------------------------------------------


def proc_status_kib(field_name: str, pid: int | str = "self") -> int:
    """A ``VmRSS``/``VmHWM``-like field of ``/proc/<pid>/status``, in KiB (0 if absent)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def _timed(target: Any, name: str, totals: dict[str, float]) -> None:
    """Wrap ``target.name`` (sync or async) to add its wall time to ``totals[name]``."""
    original = getattr(target, name)
    totals[name] = 0.0
    if asyncio.iscoroutinefunction(original):

        async def wrapper_async(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                totals[name] += time.perf_counter() - started

        setattr(target, name, wrapper_async)
    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                totals[name] += time.perf_counter() - started

        setattr(target, name, wrapper)


async def drain(url: str, port: int, batch_size: int, trace: bool) -> dict[str, Any]:
    """Build the sender and call ``send_due()`` until it returns 0 (runs in the child)."""
    import tracemalloc

    from config import SystemClock
    from config.settings import SmtpSettings
    from notifications.sender import OutboxSender

    db = Database(url)
    sender = OutboxSender(
        db,
        SystemClock(),
        SmtpSettings(host="127.0.0.1", port=port, batch_size=batch_size),
        base_url=BASE_URL,
        zone=PARIS,
    )
    phases: dict[str, float] = {}
    if not trace:
        # Instance attributes shadow the methods: where the time goes, service untouched.
        for name in ("_claim", "_recipients", "_email", "_settle"):
            _timed(sender, name, phases)
    rss_before = proc_status_kib("VmRSS")
    hwm_before = proc_status_kib("VmHWM")
    rss_rounds: list[int] = []
    if trace:
        tracemalloc.start()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    sent = rounds = 0
    started = time.perf_counter()
    try:
        while batch := await sender.send_due():
            sent += batch
            rounds += 1
            rss_rounds.append(proc_status_kib("VmRSS"))
        elapsed = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        traced_peak = tracemalloc.get_traced_memory()[1] if trace else None
    finally:
        if trace:
            tracemalloc.stop()
        await db.dispose()
    return {
        "sent": sent,
        "rounds": rounds,
        "elapsed": elapsed,
        "cpu": (cpu_after.ru_utime + cpu_after.ru_stime)
        - (cpu_before.ru_utime + cpu_before.ru_stime),
        "rss_before_kib": rss_before,
        "hwm_before_kib": hwm_before,
        "hwm_after_kib": proc_status_kib("VmHWM"),
        "rss_after_kib": proc_status_kib("VmRSS"),
        "rss_first_round_kib": rss_rounds[0] if rss_rounds else 0,
        "rss_max_round_kib": max(rss_rounds, default=0),
        "traced_peak": traced_peak,
        "phases": phases,
    }


def child_main(spec: str) -> int:
    options = json.loads(spec)
    result = asyncio.run(
        drain(options["url"], options["port"], options["batch_size"], options["trace"])
    )
    print(json.dumps(result), flush=True)
    return 0


def run_child(url: str, port: int, batch_size: int, *, trace: bool) -> dict[str, Any]:
    spec = json.dumps({"url": url, "port": port, "batch_size": batch_size, "trace": trace})
    before = resource.getrusage(resource.RUSAGE_SELF)
    completed = subprocess.run(
        [sys.executable, "-m", "bench.outbox", "--child", spec],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_SELF)
    if completed.returncode != 0:
        raise BenchError(f"the sender process failed:\n{completed.stderr.strip()[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    # This process only runs the SMTP server while it waits for the child.
    result["receiver_cpu"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result


# --- one measurement ---------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    messages: int
    batch_size: int
    timed: dict[str, Any]
    traced: dict[str, Any] | None
    received: int
    duplicates: int
    missing: int
    statuses: dict[str, int]
    load_s: float
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.timed["sent"] / self.timed["elapsed"] if self.timed["elapsed"] else 0.0

    @property
    def exact(self) -> bool:
        return (
            self.received == self.messages
            and not self.duplicates
            and not self.missing
            and self.statuses.get(OutboxStatus.SENT.value, 0) == self.messages
            and self.statuses.get("attempts") == self.messages
        )


async def measure(
    backend: str, messages: int, batch_size: int, args: argparse.Namespace, workdir: Path
) -> Result:
    handler = CountingHandler()
    timed: dict[str, Any] = {}
    traced: dict[str, Any] | None = None
    received = duplicates = missing = 0
    statuses: dict[str, int] = {}
    load_s = 0.0
    with smtp_server(handler) as port:
        for trace in (False, True) if args.trace else (False,):
            url = await migrated_database(backend, DATABASE, workdir)
            started = time.perf_counter()
            expected = await load(url, messages)
            load_s = time.perf_counter() - started
            handler.reset()
            result = await asyncio.to_thread(run_child, url, port, batch_size, trace=trace)
            with handler.lock:
                got, dup, ids = handler.count, handler.duplicates, set(handler.ids)
            done = await outcome(url)
            if trace:
                traced = result
            else:
                timed, received, duplicates, statuses = result, got, dup, done
                missing = len(expected - ids)
            if got != messages or dup or done.get(OutboxStatus.SENT.value, 0) != messages:
                raise BenchError(
                    f"{backend}, {messages} messages, batch {batch_size}"
                    f"{' (traced)' if trace else ''}: {got} received, {dup} duplicates, "
                    f"rows {done}"
                )
    return Result(
        backend, messages, batch_size, timed, traced, received, duplicates, missing, statuses,
        load_s,
    )  # fmt: skip


# --- reporting ---------------------------------------------------------------------------

HEADER = (
    "backend",
    "batch",
    "messages",
    "msg/s",
    "total s",
    "sender CPU",
    "receiver CPU",
    "claim / recipients / build / SMTP / settle",
    "RSS before MiB",
    "peak RSS after MiB",
    "growth MiB",
    "tracemalloc peak MiB",
    "delivered",
)


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def breakdown(r: Result) -> str:
    """Share of the drain's wall time in each step of ``send_due``."""
    phases = r.timed.get("phases") or {}
    total = r.timed["elapsed"]
    if not phases or not total:
        return "–"
    claim, recipients = phases["_claim"], phases["_recipients"]
    build, settle = phases["_email"], phases["_settle"]
    smtp = total - claim - recipients - build - settle
    return " / ".join(f"{100 * v / total:.0f}%" for v in (claim, recipients, build, smtp, settle))


def per_message_ms(r: Result, phase: str) -> float:
    """Wall time per message of one phase; ``smtp`` is the rest, ``database`` claim + settle."""
    phases = r.timed.get("phases") or {}
    if not phases or not r.timed["sent"]:
        return float("nan")
    if phase == "smtp":
        spent = r.timed["elapsed"] - sum(phases.values())
    elif phase == "database":
        spent = phases["_claim"] + phases["_recipients"] + phases["_settle"]
    else:
        spent = phases[phase]
    return spent * 1000 / r.timed["sent"]


def growth_kib(result: dict[str, Any]) -> int:
    return result["hwm_after_kib"] - result["rss_before_kib"]


def rows(results: list[Result]) -> list[tuple[str, ...]]:
    table = []
    for r in results:
        t = r.timed
        table.append(
            (
                r.backend,
                str(r.batch_size),
                f"{r.messages:,}".replace(",", " "),
                f"{r.rate:.0f}",
                f"{t['elapsed']:.1f}",
                f"{t['cpu'] / t['elapsed']:.0%}",
                f"{t['receiver_cpu'] / t['elapsed']:.0%}",
                breakdown(r),
                mib(t["rss_before_kib"]),
                mib(t["hwm_after_kib"]),
                mib(growth_kib(t)),
                f"{r.traced['traced_peak'] / 2**20:.1f}" if r.traced else "–",
                "exactly once" if r.exact else f"{r.received} ({r.duplicates} dup.)",
            )
        )
    return table


def reading(results: list[Result], args: argparse.Namespace) -> str:
    """Read the figures against the target, in two to four plain sentences."""
    full = [r for r in results if r.messages == args.messages]
    if not full:
        return ""
    sentences = []
    slow = [r for r in full if r.rate < TARGET_RATE]
    rates = "; ".join(f"{r.backend} batch {r.batch_size} {r.rate:.0f}/s" for r in full)
    if not slow:
        sentences.append(
            f"The throughput target (at least {TARGET_RATE:.0f} messages/s) is met for "
            f"{args.messages} messages on every backend and batch size ({rates})."
        )
    else:
        worst = min(slow, key=lambda r: r.rate)
        sentences.append(
            f"The throughput target (at least {TARGET_RATE:.0f} messages/s) is not met "
            f"everywhere ({rates}); in the slowest run ({worst.backend}, batch "
            f"{worst.batch_size}) claim / recipients / build / SMTP / settle take "
            f"{breakdown(worst)} of the time."
        )
    sentences.append(
        "Every run delivered each message exactly once (count equal to the rows, distinct "
        "Message-IDs, every row `sent` after a single attempt)."
        if all(r.exact for r in results)
        else "Some runs did not deliver each message exactly once: see the last column."
    )
    compared = []
    for r in full:
        small = next(
            (
                s
                for s in results
                if s.backend == r.backend
                and s.batch_size == r.batch_size
                and s.messages < r.messages
            ),
            None,
        )
        if small is not None:
            compared.append((r, small))
    if compared:
        extra_kib = max(growth_kib(r.timed) - growth_kib(s.timed) for r, s in compared)
        pairs = "; ".join(
            f"{r.backend} batch {r.batch_size}: {mib(growth_kib(s.timed))} → "
            f"{mib(growth_kib(r.timed))} MiB"
            + (
                f" (tracemalloc {s.traced['traced_peak'] / 2**20:.1f} → "
                f"{r.traced['traced_peak'] / 2**20:.1f})"
                if r.traced and s.traced
                else ""
            )
            for r, s in compared
        )
        flat = extra_kib < 8 * 1024  # under 8 MiB more for 10× the messages
        sentences.append(
            f"Peak RSS growth over the drain, {compared[0][1].messages} → "
            f"{compared[0][0].messages} messages: {pairs}; "
            + (
                "the sender's memory stays flat: it holds one batch at a time."
                if flat
                else "the sender's memory grows with the number of messages."
            )
        )

    def spread(phase: str) -> str:
        values = [per_message_ms(r, phase) for r in full]
        low, high = min(values), max(values)
        return f"{low:.2f} ms" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}–{high:.2f} ms"

    cpu = [r.timed["cpu"] / r.timed["elapsed"] for r in full]
    receiver = [r.timed["receiver_cpu"] / r.timed["elapsed"] for r in full]
    sentences.append(
        f"Where the time goes, per message at {args.messages}: the SMTP step (aiosmtplib "
        "serialising the `EmailMessage`, then MAIL, RCPT, DATA and the content on the batch's "
        f"one connection) {spread('smtp')}, building the e-mail (two Jinja2 templates, "
        f"`EmailMessage`) {spread('_email')}, the database (claim, recipients, settle, once "
        f"per batch) {spread('database')}; the sender process uses {min(cpu):.0%}–"
        f"{max(cpu):.0%} of a core and the receiver {min(receiver):.0%}–{max(receiver):.0%}, "
        "so the drain is mostly the sender's own Python work, one message after the other."
    )
    return " ".join(sentences[:4])


def section(results: list[Result], args: argparse.Namespace, postgres_version: str | None) -> str:
    facts = machine_facts() + (f", PostgreSQL {postgres_version}" if postgres_version else "")
    notes = [
        f"- {r.backend}, batch {r.batch_size}, {r.messages} messages: the sender used only "
        f"{r.timed['cpu'] / r.timed['elapsed']:.0%} of a core over the drain (the receiver "
        f"{r.timed['receiver_cpu'] / r.timed['elapsed']:.0%}), both below the other runs: "
        "most likely they waited for a CPU taken by other work on the machine."
        for r in results
        if r.timed["cpu"] / r.timed["elapsed"] < LOW_CPU
    ]
    loads = "; ".join(
        f"{r.backend} {r.messages}: {r.load_s:.2f} s"
        for r in results
        if r.batch_size == results[0].batch_size
    )
    parts = [
        SECTION_TITLE,
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {facts}; load average "
        f"{args.load_before:.2f} when it started, {args.load_after:.2f} when it ended "
        "(the machine is shared).",
        "",
        f"Command (from the project root): `{command_line('bench.outbox')}`",
        "",
        "For each backend, batch size and count: a fresh, migrated database, "
        f"{RECIPIENTS} users and N due outbox rows inserted in bulk (kinds `assigned`, "
        "`answered`, `new_message`, `sla_warning` in rotation, with a reference and their "
        f"parameters, no request; load times {loads}), and an aiosmtpd server on loopback in "
        "the benchmark process whose handler only counts messages and notes their "
        "Message-ID. A separate process builds `OutboxSender(db, SystemClock(), "
        "SmtpSettings(host, port, batch_size), base_url, zone=Europe/Paris)` and calls "
        "`send_due()` until it returns 0; *msg/s* and *total* are its wall time. *sender CPU* "
        "and *receiver CPU*: each process's CPU time over the drain's wall time (1 core = "
        "100%). The split *claim / recipients / build / SMTP / settle* is the share of wall "
        "time in `_claim`, `_recipients`, `_email` (render + `EmailMessage`), the SMTP "
        "dialogue (the rest of `send_due`) and `_settle`, measured by wrapping those methods "
        "on the instance. Memory is the sender process's: *RSS before* (`VmRSS`, after "
        "imports and setup), *peak RSS after* (`VmHWM` after the drain), *growth* their "
        "difference; *tracemalloc peak* comes from a second, untimed drain of a freshly "
        "loaded database with `tracemalloc` started just before it. *delivered*: the "
        "receiver counted N messages with N distinct, expected Message-IDs, and every row "
        "is `sent` with one attempt.",
        "",
        markdown_table(HEADER, rows(results), left=1),
        "",
        *(notes + ([""] if notes else [])),
        reading(results, args),
        "",
    ]
    return "\n".join(parts)


# --- main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser("bench.outbox", __doc__)
    parser.add_argument("--messages", type=int, default=10_000, help="rows to drain (10000)")
    parser.add_argument(
        "--compare",
        type=int,
        default=1000,
        help="a smaller count drained too, to compare memory (1000; 0 to skip)",
    )
    parser.add_argument("--batch-sizes", default="100,500", help="batch sizes (100,500)")
    parser.add_argument(
        "--no-trace", dest="trace", action="store_false", help="skip the tracemalloc drains"
    )
    add_common_options(parser)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return args
    try:
        args.batch_sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--batch-sizes takes comma-separated integers")
    if not args.batch_sizes or not all(1 <= b <= 10_000 for b in args.batch_sizes):
        parser.error("batch sizes go from 1 to 10000 (SmtpSettings.batch_size)")
    if args.messages < 1 or args.compare < 0:
        parser.error("--messages must be positive, --compare positive or 0")
    args.counts = sorted({args.messages, *([args.compare] if args.compare else [])})
    return args


async def run(args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="ess-bench-") as tmp:
        for backend in args.backends:
            try:
                for batch_size in args.batch_sizes:
                    for messages in args.counts:
                        r = await measure(backend, messages, batch_size, args, Path(tmp))
                        results.append(r)
                        print(
                            f"{backend:<8} batch {batch_size:>4} {messages:>6} messages: "
                            f"{r.rate:.0f} msg/s in {r.timed['elapsed']:.1f} s, "
                            f"peak RSS {mib(r.timed['hwm_after_kib'])} MiB (growth "
                            f"{mib(growth_kib(r.timed))} MiB)"
                            + (
                                f", tracemalloc peak {r.traced['traced_peak'] / 2**20:.1f} MiB"
                                if r.traced
                                else ""
                            )
                            + f", {'exactly once' if r.exact else 'NOT exactly once'}",
                            flush=True,
                        )
            finally:
                await asyncio.to_thread(drop_database, backend, DATABASE)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args.child)
    args.load_before = os.getloadavg()[0]
    print(
        f"drain {', '.join(map(str, args.counts))} messages, batch sizes "
        f"{', '.join(map(str, args.batch_sizes))}, on {', '.join(args.backends)}",
        flush=True,
    )
    try:
        postgres_version = asyncio.run(_postgres_version()) if "postgres" in args.backends else None
        results = asyncio.run(run(args))
        args.load_after = os.getloadavg()[0]
    except (BenchError, OSError, asyncpg.PostgresError, SQLAlchemyError) as exc:
        print(f"bench.outbox: {exc}", file=sys.stderr)
        return 1
    print()
    print(text_table(HEADER, rows(results), left=1))
    print()
    print(reading(results, args))
    if args.write_doc:
        write_doc(section(results, args, postgres_version), SECTION_TITLE)
    return 0 if all(r.exact for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
