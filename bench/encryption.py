"""The cost of encryption at rest: request submission with and without it, and attachments.

(a) Submission, in process: ``app.services.requests.submit`` timed inside the service's
write transaction with the real ``Vault`` against a vault whose ``encrypt``, ``decrypt`` and
``patient_key`` skip the cryptography, in alternating blocks on the same database, plus the
API's response step ``to_read``; the vault's own calls timed alone and in place. (b)
Attachments over HTTP: the real service, JPEG-looking files of 1 and 10 MiB uploaded and
downloaded back (streamed, checked), with the server's resident set and its peak.

    python -m bench.encryption [--seconds 20] [--repeat 3] [--backends sqlite,postgres]
                               [--write-doc]
"""

import argparse
import asyncio
import hashlib
import io
import math
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.services.people import of_requests
from app.services.request_view import to_read
from app.services.requests import submit
from bench.dataset import seed_in_process
from bench.harness import (
    SUBMISSION_BODY,
    BenchError,
    Report,
    Table,
    bench_context,
    main,
    mean,
    migrated_database,
    ms,
    percentile,
    positive,
    proc_status_kib,
    service,
    timed_calls,
)
from models import RequestCreate, User
from security.crypto import KeyRing
from security.vault import Vault

TITLE = "## Encryption cost (issue 6)"
SPECIALISTS = 10
BLOCK = 10  # submissions per variant before switching
WARMUP = 30  # per variant, not counted
RAW_REPEAT = 20_000
METERED = 300  # submissions of the pass that times the vault's calls in place
MIB = 1024 * 1024
SIZES = (1 * MIB, 10 * MIB)
JPEG_MAGIC = b"\xff\xd8\xff\xe0"
SUBMISSION_HEADER = (
    "backend", "submissions per variant", "real vault mean / median ms",
    "identity vault mean / median ms", "ratio (means / medians)", "difference µs (± 2 SE)",
    "with to_read: real / identity mean ms", "ratio with to_read",
)  # fmt: skip
ATTACHMENT_HEADER = (
    "backend", "file", "upload ms", "upload MiB/s", "download ms", "download MiB/s",
    "server RSS before MiB", "peak during upload MiB", "peak during download MiB",
)  # fmt: skip


class IdentityVault(Vault):
    """The real vault's interface without the cryptography: bytes in the columns, no keys."""

    def encrypt(self, table: str, record_id: uuid.UUID, field: str, value: str) -> bytes:
        return value.encode("utf-8")

    def decrypt(self, table: str, record_id: uuid.UUID, field: str, blob: bytes) -> str:
        return bytes(blob).decode("utf-8")

    def patient_key(
        self, *, ins: str | None, last_name: str, first_name: str, birth_date: str
    ) -> str:
        return (f"ins:{ins}" if ins else f"nom|{last_name}|{first_name}|{birth_date}")[:64]


# --- (a) submission in process -------------------------------------------------------------


@dataclass
class Variant:
    submit_ms: list[float] = field(default_factory=list)
    read_ms: list[float] = field(default_factory=list)

    @property
    def total_ms(self) -> list[float]:
        return [a + b for a, b in zip(self.submit_ms, self.read_ms, strict=True)]


def best_us(work: object, repeat: int = RAW_REPEAT // 3) -> float:
    """Microseconds per call of ``work()``, best of three tight loops."""
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeat):
            work()  # type: ignore[operator]
        best = min(best, (time.perf_counter() - started) / repeat)
    return best * 1e6


def raw_costs(vault: Vault, data: RequestCreate) -> dict[str, float]:
    """The vault's own work alone: one encrypt + decrypt, a submission's, a response's (µs)."""
    record, question, patient = uuid.uuid4(), data.question, data.patient
    identity = patient.model_dump_json()
    names = patient.model_dump(include={"last_name", "first_name"})
    names["birth_date"] = patient.birth_date.isoformat()
    sealed = [
        vault.encrypt("request", record, f, v)
        for f, v in [("question", question), ("patient", identity)]
    ]

    def encrypt_decrypt() -> None:
        vault.decrypt(
            "request", record, "question", vault.encrypt("request", record, "question", question)
        )

    def per_submission() -> None:
        vault.encrypt("request", record, "question", question)
        vault.encrypt("request", record, "patient", identity)
        vault.patient_key(ins=patient.ins, **names)

    def per_response() -> None:
        vault.decrypt("request", record, "question", sealed[0])
        vault.decrypt("request", record, "patient", sealed[1])

    works = {
        "encrypt_decrypt": encrypt_decrypt,
        "submission": per_submission,
        "response": per_response,
    }
    return {name: best_us(work) for name, work in works.items()}


