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
from app.context import AppContext
from app.openapi import ProblemOperation
from app.services import attachments, messages, request_history
from app.services import requests as service
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
    User,
)

Context = NamedDependency[AppContext]


@dataclass
class AttachmentUpload:
    file: UploadFile


CurrentUser = NamedDependency[User]
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
        self, data: JSONBody[RequestCreate], context: Context, current_user: CurrentUser
    ) -> RequestRead:
        """Submit a request for a specialist opinion; it is dispatched at once."""
        async with context.db.transaction() as session:
            request = await service.submit(
                session,
                current_user,
                data,
                now=context.clock.now(),
                policy=context.policy,
                vault=context.vault,
            )
        return service.to_read(request, current_user, context.vault)

    @get("/")
    async def list_requests(
        self,
        context: Context,
        current_user: CurrentUser,
        status: Annotated[Status | None, QueryParameter(name="status", required=False)] = None,
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(name="offset", ge=0, le=MAX_OFFSET)] = 0,
    ) -> RequestPage:
        """List the requests the caller may see, newest first."""
        async with context.db.transaction() as session:
            return await service.read_page(
                session,
                current_user,
                status=status,
                limit=limit,
                offset=offset,
                now=context.clock.now(),
                vault=context.vault,
            )

    @get("/{request_id:uuid}")
    async def get_request(
        self, request_id: FromPath[uuid.UUID], context: Context, current_user: CurrentUser
    ) -> RequestRead:
        """Return one request."""
        async with context.db.transaction() as session:
            return await service.read_one(
                session, current_user, request_id, now=context.clock.now(), vault=context.vault
            )

    @post("/{request_id:uuid}/accept", status_code=200, guards=[requires(Role.SPECIALIST)])
    async def accept(
        self, request_id: FromPath[uuid.UUID], context: Context, current_user: CurrentUser
    ) -> RequestRead:
        """Accept a request assigned to you."""
        async with context.db.transaction() as session:
            request = await service.accept(
                session, current_user, request_id, now=context.clock.now()
            )
        return service.to_read(request, current_user, context.vault)

    @post("/{request_id:uuid}/decline", status_code=200, guards=[requires(Role.SPECIALIST)])
    async def decline(
        self,
        request_id: FromPath[uuid.UUID],
        data: JSONBody[DeclineCreate],
        context: Context,
        current_user: CurrentUser,
    ) -> RequestRead:
        """Decline a request; it goes to another specialist, never back to you."""
        async with context.db.transaction() as session:
            request = await service.decline(
                session,
                current_user,
                request_id,
                data,
                now=context.clock.now(),
                policy=context.policy,
                vault=context.vault,
            )
        return service.to_read(request, current_user, context.vault)

    @post("/{request_id:uuid}/answer", status_code=200, guards=[requires(Role.SPECIALIST)])
    async def answer(
        self,
        request_id: FromPath[uuid.UUID],
        data: JSONBody[AnswerCreate],
        context: Context,
        current_user: CurrentUser,
    ) -> RequestRead:
        """Give the specialist opinion."""
        async with context.db.transaction() as session:
            request = await service.answer(
                session,
                current_user,
                request_id,
                data,
                now=context.clock.now(),
                policy=context.policy,
                vault=context.vault,
            )
        return service.to_read(request, current_user, context.vault)

    @post("/{request_id:uuid}/close", status_code=200, guards=[requires(Role.REQUESTER)])
    async def close(
        self,
        request_id: FromPath[uuid.UUID],
        data: JSONBody[CloseCreate],
        context: Context,
        current_user: CurrentUser,
    ) -> RequestRead:
        """Close an answered request with the close-out feedback."""
        async with context.db.transaction() as session:
            request = await service.close(
                session,
                current_user,
                request_id,
                data,
                now=context.clock.now(),
                vault=context.vault,
            )
        return service.to_read(request, current_user, context.vault)

    @post("/{request_id:uuid}/cancel", status_code=200, guards=[requires(Role.REQUESTER)])
    async def cancel(
        self, request_id: FromPath[uuid.UUID], context: Context, current_user: CurrentUser
    ) -> RequestRead:
        """Cancel a request that has not been answered yet."""
        async with context.db.transaction() as session:
            request = await service.cancel(
                session,
                current_user,
                request_id,
                now=context.clock.now(),
                policy=context.policy,
            )
        return service.to_read(request, current_user, context.vault)

    @post("/{request_id:uuid}/assign", status_code=200, guards=[requires(Role.COORDINATOR)])
    async def assign(
        self,
        request_id: FromPath[uuid.UUID],
        data: JSONBody[AssignCreate],
        context: Context,
        current_user: CurrentUser,
    ) -> RequestRead:
        """Assign a request by hand (capacity may be exceeded; the event says so)."""
        async with context.db.transaction() as session:
            request = await service.assign_manually(
                session,
                current_user,
                request_id,
                data.assignee_id,
                now=context.clock.now(),
                policy=context.policy,
            )
        return service.to_read(request, current_user, context.vault)

    @get("/{request_id:uuid}/events")
    async def events(
        self, request_id: FromPath[uuid.UUID], context: Context, current_user: CurrentUser
    ) -> list[EventRead]:
        """The request's history: the dispatcher's reasons for the coordinator only."""
        async with context.db.transaction() as session:
            return await request_history.history(
                session, current_user, request_id, now=context.clock.now(), vault=context.vault
            )

    @get("/{request_id:uuid}/messages", guards=[requires(Role.REQUESTER, Role.SPECIALIST)])
    async def list_messages(
        self, request_id: FromPath[uuid.UUID], context: Context, current_user: CurrentUser
    ) -> list[MessageRead]:
        """The secure conversation between the requester and the assignee."""
        async with context.db.transaction() as session:
            return await messages.list_messages(
                session, current_user, request_id, now=context.clock.now(), vault=context.vault
            )

    @post("/{request_id:uuid}/messages", guards=[requires(Role.REQUESTER, Role.SPECIALIST)])
    async def post_message(
        self,
        request_id: FromPath[uuid.UUID],
        data: JSONBody[MessageCreate],
        context: Context,
        current_user: CurrentUser,
    ) -> MessageRead:
        """Write to the other side; ``request_info`` (assignee) waits for the requester."""
        async with context.db.transaction() as session:
            return await messages.post_message(
                session,
                current_user,
                request_id,
                data,
                now=context.clock.now(),
                policy=context.policy,
                vault=context.vault,
            )

    @post(
        "/{request_id:uuid}/attachments",
        guards=[requires(Role.REQUESTER, Role.SPECIALIST)],
        name="upload_attachment",  # app.body.allow_uploads gives it the attachment limit
    )
    async def upload_attachment(
        self,
        request_id: FromPath[uuid.UUID],
        data: MultipartBody[AttachmentUpload],
        context: Context,
        current_user: CurrentUser,
    ) -> AttachmentRead:
        """Attach a photograph (JPEG, PNG) or a PDF; stored encrypted."""
        upload = data.file
        try:
            async with context.db.transaction() as session:
                return await attachments.upload(
                    session,
                    current_user,
                    request_id,
                    filename=upload.filename,
                    source=upload.file,
                    now=context.clock.now(),
                    vault=context.vault,
                    directory=context.settings.attachments_dir(),
                    limit=context.settings.attachment_max_bytes,
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
        request_id: FromPath[uuid.UUID],
        attachment_id: FromPath[uuid.UUID],
        context: Context,
        current_user: CurrentUser,
    ) -> Stream:
        """Download an attachment (the requester and the assignee only)."""
        async with context.db.transaction() as session:
            description, content = await attachments.open_for_download(
                session,
                current_user,
                request_id,
                attachment_id,
                now=context.clock.now(),
                vault=context.vault,
                directory=context.settings.attachments_dir(),
            )
        disposition = "attachment; filename*=UTF-8''" + quote(description.filename)
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
