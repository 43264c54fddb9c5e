"""Request bodies: the size each route accepts, and JSON a client cannot choke us with."""

from typing import Any

from litestar import Litestar, Request

from app.errors import problem

# The largest legitimate JSON body is a submission: a 20 000-character question
# (``models.request.TEXT_MAX_LENGTH``) that a client may send as ``\\uXXXX`` escapes,
# 12 bytes per character outside the BMP, so 240 000 bytes, plus the patient's identity.
JSON_MAX_BYTES = 256 * 1024
# Multipart framing around an uploaded file: boundaries, part headers, the file name.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
UPLOAD_HANDLER = "upload_attachment"


class JsonRequest(Request[Any, Any, Any]):
    """A request whose JSON nested deeper than the decoder's stack is a client error."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            # msgspec gives up at Python's recursion limit (about a thousand levels).
            raise problem(
                400, "Le corps de la requête est un JSON imbriqué trop profondément."
            ) from None


def allow_uploads(app: Litestar, attachment_max_bytes: int) -> None:
    """Raise the body limit of the upload route, alone, to the attachment limit.

    The limit is a setting, known when the app is built, not when the handler is
    declared; the app holds its own copy of each handler, so this touches no other app.
    """
    index = app.get_handler_index_by_name(UPLOAD_HANDLER)
    assert index is not None, f"no route handler named {UPLOAD_HANDLER}"
    index["handler"].request_max_body_size = attachment_max_bytes + MULTIPART_OVERHEAD_BYTES