async def submissions(
    backend: str, args: argparse.Namespace, workdir: Path
) -> tuple[tuple[str, ...], dict[str, float]]:
    """The table's row for ``backend``, and the vault's own costs (µs)."""
    url = await migrated_database(backend, "ess_bench_enc", workdir)
    requester_id = await seed_in_process(url, SPECIALISTS, capacity=10**6)
    context = bench_context(url)
    try:
        async with context.db.reading() as session:
            requester = await session.get(User, requester_id)
        data, keyring = RequestCreate.model_validate(SUBMISSION_BODY), KeyRing.generate()
        now, policy = context.clock.now(), context.policy

        async def once(vault: Vault, into: Variant | None) -> None:
            started = time.perf_counter()
            async with context.db.transaction() as session:
                request = await submit(
                    session, requester, data, now=now, policy=policy, vault=vault
                )
                # The people it names: a query, not the vault's work this bench times.
                people = await of_requests(session, [request])
            committed = time.perf_counter()
            view = to_read(request, requester, vault, people)
            done = time.perf_counter()
            if view.question != data.question or request.assignee_id is None:
                raise BenchError("a submission was not stored, read back or assigned as expected")
            if into is not None:
                into.submit_ms.append((committed - started) * 1000)
                into.read_ms.append((done - committed) * 1000)

        real, identity = (Vault(keyring), Variant()), (IdentityVault(keyring), Variant())
        for _ in range(WARMUP):
            for vault, _ in (real, identity):
                await once(vault, None)
        order, deadline = [real, identity], time.perf_counter() + args.seconds
        while time.perf_counter() < deadline:
            for vault, variant in order:
                for _ in range(BLOCK):
                    await once(vault, variant)
            order.reverse()  # ABBA: neither variant always runs first after a switch
        raw = raw_costs(real[0], data)
        metered, spent = Vault(keyring), {}  # the real vault's calls timed where they run
        for name in ("encrypt", "decrypt", "patient_key"):
            timed_calls(metered, name, spent)
        for _ in range(METERED):
            await once(metered, None)
        raw["in_situ_submit"] = (spent["encrypt"] + spent["patient_key"]) * 1e6 / METERED
        raw["in_situ_read"] = spent["decrypt"] * 1e6 / METERED
    finally:
        await context.db.dispose()
    a, b = real[1], identity[1]
    error = 2 * math.sqrt(
        statistics.variance(a.submit_ms) / len(a.submit_ms)
        + statistics.variance(b.submit_ms) / len(b.submit_ms)
    )
    median_a, median_b = percentile(a.submit_ms, 0.5), percentile(b.submit_ms, 0.5)
    row = (
        backend,
        str(len(a.submit_ms)),
        f"{ms(mean(a.submit_ms))} / {ms(median_a)}",
        f"{ms(mean(b.submit_ms))} / {ms(median_b)}",
        f"{mean(a.submit_ms) / mean(b.submit_ms):.3f} / {median_a / median_b:.3f}",
        f"{(mean(a.submit_ms) - mean(b.submit_ms)) * 1000:+.0f} (± {error * 1000:.0f})",
        f"{ms(mean(a.total_ms))} / {ms(mean(b.total_ms))}",
        f"{mean(a.total_ms) / mean(b.total_ms):.3f}",
    )
    return row, raw


# --- (b) attachments over HTTP -------------------------------------------------------------


