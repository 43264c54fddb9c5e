"""Key rotation, online: a new key-encryption key, and every data key re-wrapped under it.

Content ciphertexts are not touched: only the small wrapped data key at the head of
each value (or attachment file) changes. The key file is saved with the new key
before any value is re-wrapped, so a rotation interrupted half-way leaves every
value readable (by the old key or the new) and can simply be run again.

Running servers read the key file again when it is replaced (``security.keyfile.KeyFile``)
and say in ``key_holder`` which keys they hold, with a heartbeat: a rotation waits
for them to encrypt under the new key before re-wrapping, and a key is retired only
when no live server encrypts under it and no stored value is wrapped by it.
"""

import asyncio
import logging
import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update

from config import Clock
from models import (
    AnswerDraft,
    AnswerTemplate,
    Attachment,
    KeyHolder,
    Message,
    Request,
    RequestDecline,
    UserTotp,
)
from models.storage import Database
from security.crypto import KeyRing
from security.envelope import STREAM_HEADER_SIZE, DecryptionError
from security.files import partial_file
from security.vault import Vault

logger = logging.getLogger("ess_router.security")

# Every encrypted column, by table.
ENCRYPTED: list[tuple[Any, list[str]]] = [
    (Request, ["question", "patient", "answer", "close_comment"]),
    (Message, ["body"]),
    (Attachment, ["filename"]),
    (RequestDecline, ["comment"]),
    (UserTotp, ["secret"]),
    (AnswerDraft, ["content"]),
    (AnswerTemplate, ["title", "body"]),
]
BATCH = 500


async def count_encrypted(db: Database, attachments_dir: Path) -> int:
    total = 0
    async with db.reading() as session:
        for model, _ in ENCRYPTED:
            total += (await session.execute(select(func.count()).select_from(model))).scalar_one()
    return total + len(attachment_files(attachments_dir))


async def rewrap_all(
    db: Database, keyring: KeyRing, attachments_dir: Path, advance: Callable[[int], None]
) -> int:
    """Re-wrap every stored data key under the active key; return how many changed."""
    changed = 0
    for model, columns in ENCRYPTED:
        after = None
        while True:
            async with db.transaction() as session:
                query = select(model.id, *(getattr(model, c) for c in columns)).order_by(model.id)
                if after is not None:
                    query = query.where(model.id > after)
                rows = (await session.execute(query.limit(BATCH))).all()
                if not rows:
                    break
                for row in rows:
                    values, unchanged = {}, [model.id == row[0]]
                    for column, blob in zip(columns, row[1:], strict=True):
                        if blob is not None and keyring.needs_rewrap(blob):
                            values[column] = keyring.rewrap(blob)
                            # Only if nobody rewrote the value meanwhile (servers keep running).
                            unchanged.append(getattr(model, column) == blob)
                    if values:
                        await session.execute(update(model).where(*unchanged).values(**values))
                        changed += 1
                after = rows[-1][0]
            advance(len(rows))
    for path in attachment_files(attachments_dir):
        if _rewrap_file(keyring, path):
            changed += 1
        advance(1)
    return changed


def _rewrap_file(keyring: KeyRing, path: Path) -> bool:
    with path.open("rb") as source:
        header = source.read(STREAM_HEADER_SIZE)
        if not keyring.needs_rewrap(header):
            return False
        partial = path.with_suffix(".rewrap")
        partial.unlink(missing_ok=True)  # left by an interrupted rotation of this file
        with partial_file(partial) as target:
            target.write(keyring.rewrap_stream_header(header))
            shutil.copyfileobj(source, target, 1024 * 1024)
            target.flush()
            os.fsync(target.fileno())
            partial.replace(path)
    return True


async def stored_under(db: Database, version: int, attachments_dir: Path) -> int:
    """Count stored values (fields and attachment files) whose data key ``version`` wraps."""
    count = 0
    for model, columns in ENCRYPTED:
        async with db.reading() as session:
            rows = await session.execute(select(*(getattr(model, c) for c in columns)))
            for row in rows:
                count += any(b is not None and _wrapped_by(b) == version for b in row)
    for path in attachment_files(attachments_dir):
        with path.open("rb") as source:
            count += _wrapped_by(source.read(STREAM_HEADER_SIZE)) == version
    return count


