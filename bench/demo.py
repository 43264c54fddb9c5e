"""The first start of ``make run``: ``ess-router serve --demo`` on an empty database.

Each run starts the real command in a fresh folder (new SQLite database, new key file),
as ``make run`` does after the install, and times it from launch until ``/health``
answers: migrations, the demo's year of history (``app.demo``), the audit checkpoint,
then uvicorn. The server is then stopped, ``ess-router audit verify`` is run on what it
left, and the requests are counted by status.

    python -m bench.demo [--runs 2] [--write-doc]
"""

import argparse
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx

from bench.harness import BenchError, Report, Table, cpu_seconds, free_port, main, venv_tool

STATUSES = ("pending", "assigned", "accepted", "awaiting_info", "answered", "closed", "cancelled")


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=2, help="fresh starts to time")


def first_start(workdir: Path) -> tuple[float, float, dict[str, int], str]:
    """Start ``serve --demo`` in ``workdir``: seconds to /health, CPU seconds, statuses, output."""
    workdir.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESS_")}
    env |= {
        "ESS_DATA_DIR": str(workdir),
        "ESS_DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/ess-router.db",
    }
    log = workdir / "serve.log"
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [venv_tool("ess-router"), "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        while True:
            if process.poll() is not None:
                raise BenchError(f"serve --demo exited early:\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    verify = subprocess.run(
        [venv_tool("ess-router"), "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if verify.returncode != 0:
        raise BenchError(f"audit verify failed on the demo: {verify.stderr.strip()}")
    with sqlite3.connect(workdir / "ess-router.db") as db:
        statuses = dict(db.execute("SELECT status, count(*) FROM request GROUP BY status"))
    return elapsed, cpu, statuses, log.read_text()


def measure(args: argparse.Namespace, workdir: Path) -> Report:
    rows, notes, ok = [], [], True
    for run in range(args.runs):
        load = os.getloadavg()[0]
        elapsed, cpu, statuses, output = first_start(workdir / f"run{run}")
        missing = [s for s in STATUSES if not statuses.get(s)]
        ok &= not missing
        rows.append(
            [
                str(run + 1),
                f"{elapsed:.1f}",
                f"{cpu:.1f}",
                f"{load:.2f}",
                str(sum(statuses.values())),
                " ".join(f"{s} {statuses.get(s, 0)}" for s in STATUSES),
            ]
        )
        if missing:
            notes.append(f"run {run + 1}: no request {', '.join(missing)}")
        if run == 0:
            lines = [line for line in output.splitlines() if "onnectez-vous" in line]
            notes.append("What the command printed: " + " / ".join(x.strip() for x in lines))
    header = ["run", "to /health (s)", "CPU (s)", "load before", "requests", "by status"]
    notes.append("`ess-router audit verify` passed after every run.")
    return Report([Table(header, rows, left=1)], notes, ok)


if __name__ == "__main__":
    raise SystemExit(
        main(
            "bench.demo",
            __doc__,
            "## First start with the demo (issue 20)",
            options,
            measure,
        )
    )
