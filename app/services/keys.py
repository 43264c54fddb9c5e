"""Key rotation: a new key-encryption key, and every data key re-wrapped under it.

Content ciphertexts are not touched: only the small wrapped data key at the head of
each value (or attachment file) changes. The key file is saved with the new key
before any value is re-wrapped, so a rotation interrupted half-way leaves every
value readable (by the old key or the new) and can simply be run again.
"""

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from models import Attachment, Message, Request, RequestDecline
from models.storage import Database
from security.crypto import KeyRing
from security.envelope import STREAM_HEADER_SIZE

# Every encrypted column, by table.
ENCRYPTED: list[tuple[Any, list[str]]] = [
    (Request, ["question", "patient", "answer", "close_comment"]),
    (Message, ["body"]),
    (Attachment, ["filename"]),
    (RequestDecline, ["comment"]),
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
                    values = {}
                    for column, blob in zip(columns, row[1:], strict=True):
                        if blob is not None and keyring.needs_rewrap(blob):
                            values[column] = keyring.rewrap(blob)
                    if values:
                        await session.execute(
                            update(model).where(model.id == row[0]).values(**values)
                        )
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
        with partial.open("wb") as target:
            target.write(keyring.rewrap_stream_header(header))
            shutil.copyfileobj(source, target, 1024 * 1024)
            target.flush()
            os.fsync(target.fileno())
    partial.replace(path)
    return True


async def still_under_old_keys(db: Database, keyring: KeyRing, attachments_dir: Path) -> int:
    """Count stored values not yet wrapped by the active key."""
    left = 0
    for model, columns in ENCRYPTED:
        async with db.reading() as session:
            rows = await session.execute(select(*(getattr(model, c) for c in columns)))
            for row in rows:
                left += any(b is not None and keyring.needs_rewrap(b) for b in row)
    for path in attachment_files(attachments_dir):
        left += _needs_rewrap_file(keyring, path)
    return left


def attachment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.enc")) if directory.exists() else []


def _needs_rewrap_file(keyring: KeyRing, path: Path) -> bool:
    with path.open("rb") as source:
        return keyring.needs_rewrap(source.read(STREAM_HEADER_SIZE))
