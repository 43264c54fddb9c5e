"""Téléexpertise requests: submission, the specialist's queue, answers and history."""

import uuid
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Schema
from litestar.params import FromPath, JSONBody, MultipartBody, QueryParameter
from litestar.response import Stream

from app.auth import requires
from app.dependencies import CurrentUser, DbSession, Keys, Now, Policy
from app.openapi import ProblemOperation
from app.services import attachments, messages, request_history
from app.services import request_view as view
from app.services import requests as service
from config import Settings
from models import (
    AnswerCreate,
    AssignCreate,
    AttachmentRead,
    CloseCreate,
    DeclineCreate,
    EventRead,
    MessageCreate,
    MessageRead,
    RequestCreate,
    RequestPage,
    RequestRead,
    Role,
    Status,
)

RequestId = FromPath[uuid.UUID]


@dataclass
class AttachmentUpload:
    file: UploadFile


# Far beyond any ESS's history, and well inside a 64-bit integer (the databases' limit).
MAX_OFFSET = 10_000_000


class AttachmentDownload(ProblemOperation):
    """The download answers the file in its own type, as recognised at upload."""

    success = OpenAPIResponse(
        description="Le fichier, dans son type (PDF, JPEG ou PNG).",
        content={
            content_type: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, format="binary"))
            for _, content_type, _ in attachments.SIGNATURES
        },
    )


