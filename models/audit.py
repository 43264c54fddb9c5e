"""The audit trail: append-only entries, each carrying the SHA-256 of the previous one.

Code anywhere notes an entry with :func:`note` (no I/O, callable from synchronous
helpers such as ``models.history.record``); the entries are chained and inserted
just before the transaction commits, after taking the chain's lock (an advisory lock
on PostgreSQL; SQLite writers are already serial), so the chain never forks and an
entry exists exactly when the access or change it records was committed.
:func:`verify` walks the chain again (``ess-router audit verify``) with the same
:func:`entry_hash`: the chain is written and checked in this one module.
"""

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Index, event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from models.storage import Database

GENESIS = "0" * 64
_PENDING = "audit_pending"


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_request", "request_id"),)

    seq: int | None = Field(default=None, primary_key=True)
    at: datetime
    actor_id: uuid.UUID | None = None
    action: str = Field(max_length=40)
    request_id: uuid.UUID | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


def entry_hash(
    prev_hash: str,
    *,
    at: datetime,
    actor_id: uuid.UUID | None,
    action: str,
    request_id: uuid.UUID | None,
    detail: dict[str, Any],
) -> str:
    canonical = json.dumps(
        {
            "prev": prev_hash,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": str(actor_id) if actor_id else None,
            "action": action,
            "request": str(request_id) if request_id else None,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def note(
    session: AsyncSession | Session,
    *,
    at: datetime,
    actor_id: uuid.UUID | None,
    action: str,
    request_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record that something was read or changed; written when the transaction commits."""
    session.info.setdefault(_PENDING, []).append(
        {
            "at": at,
            "actor_id": actor_id,
            "action": action,
            "request_id": request_id,
            "detail": detail or {},
        }
    )


# Built once: a statement made anew at every commit is compiled-cache-keyed anew.
_HEAD = select(AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
_APPEND = insert(AuditEntry.__table__)  # type: ignore[arg-type]


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('audit-chain'))"))
    previous = session.execute(_HEAD).scalar_one_or_none() or GENESIS
    rows = []
    for entry in pending:
        digest = entry_hash(previous, **entry)
        rows.append({**entry, "prev_hash": previous, "hash": digest})
        previous = digest
    # Core, not the ORM's bulk insert: every row has the same keys, so this is one
    # statement (the ORM would split the rows whose actor is unknown).
    session.connection().execute(_APPEND, rows)


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str
    truncated: bool = False


async def verify(
    db: Database, *, batch: int = 5000, reach: tuple[int, str] | None = None
) -> tuple[int, Break | None]:
    """Walk the chain in order; return how many entries are sound and the first break.

    ``reach``: the (sequence number, hash) of an entry the chain must hold, the head
    checkpointed outside the database; missing, the newest entries were cut off.
    """
    checked = 0
    previous = GENESIS
    last = 0
    reached = reach is None
    async for entry in _entries(db, batch):
        if reach is not None and entry.seq == reach[0]:
            if entry.hash != reach[1]:
                return checked, Break(
                    reach[0],
                    f"l'entrée n° {reach[0]} diffère de celle qu'atteste le point de contrôle",
                    truncated=True,
                )
            reached = True
        if entry.prev_hash != previous:
            return checked, Break(entry.seq or 0, "le lien avec l'entrée précédente est rompu")
        expected = entry_hash(
            entry.prev_hash,
            at=entry.at,
            actor_id=entry.actor_id,
            action=entry.action,
            request_id=entry.request_id,
            detail=entry.detail,
        )
        if expected != entry.hash:
            return checked, Break(entry.seq or 0, "le contenu de l'entrée a été modifié")
        previous = entry.hash
        last = entry.seq or last
        checked += 1
    if not reached:
        assert reach is not None
        return checked, Break(
            reach[0],
            f"la chaîne s'arrête à l'entrée n° {last}, le point de contrôle atteste l'entrée "
            f"n° {reach[0]} : les entrées n° {last + 1} à {reach[0]} au moins ont été supprimées",
            truncated=True,
        )
    return checked, None


async def head(db: Database) -> tuple[int, str] | None:
    """Return the newest entry's sequence number and hash, None while the chain is empty."""
    async with db.reading() as session:
        row = (
            await session.execute(
                select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
            )
        ).first()
    return None if row is None else (row[0], row[1])


async def holds(db: Database, seq: int, digest: str) -> bool:
    """Say whether the chain still holds entry ``seq`` with hash ``digest``."""
    async with db.reading() as session:
        found = await session.execute(select(AuditEntry.hash).where(AuditEntry.seq == seq))
        return found.scalar_one_or_none() == digest


async def _entries(db: Database, batch: int) -> AsyncIterator[AuditEntry]:
    after = 0
    while True:
        async with db.reading() as session:
            rows = (
                (
                    await session.execute(
                        select(AuditEntry)
                        .where(AuditEntry.seq > after)
                        .order_by(AuditEntry.seq)
                        .limit(batch)
                    )
                )
                .scalars()
                .all()
            )
        if not rows:
            return
        for row in rows:
            yield row
        after = rows[-1].seq or after
