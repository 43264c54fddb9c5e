"""The audit chain's anchor outside the database: a keyed checkpoint of its head.

The hash chain shows an entry altered or removed from the middle, but not the newest
entries cut off. So the scheduler's leader writes, at every tick, the head it sees
(sequence number and hash) to a file beside the key file, with an HMAC under a key
derived from the key file (never stored in the database): whoever can rewrite the
database cannot forge the checkpoint. ``audit verify`` then requires the chain to
reach the checkpointed entry. Entries newer than the last tick are not covered.
"""

import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from models import audit
from models.storage import Database
from security.crypto import KeyRing

logger = logging.getLogger("ess_router.security")

PURPOSE = "audit checkpoint"
FORMAT = 1


class AnchorError(Exception):
    """The checkpoint file is unreadable, malformed or fails its HMAC (one French line)."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: datetime


def checkpoint_path(key_file: Path) -> Path:
    """Where the checkpoint lives: beside the key file, not in the database."""
    return key_file.with_name(key_file.name + ".audit-head")


def _mac(ring: KeyRing, seq: int, digest: str, at: str) -> str:
    message = f"{FORMAT}:{seq}:{digest}:{at}".encode()
    return hmac.new(ring.derived_key(PURPOSE), message, hashlib.sha256).hexdigest()


def read(path: Path, ring: KeyRing) -> Checkpoint | None:
    """Return the checkpoint, None if there is none yet, or raise AnchorError."""
    try:
        document = json.loads(path.read_bytes())
        seq, digest, at, mac = document["seq"], document["hash"], document["at"], document["mac"]
        if document["format"] != FORMAT or type(seq) is not int:
            raise ValueError("format")
        checkpoint = Checkpoint(seq, str(digest), datetime.fromisoformat(at))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        raise AnchorError(f"point de contrôle du journal d'audit illisible ({path})") from None
    if not hmac.compare_digest(str(mac), _mac(ring, seq, checkpoint.hash, at)):
        raise AnchorError(f"point de contrôle du journal d'audit falsifié ({path})")
    return checkpoint


def write(path: Path, ring: KeyRing, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint atomically (mode 0600)."""
    at = checkpoint.at.isoformat()
    document = {
        "format": FORMAT,
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "at": at,
        "mac": _mac(ring, checkpoint.seq, checkpoint.hash, at),
    }
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


async def advance(db: Database, ring: KeyRing, path: Path, now: datetime) -> Checkpoint | None:
    """Checkpoint the chain's head, unless the last checkpoint's entry has disappeared.

    A checkpoint whose entry is gone (or whose file fails its HMAC) is evidence: it is
    kept, never moved past the cut, and the error is logged at every tick.
    """
    current = read(path, ring)
    newest = await audit.head(db)
    if newest is None or (current is not None and (current.seq, current.hash) == newest):
        return current
    if current is not None and not await audit.holds(db, current.seq, current.hash):
        logger.error(
            "audit entry %d of the checkpoint is missing or changed: the checkpoint is kept",
            current.seq,
        )
        return current
    checkpoint = Checkpoint(newest[0], newest[1], now)
    write(path, ring, checkpoint)
    return checkpoint