class RequestController(Controller):
    path = "/requests"
    tags = ["demandes"]

    @post("/", guards=[requires(Role.REQUESTER)])
    async def submit(
        self,
        data: JSONBody[RequestCreate],
        session: DbSession,
        now: Now,
        policy: Policy,
        vault: Keys,
        current_user: CurrentUser,
    ) -> RequestRead:
        """Submit a request for a specialist opinion; it is dispatched at once."""
        request = await service.submit(
            session, current_user, data, now=now, policy=policy, vault=vault
        )
        return await view.present(session, request, current_user, vault)

    @get("/")
    async def list_requests(
        self,
        session: DbSession,
        now: Now,
        vault: Keys,
        current_user: CurrentUser,
        status: Annotated[Status | None, QueryParameter(name="status", required=False)] = None,
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(name="offset", ge=0, le=MAX_OFFSET)] = 0,
    ) -> RequestPage:
        """List the requests the caller may see, newest first."""
        # A write session: each clinical read goes into the audit trail.
        return await view.read_page(
            session, current_user, status=status, limit=limit, offset=offset, now=now, vault=vault
        )

    @get("/{request_id:uuid}")
    async def get_request(
        self,
        request_id: RequestId,
        session: DbSession,
        now: Now,
        vault: Keys,
        current_user: CurrentUser,
    ) -> RequestRead:
        """Return one request."""
        return await view.read_one(session, current_user, request_id, now=now, vault=vault)

    @post("/{request_id:uuid}/accept", status_code=200, guards=[requires(Role.SPECIALIST)])
    async def accept(
        self,
        request_id: RequestId,
        session: DbSession,
        now: Now,
        vault: Keys,
        current_user: CurrentUser,
    ) -> RequestRead:
        """Accept a request assigned to you."""
        request = await service.accept(session, current_user, request_id, now=now)
        return await view.present(session, request, current_user, vault)

    @post("/{request_id:uuid}/decline", status_code=200, guards=[requires(Role.SPECIALIST)])
    async def decline(
        self,
        request_id: RequestId,
        data: JSONBody[DeclineCreate],
        session: DbSession,
        now: Now,
        policy: Policy,
        vault: Keys,
        current_user: CurrentUser,
    ) -> RequestRead:
        """Decline a request; it goes to another specialist, never back to you."""
        request = await service.decline(
            session, current_user, request_id, data, now=now, policy=policy, vault=vault
        )
        return await view.present(session, request, current_user, vault)

    @post("/{request_id:uuid}/answer", status_code=200, guards=[requires(Role.SPECIALIST)])
    async def answer(
        self,
        request_id: RequestId,
        data: JSONBody[AnswerCreate],
        session: DbSession,
        now: Now,
        policy: Policy,
        vault: Keys,
        current_user: CurrentUser,
    ) -> RequestRead:
        """Give the specialist opinion."""
        request = await service.answer(
            session, current_user, request_id, data, now=now, policy=policy, vault=vault
        )
        return await view.present(session, request, current_user, vault)

    @post("/{request_id:uuid}/close", status_code=200, guards=[requires(Role.REQUESTER)])
    async def close(
        self,
        request_id: RequestId,
        data: JSONBody[CloseCreate],
        session: DbSession,
        now: Now,
        vault: Keys,
        current_user: CurrentUser,
    ) -> RequestRead:
        """Close an answered request with the close-out feedback."""
        request = await service.close(session, current_user, request_id, data, now=now, vault=vault)
        return await view.present(session, request, current_user, vault)

    @post("/{request_id:uuid}/cancel", status_code=200, guards=[requires(Role.REQUESTER)])
    async def cancel(
        self,
        request_id: RequestId,
        session: DbSession,
        now: Now,
        policy: Policy,
        vault: Keys,
        current_user: CurrentUser,
    ) -> RequestRead:
        """Cancel a request that has not been answered yet."""
        request = await service.cancel(session, current_user, request_id, now=now, policy=policy)
        return await view.present(session, request, current_user, vault)

    @post("/{request_id:uuid}/assign", status_code=200, guards=[requires(Role.COORDINATOR)])
    async def assign(
        self,
        request_id: RequestId,
        data: JSONBody[AssignCreate],
        session: DbSession,
        now: Now,
        policy: Policy,
        vault: Keys,
        current_user: CurrentUser,
    ) -> RequestRead:
        """Assign a request by hand (capacity may be exceeded; the event says so)."""
        request = await service.assign_manually(
            session, current_user, request_id, data.assignee_id, now=now, policy=policy
        )
        return await view.present(session, request, current_user, vault)

    @get("/{request_id:uuid}/events")
    async def events(
        self,
        request_id: RequestId,
        session: DbSession,
        now: Now,
        vault: Keys,
        current_user: CurrentUser,
    ) -> list[EventRead]:
        """The request's history: the dispatcher's reasons for the coordinator only."""
        # A write session: the history's clinical comments go into the audit trail.
        return await request_history.history(
            session, current_user, request_id, now=now, vault=vault
        )

    @get("/{request_id:uuid}/messages", guards=[requires(Role.REQUESTER, Role.SPECIALIST)])
    async def list_messages(
        self,
        request_id: RequestId,
        session: DbSession,
        now: Now,
        vault: Keys,
        current_user: CurrentUser,
    ) -> list[MessageRead]:
        """The secure conversation between the requester and the assignee."""
        return await messages.list_messages(session, current_user, request_id, now=now, vault=vault)

    @post("/{request_id:uuid}/messages", guards=[requires(Role.REQUESTER, Role.SPECIALIST)])
    async def post_message(
        self,
        request_id: RequestId,
        data: JSONBody[MessageCreate],
        session: DbSession,
        now: Now,
        policy: Policy,
        vault: Keys,
        current_user: CurrentUser,
    ) -> MessageRead:
        """Write to the other side; ``request_info`` (assignee) waits for the requester."""
        return await messages.post_message(
            session, current_user, request_id, data, now=now, policy=policy, vault=vault
        )

    @get("/{request_id:uuid}/attachments", guards=[requires(Role.REQUESTER, Role.SPECIALIST)])
    async def list_attachments(
        self,
        request_id: RequestId,
        session: DbSession,
        now: Now,
        vault: Keys,
        current_user: CurrentUser,
    ) -> list[AttachmentRead]:
        """The request's attachments, oldest first (the requester and the assignee only)."""
        # A write session: the file names are clinical, their reading is audited.
        return await attachments.list_attachments(
            session, current_user, request_id, now=now, vault=vault
        )

    @post(
        "/{request_id:uuid}/attachments",
        guards=[requires(Role.REQUESTER, Role.SPECIALIST)],
        name="upload_attachment",  # app.body.allow_uploads gives it the attachment limit
    )
    async def upload_attachment(
        self,
        request_id: RequestId,
        data: MultipartBody[AttachmentUpload],
        session: DbSession,
        now: Now,
        vault: Keys,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> AttachmentRead:
        """Attach a photograph (JPEG, PNG) or a PDF; stored encrypted."""
        upload = data.file
        try:
            return await attachments.upload(
                session,
                current_user,
                request_id,
                filename=upload.filename,
                source=upload.file,
                now=now,
                vault=vault,
                directory=settings.attachments_dir(),
                limit=settings.attachment_max_bytes,
            )
        finally:
            await upload.close()

    @get(
        "/{request_id:uuid}/attachments/{attachment_id:uuid}",
        guards=[requires(Role.REQUESTER, Role.SPECIALIST)],
        operation_class=AttachmentDownload,
    )
    async def download_attachment(
        self,
        request_id: RequestId,
        attachment_id: FromPath[uuid.UUID],
        session: DbSession,
        now: Now,
        vault: Keys,
        settings: NamedDependency[Settings],
        current_user: CurrentUser,
    ) -> Stream:
        """Download an attachment (the requester and the assignee only)."""
        description, content = await attachments.open_for_download(
            session,
            current_user,
            request_id,
            attachment_id,
            now=now,
            vault=vault,
            directory=settings.attachments_dir(),
        )
        disposition = "attachment; filename*=UTF-8''" + quote(
            description.filename or "piece-jointe"
        )
        return Stream(
            content,
            media_type=description.content_type,
            headers={
                "Content-Disposition": disposition,
                "Content-Length": str(description.size),
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )
