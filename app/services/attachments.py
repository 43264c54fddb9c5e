"""Attachments: photographs and documents, checked by content, stored encrypted, streamed."""

import asyncio
import logging
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession

from app.services.requests import get_visible
from models import FINAL, Attachment, AttachmentRead, User
from models.audit import note
from models.errors import ConflictError, NotFoundError, TooLargeError, UnsupportedMediaError
from security.envelope import DecryptionError
from security.files import partial_file, private_folder
from security.vault import IntegrityError, Vault

logger = logging.getLogger("ess_router.security")

CHUNK = 64 * 1024

# Recognised by their first bytes, whatever the file is called.
SIGNATURES: list[tuple[bytes, str, str]] = [
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"%PDF-", "application/pdf", ".pdf"),
]


def sniff(head: bytes) -> str:
    for signature, content_type, _ in SIGNATURES:
        if head.startswith(signature):
            return content_type
    raise UnsupportedMediaError(
        "Type de fichier non accepté : seuls les photographies JPEG ou PNG et les documents "
        "PDF sont acceptés (vérifié sur le contenu du fichier)."
    )


def _place(attachment_id: uuid.UUID) -> str:
    return f"attachment:{attachment_id}:content"


def _encrypt_to(source: BinaryIO, target: Path, *, vault: Vault, aad: str, limit: int) -> int:
    """Stream ``source`` into ``target`` encrypted; return the plaintext size."""
    size = 0

    def chunks() -> Iterator[bytes]:
        nonlocal size
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise TooLargeError(
                    f"Le fichier dépasse la taille maximale autorisée "
                    f"({limit // (1024 * 1024)} Mo)."
                )
            yield chunk

    private_folder(target.parent)
    partial = target.with_suffix(".part")
    try:
        with partial_file(partial) as out:
            for piece in vault.keyring.encrypt_stream(chunks(), aad=aad.encode()):
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
            # Renamed while still locked: a starting server never takes it for abandoned.
            partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return size


async def upload(
    session: AsyncSession,
    viewer: User,
    request_id: uuid.UUID,
    *,
    filename: str,
    source: BinaryIO,
    now: datetime,
    vault: Vault,
    directory: Path,
    limit: int,
) -> AttachmentRead:
    """Store a participant's file, encrypted, after checking its type by content."""
    request = await get_visible(session, viewer, request_id)
    if request.status in FINAL:
        raise ConflictError("La demande est close : aucune pièce ne peut y être ajoutée.")
    head = source.read(16)
    content_type = sniff(head)
    source.seek(0)
    attachment_id = uuid.uuid4()
    target = directory / f"{attachment_id}.enc"
    size = await asyncio.to_thread(
        _encrypt_to, source, target, vault=vault, aad=_place(attachment_id), limit=limit
    )
    name = Path(filename or "piece-jointe").name[:200] or "piece-jointe"
    attachment = Attachment(
        id=attachment_id,
        request_id=request.id,
        author_id=viewer.id,
        filename=vault.encrypt("attachment", attachment_id, "filename", name),
        content_type=content_type,
        size=size,
        created_at=now,
    )
    session.add(attachment)
    note(
        session,
        at=now,
        actor_id=viewer.id,
        action="attachment.create",
        request_id=request.id,
        detail={"attachment_id": str(attachment_id), "size": size},
    )
    await session.flush()
    return AttachmentRead(
        id=attachment_id,
        author_id=viewer.id,
        filename=name,
        content_type=content_type,
        size=size,
        created_at=now,
    )


def _verify(path: Path, vault: Vault, aad: bytes, attachment_id: uuid.UUID) -> None:
    try:
        with path.open("rb") as source:
            for _ in vault.keyring.decrypt_stream(iter(lambda: source.read(CHUNK), b""), aad=aad):
                pass
    except (DecryptionError, OSError) as exc:
        logger.error("attachment %s unreadable: %s", attachment_id, type(exc).__name__)
        raise IntegrityError(f"attachment:{attachment_id}") from exc


async def open_for_download(
    session: AsyncSession,
    viewer: User,
    request_id: uuid.UUID,
    attachment_id: uuid.UUID,
    *,
    now: datetime,
    vault: Vault,
    directory: Path,
) -> tuple[AttachmentRead, Iterator[bytes]]:
    """Return the attachment's description and a stream of its decrypted bytes."""
    request = await get_visible(session, viewer, request_id)
    attachment = await session.get(Attachment, attachment_id)
    if attachment is None or attachment.request_id != request.id:
        raise NotFoundError("Pièce jointe introuvable.")
    name = vault.decrypt("attachment", attachment.id, "filename", attachment.filename)
    note(
        session,
        at=now,
        actor_id=viewer.id,
        action="attachment.read",
        request_id=request.id,
        detail={"attachment_id": str(attachment_id)},
    )
    path = directory / f"{attachment.id}.enc"
    aad = _place(attachment.id).encode()
    # Check every segment before the first byte leaves: a damaged file is an error
    # response, never a truncated or altered download.
    await asyncio.to_thread(_verify, path, vault, aad, attachment.id)

    def content() -> Iterator[bytes]:
        with path.open("rb") as source:
            pieces = iter(lambda: source.read(CHUNK), b"")
            yield from vault.keyring.decrypt_stream(pieces, aad=aad)

    description = AttachmentRead(
        id=attachment.id,
        author_id=attachment.author_id,
        filename=name,
        content_type=attachment.content_type,
        size=attachment.size,
        created_at=attachment.created_at,
    )
    return description, content()