def _wrapped_by(blob: bytes) -> int | None:
    try:
        return KeyRing.wrapped_by(blob)
    except DecryptionError:
        return None  # not a ciphertext this ring could ever open: depends on no key


def attachment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.enc")) if directory.exists() else []


# -- running servers ------------------------------------------------------------------

HEARTBEAT_SECONDS = 10.0
"""How often a server says it is alive (and at once when its keys change)."""
LIVE_WITHIN = timedelta(seconds=3 * HEARTBEAT_SECONDS + 5)
"""A server not heard of for longer is presumed stopped (killed without a goodbye)."""
FORGET_AFTER = timedelta(days=1)
CHECK_SECONDS = 1.0


async def report_holding(db: Database, holder: KeyHolder) -> None:
    """Record what ``holder`` holds now, and forget servers long gone."""
    async with db.transaction() as session:
        await session.execute(
            delete(KeyHolder).where(KeyHolder.seen_at < holder.seen_at - FORGET_AFTER)
        )
        await session.merge(holder)


async def forget_holder(db: Database, holder_id: str) -> None:
    async with db.transaction() as session:
        await session.execute(delete(KeyHolder).where(KeyHolder.id == holder_id))


async def live_holders(db: Database, now: datetime) -> list[KeyHolder]:
    """The servers heard of lately, oldest first."""
    async with db.reading() as session:
        rows = await session.execute(
            select(KeyHolder).where(KeyHolder.seen_at >= now - LIVE_WITHIN).order_by(KeyHolder.id)
        )
        return list(rows.scalars())


async def wait_for_take_up(
    db: Database, version: int, clock: Clock, *, within: float
) -> list[KeyHolder]:
    """Wait until every live server encrypts under ``version``; return those that still do not."""
    deadline = time.monotonic() + within
    while True:
        lagging = [h for h in await live_holders(db, clock.now()) if h.active_version != version]
        if not lagging or time.monotonic() >= deadline:
            return lagging
        await asyncio.sleep(0.2)


def describe(holders: list[KeyHolder]) -> str:
    """Name servers for the operator: ``host (pid N, clé active V)``."""
    return ", ".join(f"{h.host} (pid {h.pid}, clé active {h.active_version})" for h in holders)


class KeyHeartbeat:
    """Says in ``key_holder`` which keys this server holds, until it stops."""

    def __init__(self, db: Database, vault: Vault, clock: Clock) -> None:
        self.db = db
        self.vault = vault
        self.clock = clock
        host = socket.gethostname()[:60]
        self.id = f"{host}:{os.getpid()}:{secrets.token_hex(6)}"
        self.host = host

    async def run(self, stop: asyncio.Event) -> None:
        """Report at once, on every change of keys, and every heartbeat; forget on stop."""
        reported: tuple[int, tuple[int, ...]] | None = None
        last = 0.0
        while not stop.is_set():
            try:
                # Reading the keys also takes up a rotation on a server nobody is using.
                ring = self.vault.keyring
                held = (ring.active_version, ring.versions)
                if held != reported or time.monotonic() - last >= HEARTBEAT_SECONDS:
                    await report_holding(self.db, self._holder(*held))
                    reported, last = held, time.monotonic()
            except Exception:
                logger.exception("key heartbeat failed; the next round tries again")
            try:
                await asyncio.wait_for(stop.wait(), timeout=CHECK_SECONDS)
            except TimeoutError:
                pass
        try:
            await forget_holder(self.db, self.id)
        except Exception:
            logger.exception("could not remove this server from key_holder")

    def _holder(self, active: int, versions: tuple[int, ...]) -> KeyHolder:
        return KeyHolder(
            id=self.id,
            host=self.host,
            pid=os.getpid(),
            active_version=active,
            versions=list(versions),
            seen_at=self.clock.now(),
        )
