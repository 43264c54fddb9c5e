"""Attachments: photographs and documents, checked by content, stored encrypted, streamed."""

import asyncio
import logging
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.people import reference
from app.services.requests import get_visible, shows_clinical_content
from models import (
    FINAL,
    Attachment,
    AttachmentRead,
    EventKind,
    NotificationKind,
    Request,
    Role,
    Unreadable,
    User,
    enqueue,
)
from models.audit import note
from models.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    TooLargeError,
    UnsupportedMediaError,
)
from models.history import record
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
    """Store a participant's file, encrypted, after checking its type by content.

    The upload goes into the request's history (the file name stays encrypted: the
    participants' view reads it from the attachment) and the other participant is told.
    """
    _check_participant(viewer)
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
    record(
        session,
        request,
        EventKind.ATTACHMENT_ADDED,
        at=now,
        actor_id=viewer.id,
        detail={"attachment_id": str(attachment_id), "content_type": content_type, "size": size},
    )
    recipient = request.requester_id if viewer.role == Role.SPECIALIST else request.assignee_id
    if recipient is not None:  # nobody holds a pending request yet: nobody to tell
        enqueue(
            session,
            NotificationKind.NEW_ATTACHMENT,
            recipient_id=recipient,
            request_id=request.id,
            now=now,
            params={"reference": request.reference},
        )
    await session.flush()
    return AttachmentRead(
        id=attachment_id,
        author_id=viewer.id,
        uploaded_by=reference(request, viewer.id, viewer.name, viewer.role),
        filename=name,
        content_type=content_type,
        size=size,
        created_at=now,
    )


def _check_participant(viewer: User) -> None:
    if not shows_clinical_content(viewer):
        raise PermissionDeniedError(
            "Les pièces jointes sont réservées au demandeur et au spécialiste de la demande."
        )


def _describe(
    attachment: Attachment, request: Request, author: tuple[str, str], vault: Vault
) -> AttachmentRead:
    unreadable: list[str] = []
    name = vault.decrypt_or_note(
        "attachment", attachment.id, "filename", attachment.filename, unreadable
    )
    return AttachmentRead(
        id=attachment.id,
        author_id=attachment.author_id,
        uploaded_by=reference(request, attachment.author_id, *author),
        filename=name,
        content_type=attachment.content_type,
        size=attachment.size,
        created_at=attachment.created_at,
        unreadable=Unreadable.of(unreadable),
    )


async def list_attachments(
    session: AsyncSession, viewer: User, request_id: uuid.UUID, *, now: datetime, vault: Vault
) -> list[AttachmentRead]:
    """The request's attachments, oldest first (their names are clinical: audited)."""
    _check_participant(viewer)
    request = await get_visible(session, viewer, request_id)
    rows = await session.execute(
        select(Attachment, User.name, User.role)
        .join(User, User.id == Attachment.author_id)
        .where(Attachment.request_id == request.id)
        .order_by(Attachment.created_at, Attachment.id)
    )
    note(session, at=now, actor_id=viewer.id, action="attachment.list", request_id=request.id)
    return [_describe(a, request, (name, role), vault) for a, name, role in rows]


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
    _check_participant(viewer)
    request = await get_visible(session, viewer, request_id)
    found = (
        await session.execute(
            select(Attachment, User.name, User.role)
            .join(User, User.id == Attachment.author_id)
            .where(Attachment.id == attachment_id, Attachment.request_id == request.id)
        )
    ).first()
    if found is None:
        raise NotFoundError("Pièce jointe introuvable.")
    attachment, author_name, author_role = found
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
        uploaded_by=reference(request, attachment.author_id, author_name, author_role),
        filename=name,
        content_type=attachment.content_type,
        size=attachment.size,
        created_at=attachment.created_at,
    )
    return description, content()
