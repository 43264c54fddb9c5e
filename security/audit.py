"""Checking the audit trail's hash chain (``ess-router audit verify``)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import select

from models.audit import GENESIS, AuditEntry, entry_hash
from models.storage import Database


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str


async def verify(db: Database, *, batch: int = 5000) -> tuple[int, Break | None]:
    """Walk the chain in order; return how many entries are sound and the first break."""
    checked = 0
    previous = GENESIS
    async for entry in _entries(db, batch):
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
        checked += 1
    return checked, None


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