def reset_peak(pid: int) -> bool:
    """Reset the process's ``VmHWM`` to its current RSS (Linux ``clear_refs`` 5)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def jpeg_bytes(size: int) -> bytes:
    return JPEG_MAGIC + os.urandom(size - len(JPEG_MAGIC))


def transfer(http: httpx.Client, request_id: str, size: int, pid: int) -> tuple[float, ...]:
    """Upload ``size`` bytes, download them back and check them: (upload s, download s, RSS
    before, peak during the upload, peak during the download (KiB), 1 if the peak was reset)."""
    payload, path = jpeg_bytes(size), f"/api/v1/requests/{request_id}/attachments"
    reset, rss = reset_peak(pid), proc_status_kib("VmRSS", pid)
    started = time.perf_counter()
    response = http.post(path, files={"file": ("photo.jpg", io.BytesIO(payload), "image/jpeg")})
    uploaded, upload_peak = time.perf_counter() - started, proc_status_kib("VmHWM", pid)
    if response.status_code != 201 or response.json()["size"] != size:
        raise BenchError(f"upload got {response.status_code}: {response.text[:300]}")
    reset_peak(pid)
    digest, started = hashlib.sha256(), time.perf_counter()
    with http.stream("GET", f"{path}/{response.json()['id']}") as download:
        if download.status_code != 200:
            raise BenchError(f"download got {download.status_code}")
        for chunk in download.iter_bytes():
            digest.update(chunk)
    downloaded, download_peak = time.perf_counter() - started, proc_status_kib("VmHWM", pid)
    if digest.digest() != hashlib.sha256(payload).digest():
        raise BenchError(f"the {size} bytes downloaded differ from those sent")
    return uploaded, downloaded, rss, upload_peak, download_peak, float(reset)


def attachments(
    backend: str, args: argparse.Namespace, workdir: Path
) -> tuple[list[tuple[str, ...]], bool]:
    """The table's rows for ``backend``, and whether every peak could be reset."""
    rows, reset = [], True
    with service(backend, "ess_bench_enc_http", workdir, specialists=2, capacity=1000) as ess:
        auth = {"Authorization": f"Bearer {ess.requester}"}
        with httpx.Client(base_url=ess.base_url, headers=auth, timeout=300) as http:
            created = http.post("/api/v1/requests", json=SUBMISSION_BODY)
            if created.status_code != 201:
                raise BenchError(f"POST /api/v1/requests got {created.status_code}")
            request_id = created.json()["id"]
            for _ in range(2):  # the first multipart parse, encryption and stream load code
                transfer(http, request_id, 64 * 1024, ess.pid)
            for size in SIZES:
                runs = [transfer(http, request_id, size, ess.pid) for _ in range(args.repeat)]
                up, down = (statistics.median(run[i] for run in runs) for i in (0, 1))
                rss, up_peak, down_peak = (max(run[i] for run in runs) / 1024 for i in (2, 3, 4))
                reset &= all(run[5] for run in runs)
                rows.append((
                    backend, f"{size // MIB} MiB", f"{up * 1000:.0f}", f"{size / MIB / up:.0f}",
                    f"{down * 1000:.0f}", f"{size / MIB / down:.0f}", f"{rss:.1f}",
                    f"{up_peak:.1f}", f"{down_peak:.1f}",
                ))  # fmt: skip
    return rows, reset


def stream_costs(size: int) -> str:
    """Milliseconds to encrypt and decrypt ``size`` bytes in memory, in 64 KiB pieces."""
    keyring, payload, aad = KeyRing.generate(), jpeg_bytes(size), b"attachment:bench:content"
    started = time.perf_counter()
    pieces = [payload[i : i + 65536] for i in range(0, size, 65536)]
    sealed = list(keyring.encrypt_stream(pieces, aad=aad))
    encrypted, started = time.perf_counter() - started, time.perf_counter()
    for _ in keyring.decrypt_stream(sealed, aad=aad):
        pass
    decrypted = time.perf_counter() - started
    return (
        f"stream encryption of {size // MIB} MiB in memory {encrypted * 1000:.0f} ms, "
        f"decryption {decrypted * 1000:.0f} ms"
    )


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=positive(float), default=20.0, help="per backend (20)")
    parser.add_argument("--repeat", type=positive(int), default=3, help="transfers per size (3)")


def measure(args: argparse.Namespace, workdir: Path) -> Report:
    subs, atts, costs, reset = [], [], {}, True
    for backend in args.backends:
        row, costs[backend] = asyncio.run(submissions(backend, args, workdir))
        rows, peaks_reset = attachments(backend, args, workdir)
        print(" ".join(row), *(" ".join(r) for r in rows), sep="\n", flush=True)
        subs.append(row)
        atts += rows
        reset &= peaks_reset
    raw = costs[args.backends[0]]
    in_place = ", ".join(
        f"{b} {r['in_situ_submit']:.0f} µs per submission and {r['in_situ_read']:.0f} µs per "
        "response"
        for b, r in costs.items()
    )
    characters = len(str(SUBMISSION_BODY["question"]))
    note = (
        f"Raw cost, in process: encrypt + decrypt of the question ({characters} characters) "
        f"{raw['encrypt_decrypt']:.1f} µs; a submission's vault work (encrypt question and "
        f"patient, pseudonym) {raw['submission']:.1f} µs; the response's (decrypt both) "
        f"{raw['response']:.1f} µs (tight loops, best of three); the same calls timed in place "
        f"during {METERED} more submissions with the real vault: {in_place}; "
        f"{stream_costs(max(SIZES))}."
    )
    tables = [Table(SUBMISSION_HEADER, subs), Table(ATTACHMENT_HEADER, atts, left=2)]
    if not reset:
        note += " The kernel refused to reset VmHWM: peaks are cumulative since the server started."
    return Report(tables, [note])


if __name__ == "__main__":
    sys.exit(main("bench.encryption", __doc__, TITLE, options, measure))
